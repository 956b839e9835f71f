"""Exactness of EpochJumpCallback on a Keras 2 (`tf_keras`) model; run as a
script by test_backends.py with TF_USE_LEGACY_KERAS=1. Exits non-zero on
failure."""

import os
import sys

import numpy as np
import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import batch_slices  # noqa: E402
from support.keras_fits import check_batch_values  # noqa: E402
from support.keras_fits import check_what_keras_reported  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402
from support.tf_keras_fits import TfKerasLogRecorder  # noqa: E402

BATCH, N = 32, 200


def make_model():
    return dense_model(
        metrics=[
            "accuracy",
            tf_keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
        ],
        weighted_metrics=[],
        keras_module=tf_keras,
    )


def main(log_dir):
    x, y = digits(N + 64)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, N).astype("float32")
    model = make_model()
    recorder = TfKerasLogRecorder()
    callbacks = [epochjump.EpochJumpCallback(log_dir), recorder]
    history = quiet_fit(
        model, x, y, callbacks, BATCH, sample_weight=weights, train_size=N
    )
    run = epochjump.read_run(log_dir)
    per_epoch = -(-N // BATCH)
    assert run.epoch_starts.tolist() == [1, per_epoch + 1], run.epoch_starts
    assert set(run.metrics) == {"loss", "accuracy", "top3"}, run.metrics
    check_what_keras_reported(run, run.metrics, recorder, history)
    clone = make_model()

    def keras_batch_metrics(b, rows):
        clone.set_weights(recorder.weights_before_batch[b])
        return clone.evaluate(
            x[rows],
            y[rows],
            sample_weight=weights[rows],
            batch_size=BATCH,
            verbose=0,
            return_dict=True,
        )

    slices = batch_slices(N, BATCH) * 2
    check_batch_values(run, run.metrics, slices, keras_batch_metrics)
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
