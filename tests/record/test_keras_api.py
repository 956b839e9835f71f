"""Every function of `record/keras_api` against the installed Keras, for each line.

`make test` runs this file again against the oldest supported Keras 3 (the
`KERAS_OLDEST` pin of the Makefile), so a Keras release that moves a private
name breaks here, in one file, and nowhere else first.
"""

import numpy as np
import pytest
from support.scripts import require
from support.scripts import run_exact
from support.scripts import script_path

from epochjump.record import keras_api
from epochjump.record.keras_api import progbar

LINES = ["keras3", "tf_keras"]


@pytest.fixture(params=LINES)
def line(request):
    """`(adapter, keras)`: one Keras line's adapter module and its public Keras."""
    if request.param == "tf_keras":
        require("tf_keras")
        from epochjump.record.keras_api import tf_keras as adapter
    else:
        from epochjump.record.keras_api import keras3 as adapter
    return adapter, adapter.keras_module


def dense_model(keras, **compile_args):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    compile_args.setdefault("loss", "sparse_categorical_crossentropy")
    model.compile(optimizer=keras.optimizers.SGD(0.1), **compile_args)
    return model


def samples(n=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), np.arange(n) % 2


def test_each_model_finds_its_lines_adapter(line):
    adapter, keras = line
    model = dense_model(keras)
    assert keras_api.for_model(model) is adapter
    assert keras_api.for_model(model.optimizer) is adapter
    assert keras_api.is_tf_keras(model) == (keras.__name__ == "tf_keras")


def test_leaf_metrics_are_one_object_per_reported_metric(line):
    adapter, keras = line
    second = "sparse_categorical_crossentropy"
    model = dense_model(keras, metrics=["accuracy", second])
    x, y = samples()
    model.evaluate(x, y, verbose=0)
    leaves = adapter.leaf_metrics(model)
    assert all(isinstance(m, keras.metrics.Metric) for m in leaves)
    assert {m.name for m in leaves} >= {"loss", "accuracy", second}
    assert "CompileMetrics" not in {type(m).__name__ for m in leaves}


def test_compile_signature_changes_with_compile_only(line):
    adapter, keras = line
    model = dense_model(keras, metrics=["accuracy"])
    before = adapter.compile_signature(model)
    model.evaluate(*samples(), verbose=0)
    assert adapter.compile_signature(model) == before
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert adapter.compile_signature(model) != before


def test_build_metrics_creates_the_compiled_metrics(line):
    import tensorflow as tf

    adapter, keras = line
    model = dense_model(keras, metrics=["accuracy"])
    x, y = samples()
    adapter.build_metrics(model, (tf.constant(x), tf.constant(y)))
    names = {m.name for m in adapter.leaf_metrics(model)}
    assert "accuracy" in names
    variables = [v for m in adapter.leaf_metrics(model) for v in m.variables]
    assert variables and all(float(np.sum(v.numpy())) == 0 for v in variables)


def test_has_loss_tracker(line):
    adapter, keras = line
    assert adapter.has_loss_tracker(dense_model(keras))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    # Keras 3 makes its loss tracker in `compile()`; Keras 2 needs none.
    assert adapter.has_loss_tracker(model) == (keras.__name__ == "tf_keras")


@pytest.mark.parametrize("steps", [1, 3])
def test_steps_per_execution(line, steps):
    adapter, keras = line
    model = dense_model(keras, steps_per_execution=steps)
    assert adapter.steps_per_execution(model) == steps


def test_learning_rate_of_gives_the_rate_as_given(line):
    adapter, keras = line
    fixed = keras.optimizers.SGD(0.25)
    assert float(np.asarray(adapter.learning_rate_of(fixed))) == 0.25
    schedule = keras.optimizers.schedules.ExponentialDecay(0.5, 10, 0.9)
    assert adapter.learning_rate_of(keras.optimizers.SGD(schedule)) is schedule


def test_learning_rate_of_a_legacy_tf_keras_optimizer():
    require("tf_keras")
    import tf_keras

    from epochjump.record.keras_api import tf_keras as adapter

    schedule = tf_keras.optimizers.schedules.ExponentialDecay(0.5, 10, 0.9)
    legacy = tf_keras.optimizers.legacy.SGD(schedule)
    assert adapter.learning_rate_of(legacy) is schedule


def test_evaluation_batches_are_evaluates_batches(line):
    adapter, keras = line
    model = dense_model(keras)
    x, y = samples(10)
    w = np.linspace(0.1, 1.0, 10).astype("float32")
    data = dict(x=x, y=y, sample_weight=w, batch_size=4, steps_per_epoch=None)
    batches = list(adapter.evaluation_batches(model, data))
    assert [len(adapter.unpack_x_y_sample_weight(b)[0]) for b in batches] == [4, 4, 2]
    for i, batch in enumerate(batches):
        bx, by, bw = adapter.unpack_x_y_sample_weight(batch)
        np.testing.assert_array_equal(np.asarray(bx), x[4 * i : 4 * i + 4])
        np.testing.assert_array_equal(np.asarray(by), y[4 * i : 4 * i + 4])
        np.testing.assert_array_equal(np.asarray(bw), w[4 * i : 4 * i + 4])
    two = list(adapter.evaluation_batches(model, {**data, "steps_per_epoch": 2}))
    assert len(two) == 2


