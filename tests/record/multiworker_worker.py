"""One worker of a two-worker MultiWorkerMirroredStrategy fit on loopback, with
Keras 2 (`tf_keras`: Keras 3's fit does not run under this strategy, see
keras-team/keras#20585); run by test_distribute.py. Prints what Keras logged as
JSON on its last line."""

import json
import os
import sys

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from support.keras_fits import digits  # noqa: E402
from support.tf_keras_fits import TfKerasLogRecorder  # noqa: E402
from support.tf_keras_fits import tf_keras_model  # noqa: E402

import epochjump  # noqa: E402


def main(log_dir):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x, y = digits(256)
    with strategy.scope():
        model = tf_keras_model()
    recorder = TfKerasLogRecorder()
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
