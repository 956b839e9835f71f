"""Small real Keras fits for the tests, and an independent recomputation.

The recomputation never goes through epochjump: it snapshots the weights
before every batch and evaluates a clone of the model on that batch alone with
Keras's own `evaluate`, which is what "the metric of that batch alone" means.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def digits(n=600, seed=0):
    """Returns `(x, y)`: scikit-learn's bundled digits, scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))[:n]
    return (x[order] / 16.0).astype("float32"), y[order].astype("int64")


def dense_model(
    metrics=("accuracy",),
    weighted_metrics=None,
    dropout=0.0,
    seed=0,
    batch_norm_epsilon=None,
    keras_module=keras,
    hidden_units=16,
    optimizer=None,
    **compile_kwargs,
):
    """A 64-`hidden_units`-10 MLP; with `dropout`, a Dropout layer between.

    With `batch_norm_epsilon`, the hidden layer is Dense, BatchNormalization
    (that epsilon), relu. `keras_module`: `keras`, or `tf_keras` for a Keras 2
    model. `optimizer`: default SGD(0.1).
    """
    k = keras_module
    k.utils.set_random_seed(seed)
    if batch_norm_epsilon is None:
        hidden = [k.layers.Dense(hidden_units, activation="relu")]
    else:
        hidden = [
            k.layers.Dense(hidden_units),
            k.layers.BatchNormalization(epsilon=batch_norm_epsilon),
            k.layers.Activation("relu"),
        ]
    layers = [k.Input((64,)), *hidden]
    if dropout:
        layers.append(k.layers.Dropout(dropout))
    layers.append(k.layers.Dense(10, activation="softmax"))
    model = k.Sequential(layers)
    model.compile(
        optimizer or k.optimizers.SGD(0.1),
        "sparse_categorical_crossentropy",
        metrics=list(metrics),
        weighted_metrics=weighted_metrics,
        **compile_kwargs,
    )
    return model


def batch_slices(n, batch_size):
    """The slices of the batches of an unshuffled epoch of `n` samples."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def quiet_fit(
    model, x, y, callbacks, batch_size, epochs=2, train_size=None, **fit_kwargs
):
    """`model.fit` without output and, unless `fit_kwargs` says otherwise,
    unshuffled (its batches are `batch_slices(len(x), batch_size)`); returns
    Keras's `History.history`.

    Args:
      model: a compiled Keras 3 or Keras 2 (`tf_keras`) model.
      x, y: the samples to fit.
      callbacks: list of callbacks for `fit`.
      batch_size: int.
      epochs: int, default 2.
      train_size: int or None; when set, fits the first `train_size` samples
        and validates on the rest.
      **fit_kwargs: more `fit` arguments (e.g. `validation_data`).
    """
    fit_kwargs.setdefault("shuffle", False)
    if train_size is not None:
        fit_kwargs["validation_data"] = (x[train_size:], y[train_size:])
        x, y = x[:train_size], y[:train_size]
    return model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
        **fit_kwargs,
    ).history


def record_epoch(model, x, y, log_dir, recorder, batch_size, **fit_kwargs):
    """Fits one unshuffled epoch of `(x, y)` silently with an
    `EpochJumpCallback(log_dir)` and `recorder`; returns the run read back.

    Args:
      model: a compiled Keras model.
      x, y: the samples.
      log_dir: where the callback writes.
      recorder: a `KerasLogRecorder`, after the callback in `callbacks`.
      batch_size: int.
      **fit_kwargs: more `fit` arguments (e.g. `sample_weight`).
    """
    import epochjump

    callbacks = [epochjump.EpochJumpCallback(log_dir), recorder]
    quiet_fit(model, x, y, callbacks, batch_size, epochs=1, **fit_kwargs)
    return epochjump.read_run(log_dir)


class KerasLogRecorder(keras.callbacks.Callback):
    """Keeps what Keras passes to callbacks, and weights before each batch."""

    def __init__(self, snapshot_weights=False, metrics_results=False):
        super().__init__()
        self.snapshot_weights = snapshot_weights
        self.metrics_results = metrics_results
        self.batch_logs = []
        # With `metrics_results`: Keras's own `get_metrics_result()` after
        # each batch, from the metric variables (not on JAX, whose fit keeps
        # them in its own state until the epoch ends).
        self.batch_results = []
        self.weights_before_batch = []
        self.weights_at_epoch_end = []
        self.iterations_at_epoch_end = []

    def on_train_batch_begin(self, batch, logs=None):
        if self.snapshot_weights:
            self.weights_before_batch.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))
        if self.metrics_results:
            results = self.model.get_metrics_result()
            self.batch_results.append(
                {k: keras.ops.convert_to_numpy(v) for k, v in results.items()}
            )

    def on_epoch_end(self, epoch, logs=None):
        self.weights_at_epoch_end.append(self.model.get_weights())
        self.iterations_at_epoch_end.append(
            int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        )


def evaluate_with_weights(model, weights, x, y, sample_weight=None, batch_size=None):
    """Keras's own metrics of `model` with `weights` on `(x, y)`, in one batch.

    A fresh clone compiled like `model` evaluates the data, so no metric state
    or code path is shared with the training run.
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(weights)
    clone.compile(
        loss=model.loss,
        metrics=_metric_configs(model, "_user_metrics"),
        weighted_metrics=_metric_configs(model, "_user_weighted_metrics"),
    )
    return clone.evaluate(
        x,
        y,
        sample_weight=sample_weight,
        batch_size=batch_size or len(x),
        verbose=0,
        return_dict=True,
    )


