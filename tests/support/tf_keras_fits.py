"""A log recorder for the Keras 2 (`tf_keras`) test scripts (their models are
`keras_fits.dense_model(keras_module=tf_keras)`)."""

import tf_keras


class TfKerasLogRecorder(tf_keras.callbacks.Callback):
    """Keeps what Keras 2 passes to callbacks per batch, and weights before it."""

    def __init__(self):
        super().__init__()
        self.batch_logs, self.weights_before_batch = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights_before_batch.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append({k: float(v) for k, v in logs.items()})
