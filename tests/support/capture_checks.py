"""Checks of epochjump's batch capture under the Keras backend in
KERAS_BACKEND; run as a script by test_capture.py, one process per backend.

Prints one line per check, `PASS <check>` or `FAIL <check>: <why>`:

- `metrics_<task>`: every built-in scalar metric of `metric_models.TASKS`,
  fitted with sample weights and a partial last batch, against an
  independent reference: a fresh metric of the same config fed the batch's
  `y_true`, `sample_weight` and `y_pred` from a fresh model with the weights
  snapshotted before the batch. Running means must equal Keras's logs.
- `custom_metric`: a metric returning its state variable trains to the end,
  running mean recorded, batch value NaN, one warning; an additive one doing
  the same stays exact; `History` is the same as without the callback.
- `host_copies` (PyTorch): epochjump's own code copies from the device a
  fixed number of times per flush, however many batches there are.
- `fused_results` (PyTorch): the fused running means of a two-output model
  (prefixed, `weighted_` and numbered duplicate names) are bit-for-bit
  Keras's `get_metrics_result()`, and Keras's own results are used when the
  fused computation fails.
- `fused_fallback` (PyTorch): when the fused results start failing in the
  middle of a fit, training goes on unchanged, with exact batch values from
  Keras's own results, and the model's `get_metrics_result` is its own.
- `other_thread` (PyTorch): `get_metrics_result()` called from another
  thread during a step (as by an async batch-end hook) gets Keras's own
  answer and leaves the step's recorded row alone.
- `own_get_metrics_result` (PyTorch): a `get_metrics_result` set on the
  model itself is kept, and answers Keras's step.
"""

import os
import sys
import tempfile
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import keras  # noqa: E402
import numpy as np  # noqa: E402
from metric_models import COUNTS  # noqa: E402
from metric_models import TASKS  # noqa: E402

import epochjump  # noqa: E402
from epochjump.record.keras_api import keras3  # noqa: E402
from support.keras_fits import KerasLogRecorder  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402

BATCH, EPOCHS = 32, 2
RTOL, ATOL = 1e-5, 1e-6


