"""EpochJumpCallback on real `model.fit` runs, against independent recomputation."""

import keras
import numpy as np
import pytest
from support.keras_fits import KerasLogRecorder
from support.keras_fits import batch_slices
from support.keras_fits import check_steps_per_execution
from support.keras_fits import dense_model
from support.keras_fits import digits
from support.keras_fits import evaluate_with_weights
from support.keras_fits import quiet_fit
from support.keras_fits import record_epoch

import epochjump

BATCH = 32
N = 600  # 19 batches per epoch; the last one holds 24 samples.
BATCHES_PER_EPOCH = -(-N // BATCH)


@pytest.fixture(scope="module")
def data():
    return digits(N + 200)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, data):
    """Two epochs with validation and train_eval; what Keras reported."""
    x, y = data
    log_dir = tmp_path_factory.mktemp("fit") / "run"
    model = dense_model(metrics=["accuracy"])
    keras_logs = KerasLogRecorder()
    train_eval = (x[:256], y[:256])
    callback = epochjump.EpochJumpCallback(log_dir, train_eval_data=train_eval)
    history = quiet_fit(model, x, y, [callback, keras_logs], BATCH, train_size=N)
    return dict(
        run=epochjump.read_run(log_dir),
        model=model,
        history=history,
        keras_logs=keras_logs,
        train_eval=train_eval,
    )


def test_steps_epochs_and_metrics(fitted):
    run = fitted["run"]
    assert run.metrics == ("loss", "accuracy")
    assert run.epoch_starts.tolist() == [1, BATCHES_PER_EPOCH + 1]
    series = run["accuracy"]
    assert series.step.tolist() == list(range(1, 2 * BATCHES_PER_EPOCH + 1))
    assert series.epoch.tolist() == [0] * BATCHES_PER_EPOCH + [1] * BATCHES_PER_EPOCH
    assert series.step.dtype == np.int64 and series.batch_value.dtype == np.float64
    assert run.problems == ()


def test_running_mean_is_exactly_what_keras_logged(fitted):
    run, logs = fitted["run"], fitted["keras_logs"].batch_logs
    for metric in ("loss", "accuracy"):
        logged = np.array([entry[metric] for entry in logs], np.float32)
        np.testing.assert_array_equal(run[metric].running_mean, logged)


def test_last_running_mean_of_each_epoch_is_history(fitted):
    run, history = fitted["run"], fitted["history"]
    for metric in ("loss", "accuracy"):
        series = run[metric]
        last = [series.running_mean[series.epoch == e][-1] for e in range(2)]
        assert last == history[metric]


def test_val_is_history_val(fitted):
    run, history = fitted["run"], fitted["history"]
    for metric in ("loss", "accuracy"):
        val = run[metric].val
        assert val.value.tolist() == history[f"val_{metric}"]
        assert val.epoch.tolist() == [0, 1]
        assert val.step.tolist() == fitted["keras_logs"].iterations_at_epoch_end


def test_train_eval_is_evaluate_with_end_of_epoch_weights(fitted):
    run, model = fitted["run"], fitted["model"]
    x, y = fitted["train_eval"]
    for epoch, weights in enumerate(fitted["keras_logs"].weights_at_epoch_end):
        expected = evaluate_with_weights(model, weights, x, y, batch_size=32)
        for metric in ("loss", "accuracy"):
            assert run[metric].train_eval.value[epoch] == pytest.approx(
                expected[metric], rel=1e-6
            )
    assert run["loss"].train_eval.epoch.tolist() == [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    ["plain", "sample_weight", "class_weight", "counts", "weighted_metrics"],
)
def test_batch_value_is_the_metric_of_that_batch_alone(tmp_path, data, case):
    x, y = data[0][:N], data[1][:N]
    metrics = ["accuracy"]
    weighted = None
    fit_kwargs = {}
    weights = None
    if case == "sample_weight":
        weights = np.random.default_rng(1).uniform(0.1, 3.0, N).astype("float32")
        fit_kwargs["sample_weight"] = weights
    elif case == "class_weight":
        class_weight = {c: 1.0 + c / 3 for c in range(10)}
        fit_kwargs["class_weight"] = class_weight
        weights = np.array([class_weight[c] for c in y], np.float32)
    elif case == "counts":
        metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
            keras.metrics.AUC(name="auc"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ]
        y_fit = (y >= 5).astype("float32")
    elif case == "weighted_metrics":
        weights = np.random.default_rng(2).uniform(0.1, 3.0, N).astype("float32")
        fit_kwargs["sample_weight"] = weights
        weighted = ["accuracy"]
    if case == "counts":
        model = binary_model(metrics)
        y = y_fit
        metrics_checked = ["loss", "auc", "precision", "recall"]
    else:
        model = dense_model(metrics=metrics, weighted_metrics=weighted)
        metrics_checked = None
    recorder = KerasLogRecorder(snapshot_weights=True)
    run = record_epoch(model, x, y, tmp_path / "run", recorder, BATCH, **fit_kwargs)
    checked = metrics_checked or list(run.metrics)
    for b, rows in enumerate(batch_slices(N, BATCH)):
        expected = evaluate_with_weights(
            model,
            recorder.weights_before_batch[b],
            x[rows],
            y[rows],
            sample_weight=None if weights is None else weights[rows],
        )
        for metric in checked:
            assert run[metric].batch_value[b] == pytest.approx(
                expected[metric], rel=1e-5, abs=1e-6
            ), (case, metric, b)