def test_unpack_x_y_sample_weight(line):
    adapter, _ = line
    x, y, w = np.zeros(2), np.ones(2), np.full(2, 0.5)
    assert adapter.unpack_x_y_sample_weight((x, y, w)) == (x, y, w)
    assert adapter.unpack_x_y_sample_weight((x, y)) == (x, y, None)
    assert adapter.unpack_x_y_sample_weight(x) == (x, None, None)


def test_training_mode_test_step_normalises_with_the_batchs_statistics(line):
    """Batch norm in training mode scales by the batch's own mean and
    variance: the loss is recomputed here in numpy from that definition."""
    adapter, keras = line
    epsilon = 1e-3
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.BatchNormalization(epsilon=epsilon)]
    )
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.array([[1.0], [2.0], [4.0], [9.0]], "float32")
    y = np.array([[0.5], [0.0], [-1.0], [1.0]], "float32")
    model.reset_metrics()
    data = dict(x=x, y=y, sample_weight=None, batch_size=4, steps_per_epoch=None)
    (batch,) = adapter.evaluation_batches(model, data)
    adapter.training_mode_test_step(model, batch)
    results = {k: float(v) for k, v in model.get_metrics_result().items()}
    normalised = (x - x.mean()) / np.sqrt(x.var() + epsilon)
    assert results["loss"] == pytest.approx(np.mean((normalised - y) ** 2), rel=1e-5)
    assert results["mae"] == pytest.approx(np.mean(np.abs(normalised - y)), rel=1e-5)
    # Inference mode would have used the moving statistics (mean 0, var 1).
    assert results["loss"] != pytest.approx(
        np.mean((x / np.sqrt(1 + epsilon) - y) ** 2)
    )


def test_progbar_logger_hands_each_new_bar_over(line):
    adapter, keras = line
    bars, batches = [], []

    class Logger(adapter.ProgbarLogger):
        def progbar_created(self, bar):
            bars.append(bar)

        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            super().on_train_batch_end(batch, logs)

    model = dense_model(keras)
    x, y = samples(8)
    logger = Logger(count_mode="steps") if keras.__name__ == "tf_keras" else Logger()
    model.fit(x, y, batch_size=4, epochs=2, verbose=2, callbacks=[logger])
    assert bars and all(isinstance(b, keras.utils.Progbar) for b in bars)
    # With verbose=2 too, the batch hooks run (Keras 2 would skip them).
    assert batches == [0, 1, 0, 1]


def test_progbar_prints_through_our_printer(line, capsys):
    _, keras = line
    printed = []

    class Printer:
        def __init__(self, io_utils):
            self.io_utils = io_utils

        def print_msg(self, message, line_break=True):
            printed.append((message, progbar.batches_seen(bar)))
            self.io_utils.print_msg(message, line_break=line_break)

    bar = keras.utils.Progbar(target=3, interval=0.25, verbose=1)
    assert progbar.last_redraw(bar) == 0
    assert progbar.redraw_interval(bar, 9.0) == 0.25
    io_utils = progbar.print_through(bar, Printer)
    assert callable(io_utils.print_msg)
    bar.update(1, values=[("loss", 2.0)])
    assert progbar.batches_seen(bar) == 1
    assert progbar.last_redraw(bar) > 0
    bar.update(3, values=[("loss", 1.0)])
    message, seen = printed[-1]
    assert seen == 3 and "3/3" in message and "loss: " in message
    assert message.strip() in capsys.readouterr().out


def test_with_global_rebinds_one_name():
    def reads_np():
        return np.pi

    copy = keras_api.with_global(reads_np, "np", type("Fake", (), {"pi": 3})())
    assert (copy(), reads_np()) == (3, np.pi)


def test_keras3_global_seed_generator():
    import keras

    from epochjump.record.keras_api import keras3

    saved = keras3.global_seed_generator()
    try:
        keras3.set_global_seed_generator(None)
        assert keras3.global_seed_generator() is None
        keras.random.normal((2,))  # Unseeded: creates the global generator.
        created = keras3.global_seed_generator()
        assert isinstance(created, keras.random.SeedGenerator)
        mine = keras.random.SeedGenerator(5)
        keras3.set_global_seed_generator(mine)
        assert keras3.global_seed_generator() is mine
    finally:
        keras3.set_global_seed_generator(saved)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras3_backend_only_functions(backend):
    """`update_metrics_variables` (JAX) and `variable_storage` (PyTorch)."""
    require(backend)
    run_exact(script_path("keras_api_backends.py"), env={"KERAS_BACKEND": backend})
