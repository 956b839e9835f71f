"""Exactness checks of EpochJumpCallback under the Keras backend in
KERAS_BACKEND; run as a script by test_backends.py (Keras picks its backend at
import, so each backend needs its own process). Exits non-zero on failure."""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import KerasLogRecorder  # noqa: E402
from support.keras_fits import check_steps_per_execution  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import evaluate_with_weights  # noqa: E402

BATCH, N = 32, 200  # 7 batches per epoch, the last one of 8 samples.


def main(log_root):
    x, y = digits(N + 64)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, N).astype("float32")
    model = dense_model(metrics=["accuracy"])
    recorder = KerasLogRecorder(snapshot_weights=True)
    train_eval = (x[:64], y[:64])
    callback = epochjump.EpochJumpCallback(
        os.path.join(log_root, "run"), train_eval_data=train_eval
    )
    history = model.fit(
        x[:N],
        y[:N],
        sample_weight=weights,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(x[N:], y[N:]),
        callbacks=[callback, recorder],
    ).history
    # A second fit continues the same timeline.
    model.fit(
        x[:N],
        y[:N],
        sample_weight=weights,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback, recorder],
    )
    run = epochjump.read_run(os.path.join(log_root, "run"))
    per_epoch = -(-N // BATCH)
    assert run.epoch_starts.tolist() == [1, per_epoch + 1, 2 * per_epoch + 1], (
        run.epoch_starts
    )
    for metric in ("loss", "accuracy"):
        series = run[metric]
        assert series.step.tolist() == list(range(1, 3 * per_epoch + 1)), series.step
        logged = np.array([e[metric] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(series.running_mean, logged)
        for epoch in range(2):
            assert (
                series.running_mean[series.epoch == epoch][-1]
                == (history[metric][epoch])
            )
        assert series.val.value.tolist() == history[f"val_{metric}"]
    slices = [slice(i, min(i + BATCH, N)) for i in range(0, N, BATCH)] * 3
    for b, rows in enumerate(slices):
        expected = evaluate_with_weights(
            model, recorder.weights_before_batch[b], x[rows], y[rows], weights[rows]
        )
        for metric in ("loss", "accuracy"):
            got = run[metric].batch_value[b]
            assert abs(got - expected[metric]) <= 1e-5 * abs(expected[metric]) + 1e-6, (
                metric,
                b,
                got,
                expected[metric],
            )
    for epoch, w in enumerate(recorder.weights_at_epoch_end[:2]):
        expected = evaluate_with_weights(model, w, *train_eval, batch_size=32)
        got = run["loss"].train_eval.value[epoch]
        assert abs(got - expected["loss"]) <= 1e-5 * expected["loss"], (got, expected)
    # On TensorFlow, test_callback.py runs this check in its own process;
    # torch allows no steps_per_execution.
    if keras.backend.backend() == "jax":
        check_steps_per_execution(os.path.join(log_root, "chunks"), x[:N], y[:N])
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
