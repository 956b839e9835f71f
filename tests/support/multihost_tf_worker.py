"""One worker of a two-worker `MultiWorkerMirroredStrategy` job on loopback, or
the single-process fit that job must equal; run by test_distribute.py.

    TF_USE_LEGACY_KERAS=1 [TF_CONFIG=...] multihost_tf_worker.py LOG_DIR [WEIGHTS]

With TF_CONFIG (a two-worker cluster) the worker joins the job; without it,
the process fits alone. Keras 2 (`tf_keras`): Keras 3's fit does not run
under this strategy (keras-team/keras#20585). The model starts from
`multihost.initial_weights` and sees the same global batches either way.
WEIGHTS, if given, receives the weights before each batch. Prints the pid,
`History` and Keras's batch logs as JSON on its last line.
"""

import json
import os
import sys

import tensorflow as tf
import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support import multihost  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.tf_keras_fits import TfKerasLogRecorder  # noqa: E402


def main(log_dir, weights_path=None):
    if "TF_CONFIG" in os.environ:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    train, val = multihost.TRAIN, multihost.VAL
    x, y = digits(train + val)

    def batched(start, stop):
        return tf.data.Dataset.from_tensor_slices((x[start:stop], y[start:stop])).batch(
            multihost.GLOBAL_BATCH
        )

    with strategy.scope():
        model = dense_model(keras_module=tf_keras)
    model.set_weights(multihost.initial_weights([w.shape for w in model.get_weights()]))
    recorder = TfKerasLogRecorder()
    history = model.fit(
        batched(0, train),
        epochs=multihost.EPOCHS,
        validation_data=batched(train, train + val),
        verbose=0,
        callbacks=[
            epochjump.EpochJumpCallback(log_dir, train_eval_data=batched(0, val)),
            recorder,
        ],
    ).history
    if weights_path:
        multihost.save_weights(weights_path, recorder.weights_before_batch)
    output = {"pid": os.getpid(), "history": history, "batch_logs": recorder.batch_logs}
    print(json.dumps(output))


if __name__ == "__main__":
    main(*sys.argv[1:])
