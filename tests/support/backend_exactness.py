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
from support.keras_fits import batch_slices  # noqa: E402
from support.keras_fits import check_batch_values  # noqa: E402
from support.keras_fits import check_steps_per_execution  # noqa: E402
from support.keras_fits import check_what_keras_reported  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import evaluate_with_weights  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402

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
    callbacks = [callback, recorder]
    history = quiet_fit(
        model, x, y, callbacks, BATCH, sample_weight=weights, train_size=N
    )
    # A second fit continues the same timeline.
    quiet_fit(model, x[:N], y[:N], callbacks, BATCH, 1, sample_weight=weights)
    run = epochjump.read_run(os.path.join(log_root, "run"))
    per_epoch = -(-N // BATCH)
    assert run.epoch_starts.tolist() == [1, per_epoch + 1, 2 * per_epoch + 1], (
        run.epoch_starts
    )
    for metric in ("loss", "accuracy"):
        steps = run[metric].step.tolist()
        assert steps == list(range(1, 3 * per_epoch + 1)), steps
    check_what_keras_reported(run, ("loss", "accuracy"), recorder, history)

    def keras_batch_metrics(b, rows):
        weights_before = recorder.weights_before_batch[b]
        return evaluate_with_weights(
            model, weights_before, x[rows], y[rows], weights[rows]
        )

    slices = batch_slices(N, BATCH) * 3
    check_batch_values(run, ("loss", "accuracy"), slices, keras_batch_metrics)
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
