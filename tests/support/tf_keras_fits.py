"""Keras 2 (`tf_keras`) models and a log recorder for the tf_keras test scripts."""

import tf_keras


def tf_keras_model(metrics=("accuracy",), **compile_kwargs):
    """The 64-16-10 digits classifier in Keras 2, seeded, compiled with SGD(0.1).

    Build it inside a `strategy.scope()` for distributed fits.

    Args:
      metrics: list of metrics for `compile`.
      **compile_kwargs: more `compile` arguments (e.g. `weighted_metrics`).

    Returns:
      A compiled `tf_keras.Sequential`.
    """
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential(
        [
            tf_keras.Input((64,)),
            tf_keras.layers.Dense(16, activation="relu"),
            tf_keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        tf_keras.optimizers.SGD(0.1),
        "sparse_categorical_crossentropy",
        metrics=list(metrics),
        **compile_kwargs,
    )
    return model


class TfKerasLogRecorder(tf_keras.callbacks.Callback):
    """Keeps what Keras 2 passes to callbacks per batch, and weights before it."""

    def __init__(self):
        super().__init__()
        self.batch_logs, self.weights_before_batch = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights_before_batch.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append({k: float(v) for k, v in logs.items()})
