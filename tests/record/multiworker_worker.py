"""One worker of a two-worker MultiWorkerMirroredStrategy fit on loopback, with
Keras 2 (`tf_keras`: Keras 3's fit does not run under this strategy, see
keras-team/keras#20585); run by test_distribute.py. Prints what Keras logged as
JSON on its last line."""

import json
import os
import sys

import tensorflow as tf
import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from support.keras_fits import digits  # noqa: E402

import epochjump  # noqa: E402


class Recorder(tf_keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batch_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append({k: float(v) for k, v in logs.items()})


def main(log_dir):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x, y = digits(256)
    with strategy.scope():
        tf_keras.utils.set_random_seed(0)
        model = tf_keras.Sequential(
            [
                tf_keras.Input((64,)),
                tf_keras.layers.Dense(16, activation="relu"),
                tf_keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            tf_keras.optimizers.SGD(0.1),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    recorder = Recorder()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    history = model.fit(
        dataset,
        epochs=2,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(log_dir), recorder],
    ).history
    print(json.dumps({"history": history, "batch_logs": recorder.batch_logs}))


if __name__ == "__main__":
    main(sys.argv[1])