def check_metrics(task, log_dir):
    model, x, y = TASKS[task]()
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(x)).astype("float32")
    # On PyTorch the logs Keras passes on are epochjump's own running means,
    # so they are also checked against Keras's get_metrics_result().
    torch = keras.backend.backend() == "torch"
    recorder = KerasLogRecorder(snapshot_weights=True, metrics_results=torch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks = [epochjump.EpochJumpCallback(log_dir), recorder]
        history = quiet_fit(
            model, x, y, callbacks, BATCH, EPOCHS, sample_weight=weights
        )
    ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert not ours, ours
    run = epochjump.read_run(log_dir)
    names = sorted(recorder.batch_logs[0])
    assert sorted(run.metrics) == names, (run.metrics, names)
    expected = reference_batch_values(task, model, x, y, weights, recorder)
    per_epoch = -(-len(x) // BATCH)
    for name in names:
        series = run[name]
        got = series.batch_value
        want = np.array([e[name] for e in expected], np.float64)
        if name in count_names(model):
            np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=name)
        else:
            np.testing.assert_allclose(got, want, RTOL, ATOL, err_msg=name)
        logged = np.array([e[name] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(series.running_mean, logged, err_msg=name)
        if torch:
            keras_own = np.array([r[name] for r in recorder.batch_results])
            np.testing.assert_array_equal(logged, keras_own, err_msg=name)
        # Keras's epoch value is computed again outside the compiled step, so
        # on TensorFlow (XLA) it can differ from its own last batch log by an
        # ulp (F1Score does, without epochjump too).
        ends = series.running_mean[per_epoch - 1 :: per_epoch]
        np.testing.assert_allclose(ends, history[name], 1e-6, err_msg=name)
    return f"{len(names)} metrics x {len(expected)} batches"


def count_names(model):
    return {m.name for m in keras3.leaf_metrics(model) if isinstance(m, COUNTS)}


def reference_batch_values(task, model, x, y, weights, recorder):
    """Each batch's metrics, computed without the trained model's metrics."""
    forward = TASKS[task]()[0]
    loss = type(model.loss).from_config(model.loss.get_config())
    metrics = [m for m in keras3.leaf_metrics(model) if m is not model._loss_tracker]
    rows = [slice(i, i + BATCH) for i in range(0, len(x), BATCH)] * EPOCHS
    values = []
    for before, r in zip(recorder.weights_before_batch, rows):
        forward.set_weights(before)
        y_pred = keras.ops.convert_to_numpy(forward(x[r], training=True))
        batch = {"loss": float(loss(y[r], y_pred, sample_weight=weights[r]))}
        for metric in metrics:
            fresh = type(metric).from_config(metric.get_config())
            if isinstance(metric, (keras.metrics.Sum, keras.metrics.Mean)) and (
                metric.name.startswith("prediction_")
            ):
                fresh.update_state(y_pred, weights[r])
            elif metric.name.startswith("unweighted_"):
                fresh.update_state(y[r], y_pred)
            else:
                fresh.update_state(y[r], y_pred, sample_weight=weights[r])
            batch[metric.name] = float(keras.ops.convert_to_numpy(fresh.result()))
        values.append(batch)
    return values


class StateTotal(keras.metrics.Metric):
    """Not additive as far as epochjump knows; `result()` is its variable."""

    def __init__(self, name="state_total", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        n = keras.ops.cast(keras.ops.shape(y_true)[0], "float32")
        self.total.assign_add(n)

    def result(self):
        # Keras on JAX itself cannot return a variable; its value it can.
        if keras.backend.backend() == "jax":
            return self.total.value
        return self.total


class SampleCount(keras.metrics.Sum):
    """Additive (a `Sum`), and `result()` shares the state's memory."""

    def __init__(self, name="sample_count", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(keras.ops.ones(keras.ops.shape(y_true)[:1]))

    def result(self):
        if keras.backend.backend() == "jax":
            return self.total.value
        return self.total


def fit_unshuffled(model, x, y, callbacks):
    """`model.fit` for `EPOCHS` epochs of `BATCH`, in order; its history."""
    return model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    ).history


def check_custom_metric(log_dir):
    x, y = digits(200)

    def fit(callbacks):
        model = dense_model(metrics=["accuracy", StateTotal(), SampleCount()])
        return fit_unshuffled(model, x, y, callbacks)

    plain = fit([])
    recorder = KerasLogRecorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit([epochjump.EpochJumpCallback(log_dir), recorder])
    ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert len(ours) == 1 and "state_total" in ours[0], ours
    assert history == plain, (history, plain)
    run = epochjump.read_run(log_dir)
    sizes = [min(BATCH, len(x) - i) for i in range(0, len(x), BATCH)] * EPOCHS
    state_total = run["state_total"]
    assert len(state_total.step) == len(sizes), state_total.step
    assert np.isnan(state_total.batch_value).all(), state_total.batch_value
    for name in ("state_total", "sample_count", "accuracy"):
        logged = np.array([e[name] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(run[name].running_mean, logged, err_msg=name)
    np.testing.assert_array_equal(run["sample_count"].batch_value, sizes)
    assert not np.isnan(run["accuracy"].batch_value).any()
    return "one warning, History unchanged"


def check_host_copies(log_dir):
    """Counts device-to-host reads made by epochjump's code (not by Keras's
    train step, which epochjump calls) in fits of 2 and of 50 batches."""
    import torch

    counts = []
    methods = (
        "cpu",
        "item",
        "numpy",
        "tolist",
        "__array__",
        "__float__",
        "__int__",
        "__bool__",
        "__index__",
    )
    originals = {m: getattr(torch.Tensor, m) for m in methods}

    def counting(method):
        def wrapper(self, *args, **kwargs):
            if _called_by_epochjump():
                counts[-1] += 1
                if os.environ.get("EPOCHJUMP_SHOW_READS"):
                    traceback.print_stack(limit=6)
            return originals[method](self, *args, **kwargs)

        return wrapper

    x, y = digits(1600)
    try:
        for m in methods:
            setattr(torch.Tensor, m, counting(m))
        for n in (2 * BATCH, len(x)):
            model = dense_model()
            counts.append(0)
            model.fit(
                x[:n],
                y[:n],
                batch_size=BATCH,
                epochs=EPOCHS,
                verbose=0,
                callbacks=[
                    epochjump.EpochJumpCallback(
                        os.path.join(log_dir, str(n)), flush_secs=3600
                    )
                ],
            )
    finally:
        for m, original in originals.items():
            setattr(torch.Tensor, m, original)
    flushes = EPOCHS + 1
    assert counts[0] == counts[1] and counts[0] <= 8 * flushes, counts
    return f"{counts[1]} reads in {EPOCHS} epochs of 50 batches ({flushes} flushes)"


def check_fused_results(log_dir):
    from epochjump.record.capture import torch_results

    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = [
        keras.layers.Dense(10, activation="softmax", name="digit")(hidden),
        keras.layers.Dense(1, activation="sigmoid", name="even")(hidden),
    ]
    model = keras.Model(inputs, outputs)
    model.compile(
        "adam",
        ["sparse_categorical_crossentropy", "binary_crossentropy"],
        metrics=[["accuracy", "accuracy"], ["accuracy", keras.metrics.AUC()]],
        weighted_metrics=[["accuracy"], ["accuracy"]],
    )
    x, y = digits(200)
    even = (y % 2 == 0).astype("float32")
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(x)).astype("float32")
    model.fit(x, [y, even], sample_weight=weights, batch_size=BATCH, verbose=0)
    keras_own = {k: v.detach().clone() for k, v in model.get_metrics_result().items()}
    names = tuple(keras_own)
    fused = torch_results.MetricsResult(model, names)
    results, vector = fused()
    assert list(results) == list(keras_own), (list(results), list(keras_own))
    for name, value in keras_own.items():
        assert value.numpy().tobytes() == results[name].numpy().tobytes(), name
    assert vector is not None and not fused.vector_is_row  # AUC is not a mean.
    original = torch_results.storage
    torch_results.storage = None  # The fused path now fails...
    try:
        results, vector = fused()
    finally:
        torch_results.storage = original
    assert vector is None and not fused.vector_is_row  # ...and is given up.
    assert {k: float(v) for k, v in results.items()} == {
        k: float(v) for k, v in keras_own.items()
    }
    return f"{len(names)} results: {', '.join(names)}"


class BreakFusedResults(keras.callbacks.Callback):
    """Makes the recorder's fused results fail from batch `at` on."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.at:
            self.model._epochjump_recorder._running._totals = [None]


def check_fused_fallback(log_dir):
    x, y = digits(200)

    def fit(callbacks):
        model = dense_model(metrics=["accuracy"])
        return model, fit_unshuffled(model, x, y, callbacks)

    _, plain = fit([])
    recorder = KerasLogRecorder(metrics_results=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, history = fit(
            [epochjump.EpochJumpCallback(log_dir), BreakFusedResults(3), recorder]
        )
    ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert not ours, ours
    assert history == plain, (history, plain)
    # The batch values came from the fused results until batch 3, from
    # Keras's own `get_metrics_result()` after; the model keeps Keras's own.
    assert not model._epochjump_recorder._running.fused
    assert "get_metrics_result" not in model.__dict__
    run = epochjump.read_run(log_dir)
    sizes = np.array([min(BATCH, len(x) - i) for i in range(0, len(x), BATCH)])
    per_epoch = len(sizes)
    for name in ("loss", "accuracy"):
        series = run[name]
        logged = np.array([e[name] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(series.running_mean, logged, err_msg=name)
        keras_own = np.array([r[name] for r in recorder.batch_results])
        np.testing.assert_array_equal(logged, keras_own, err_msg=name)
        # Each epoch's running means, recomputed from the batch values alone.
        for epoch in range(EPOCHS):
            rows = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
            means = np.cumsum(series.batch_value[rows] * sizes) / np.cumsum(sizes)
            np.testing.assert_allclose(
                means, series.running_mean[rows], RTOL, ATOL, err_msg=name
            )
    return f"{len(run['loss'].step)} batches, fused results given up at batch 3"


def check_other_thread(log_dir):
    import threading

    x, y = digits(100)
    model = dense_model(metrics=["accuracy"])
    callback = epochjump.EpochJumpCallback(log_dir)
    model.fit(x[:32], y[:32], batch_size=BATCH, verbose=0, callbacks=[callback])
    recorder = model._epochjump_recorder
    keras_step = recorder._original_train_step
    seen = []

    def step_asked_from_another_thread(data):
        logs = keras_step(data)
        row = recorder._batch_vector
        answer = {}
        asker = threading.Thread(
            target=lambda: answer.update(model.get_metrics_result())
        )
        asker.start()
        asker.join()
        seen.append((row is not None and recorder._batch_vector is row, answer))
        return logs

    recorder._original_train_step = step_asked_from_another_thread
    fit_unshuffled(model, x, y, [callback])
    assert seen and all(kept for kept, _ in seen), "the row was replaced"
    assert all(sorted(answer) == ["accuracy", "loss"] for _, answer in seen), seen
    run = epochjump.read_run(log_dir)
    assert not np.isnan(run["loss"].batch_value).any()
    return f"{len(seen)} steps asked from another thread, rows kept"


def check_own_get_metrics_result(log_dir):
    x, y = digits(100)
    model = dense_model(metrics=["accuracy"])
    calls = []

    def own_get_metrics_result():
        calls.append(1)
        return type(model).get_metrics_result(model)

    object.__setattr__(model, "get_metrics_result", own_get_metrics_result)
    recorder = KerasLogRecorder()
    fit_unshuffled(model, x, y, [epochjump.EpochJumpCallback(log_dir), recorder])
    assert model.__dict__.get("get_metrics_result") is own_get_metrics_result
    steps = len(recorder.batch_logs)
    assert len(calls) >= steps, (len(calls), steps)  # Once per step at least.
    run = epochjump.read_run(log_dir)
    logged = np.array([e["loss"] for e in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(run["loss"].running_mean, logged)
    assert not np.isnan(run["loss"].batch_value).any()
    return f"the model's own get_metrics_result kept, called {len(calls)} times"


def _called_by_epochjump():
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("epochjump"):
            return True
        if module.startswith("keras") and frame.f_code.co_name == "train_step":
            return False  # Keras's own step, inside epochjump's wrapper.
        frame = frame.f_back
    return False


def main(log_root):
    checks = {f"metrics_{task}": (check_metrics, task) for task in TASKS}
    checks["custom_metric"] = (check_custom_metric,)
    if keras.backend.backend() == "torch":
        checks["host_copies"] = (check_host_copies,)
        checks["fused_results"] = (check_fused_results,)
        checks["fused_fallback"] = (check_fused_fallback,)
        checks["other_thread"] = (check_other_thread,)
        checks["own_get_metrics_result"] = (check_own_get_metrics_result,)
    failed = False
    for name, (check, *args) in checks.items():
        try:
            detail = check(*args, os.path.join(log_root, name))
            print(f"PASS {name}: {detail}", flush=True)
        except Exception:  # noqa: BLE001 - report every check.
            failed = True
            reason = traceback.format_exc().strip().replace("\n", "\n    ")
            print(f"FAIL {name}: {reason}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