def binary_model(metrics):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=metrics)
    return model


def test_running_mean_is_the_weighted_mean_of_batch_values(fitted):
    series = fitted["run"]["loss"]
    slices = batch_slices(N, BATCH) * 2
    sizes = np.array([s.stop - s.start for s in slices], np.float64)
    for epoch in range(2):
        mask = series.epoch == epoch
        expected = np.cumsum(series.batch_value[mask] * sizes[mask]) / np.cumsum(
            sizes[mask]
        )
        np.testing.assert_allclose(series.running_mean[mask], expected, rtol=1e-5)


@pytest.mark.parametrize("same_callback", [True, False])
def test_repeated_fits_continue_one_timeline(tmp_path, data, same_callback):
    x, y = data[0][:N], data[1][:N]
    model = dense_model()
    callback = epochjump.EpochJumpCallback(tmp_path / "run")
    recorder = KerasLogRecorder()
    for _ in range(3):
        if not same_callback:
            callback = epochjump.EpochJumpCallback(tmp_path / "run")
        model.fit(
            x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback, recorder]
        )
    run = epochjump.read_run(tmp_path / "run")
    n = BATCHES_PER_EPOCH
    assert run.epoch_starts.tolist() == [1, n + 1, 2 * n + 1]
    series = run["loss"]
    assert series.step.tolist() == list(range(1, 3 * n + 1))
    assert series.epoch.tolist() == [0] * n + [1] * n + [2] * n
    logged = np.array([entry["loss"] for entry in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(series.running_mean, logged)


def test_nan_losses_are_recorded(tmp_path, data):
    x, y = data[0][:N], data[1][:N]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)])
    # A regression that diverges to inf, then NaN, within a few batches.
    model.compile(keras.optimizers.SGD(1e6), "mse", metrics=["mae"])
    y = y.astype("float32")
    recorder = KerasLogRecorder()
    series = record_epoch(model, x, y, tmp_path / "run", recorder, BATCH)["loss"]
    assert len(series) == BATCHES_PER_EPOCH
    assert not np.isfinite(series.batch_value).all()
    assert not np.isfinite(series.running_mean[-1])
    logged = np.array([entry["loss"] for entry in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(series.running_mean, logged)


def test_steps_per_execution_records_every_batch(tmp_path, data):
    check_steps_per_execution(tmp_path / "run", data[0][:N], data[1][:N], BATCH)


class _PyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


@pytest.mark.parametrize("kind", ["tuple_with_weights", "tf_dataset", "py_dataset"])
def test_train_eval_data_kinds(tmp_path, data, kind):
    import tensorflow as tf

    x, y = data[0][:N], data[1][:N]
    xs, ys = x[:200], y[:200]
    weights = np.linspace(0.5, 2.0, 200).astype("float32")
    if kind == "tuple_with_weights":
        train_eval = (xs, ys, weights)
    elif kind == "tf_dataset":
        train_eval = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(50)
    else:
        train_eval = _PyDataset(xs, ys, 50)
    model = dense_model()
    recorder = KerasLogRecorder()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[
            epochjump.EpochJumpCallback(tmp_path / "run", train_eval_data=train_eval),
            recorder,
        ],
    )
    run = epochjump.read_run(tmp_path / "run")
    for epoch, w in enumerate(recorder.weights_at_epoch_end):
        if kind == "tuple_with_weights":
            expected = evaluate_with_weights(model, w, xs, ys, weights, batch_size=32)
        else:
            expected = evaluate_with_weights(model, w, xs, ys, batch_size=50)
        assert run["loss"].train_eval.value[epoch] == pytest.approx(
            expected["loss"], rel=1e-5
        )
    # No dropout, no batch norm: training mode gives the same numbers, on the
    # same batches and sample weights.
    for metric in ("loss", "accuracy"):
        np.testing.assert_allclose(
            run[metric].train_eval_training_mode.value,
            run[metric].train_eval.value,
            rtol=1e-6,
            atol=1e-6,
        )
        assert len(run[metric].train_eval_training_mode) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(log_dir=""), "log_dir"),
        (dict(log_dir="x", flush_secs=0), "flush_secs=0"),
        (dict(log_dir="x", train_eval_steps=-1), "train_eval_steps=-1"),
        (dict(log_dir="x", train_eval_data=(1,)), "length 1"),
        (dict(log_dir="x", train_eval_data=[1, 2]), "list"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        epochjump.EpochJumpCallback(**kwargs)


def test_repeated_fits_keep_the_traced_train_function(tmp_path, data):
    # Re-tracing at every fit would cost each fit seconds on a real model.
    x, y = data[0][:N], data[1][:N]
    model = dense_model()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(tmp_path / "run")],
    )
    traced = model.train_function
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(tmp_path / "run")],
    )
    assert model.train_function is traced
    # Recompiled (same optimizer, so steps go on): new metrics, new recorder.
    top3 = keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")
    model.compile(model.optimizer, "sparse_categorical_crossentropy", metrics=[top3])
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(tmp_path / "run")],
    )
    assert model.train_function is not traced
    run = epochjump.read_run(tmp_path / "run")
    n = BATCHES_PER_EPOCH
    assert run.epoch_starts.tolist() == [1, n + 1, 2 * n + 1]
    assert np.isnan(run["accuracy"].running_mean[2 * n :]).all()
    assert np.isfinite(run["top3"].running_mean[2 * n :]).all()