def _metric_configs(model, attribute):
    metrics = getattr(model._compile_metrics, attribute, None)
    if not metrics:
        return None
    return [
        m if isinstance(m, str) else m.__class__.from_config(m.get_config())
        for m in metrics
    ]


def check_what_keras_reported(run, metrics, recorder, history):
    """Checks that the running means of `metrics` in `run` are bit for bit
    the ones Keras logged per batch (`recorder.batch_logs`), that the last
    of each epoch in `history` is the epoch's value there, and that the
    validation values are `history`'s."""
    for metric in metrics:
        series = run[metric]
        logged = np.array([e[metric] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(series.running_mean, logged)
        for epoch, value in enumerate(history[metric]):
            last = series.running_mean[series.epoch == epoch][-1]
            assert last == np.float32(value), (metric, epoch, last, value)
        want = np.float32(history[f"val_{metric}"])
        np.testing.assert_array_equal(series.val.value, want, err_msg=metric)


def check_batch_values(run, metrics, slices, keras_batch_metrics):
    """Checks each batch value of `metrics` in `run` against Keras's own
    metrics of that batch alone, up to float32 rounding.

    Args:
      run: the run read back.
      metrics: names of the metrics to check.
      slices: the rows of each recorded batch, in order.
      keras_batch_metrics: function `(batch index, rows)` -> `{metric: value}`.
    """
    for b, rows in enumerate(slices):
        expected = keras_batch_metrics(b, rows)
        for metric in metrics:
            got, want = run[metric].batch_value[b], expected[metric]
            assert abs(got - want) <= 1e-5 * abs(want) + 1e-6, (metric, b, got, want)


def check_steps_per_execution(log_dir, x, y, batch_size=32):
    """Fits `x, y` for one epoch in chunks of 4 batches and checks that every
    batch is recorded, that the running means Keras logged (once per chunk)
    are the recorded ones, and that they are the sample-weighted means of the
    recorded batch values."""
    model = dense_model(steps_per_execution=4)
    recorder = KerasLogRecorder()
    series = record_epoch(model, x, y, log_dir, recorder, batch_size)["loss"]
    per_epoch = -(-len(x) // batch_size)
    assert series.step.tolist() == list(range(1, per_epoch + 1)), series.step
    # The last chunk may hold fewer than 4 batches.
    chunk_ends = list(range(3, per_epoch - 1, 4)) + [per_epoch - 1]
    logged = np.array([e["loss"] for e in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(series.running_mean[chunk_ends], logged)
    sizes = np.diff(np.minimum(np.arange(per_epoch + 1) * batch_size, len(x)))
    np.testing.assert_allclose(
        series.running_mean,
        np.cumsum(series.batch_value * sizes) / np.cumsum(sizes),
        rtol=1e-5,
    )
