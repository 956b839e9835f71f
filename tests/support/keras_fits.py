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
    **compile_kwargs,
):
    """A 64-16-10 MLP; with `dropout`, a Dropout layer between.

    With `batch_norm_epsilon`, the hidden layer is Dense(16), BatchNormalization
    (that epsilon), relu. `keras_module`: `keras`, or `tf_keras` for a Keras 2
    model.
    """
    k = keras_module
    k.utils.set_random_seed(seed)
    if batch_norm_epsilon is None:
        hidden = [k.layers.Dense(16, activation="relu")]
    else:
        hidden = [
            k.layers.Dense(16),
            k.layers.BatchNormalization(epsilon=batch_norm_epsilon),
            k.layers.Activation("relu"),
        ]
    layers = [k.Input((64,)), *hidden]
    if dropout:
        layers.append(k.layers.Dropout(dropout))
    layers.append(k.layers.Dense(10, activation="softmax"))
    model = k.Sequential(layers)
    model.compile(
        k.optimizers.SGD(0.1),
        "sparse_categorical_crossentropy",
        metrics=list(metrics),
        weighted_metrics=weighted_metrics,
        **compile_kwargs,
    )
    return model


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


def check_steps_per_execution(log_dir, x, y, batch_size=32):
    """Fits `x, y` for one epoch in chunks of 4 batches and checks that every
    batch is recorded, that the running means Keras logged (once per chunk)
    are the recorded ones, and that they are the sample-weighted means of the
    recorded batch values."""
    import epochjump

    model = dense_model(steps_per_execution=4)
    recorder = KerasLogRecorder()
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(log_dir), recorder],
    )
    series = epochjump.read_run(log_dir)["loss"]
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
