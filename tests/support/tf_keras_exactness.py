"""Exactness of EpochJumpCallback on a Keras 2 (`tf_keras`) model; run as a
script by test_backends.py with TF_USE_LEGACY_KERAS=1. Exits non-zero on
failure."""

import os
import sys

import numpy as np
import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.tf_keras_fits import TfKerasLogRecorder  # noqa: E402
from support.tf_keras_fits import tf_keras_model  # noqa: E402

BATCH, N = 32, 200


def make_model():
    return tf_keras_model(
        metrics=[
            "accuracy",
            tf_keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
        ],
        weighted_metrics=[],
    )


def main(log_dir):
    x, y = digits(N + 64)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, N).astype("float32")
    model = make_model()
    recorder = TfKerasLogRecorder()
    history = model.fit(
        x[:N],
        y[:N],
        sample_weight=weights,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(x[N:], y[N:]),
        callbacks=[epochjump.EpochJumpCallback(log_dir), recorder],
    ).history
    run = epochjump.read_run(log_dir)
    per_epoch = -(-N // BATCH)
    assert run.epoch_starts.tolist() == [1, per_epoch + 1], run.epoch_starts
    assert set(run.metrics) == {"loss", "accuracy", "top3"}, run.metrics
    for metric in run.metrics:
        series = run[metric]
        logged = np.array([e[metric] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(series.running_mean, logged)
        for epoch in range(2):
            assert series.running_mean[series.epoch == epoch][-1] == np.float32(
                history[metric][epoch]
            )
        np.testing.assert_array_equal(
            series.val.value, np.float32(history[f"val_{metric}"])
        )
    slices = [slice(i, min(i + BATCH, N)) for i in range(0, N, BATCH)] * 2
    clone = make_model()
    for b, rows in enumerate(slices):
        clone.set_weights(recorder.weights_before_batch[b])
        expected = clone.evaluate(
            x[rows],
            y[rows],
            sample_weight=weights[rows],
            batch_size=BATCH,
            verbose=0,
            return_dict=True,
        )
        for metric in run.metrics:
            got = run[metric].batch_value[b]
            assert abs(got - expected[metric]) <= 1e-5 * abs(expected[metric]) + 1e-6, (
                metric,
                b,
                got,
                expected[metric],
            )
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
