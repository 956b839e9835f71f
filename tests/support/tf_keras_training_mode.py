"""The training-mode evaluation on a Keras 2 (`tf_keras`) model, and a
`History` untouched by both evaluations; run as a script by
test_training_mode.py with TF_USE_LEGACY_KERAS=1. Exits non-zero on failure."""

import os
import sys

import numpy as np
import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.training_mode import BN_EPSILON  # noqa: E402
from support.training_mode import batch_norm_training_mode  # noqa: E402

BATCH, N, SUBSET = 32, 200, 72


class EpochEndWeights(tf_keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def bn_model(dropout):
    return dense_model(
        dropout=dropout, batch_norm_epsilon=BN_EPSILON, keras_module=tf_keras
    )


def fit(model, x, y, log_dir=None):
    weights = EpochEndWeights()
    callbacks = [weights]
    if log_dir is not None:
        subset = (x[:SUBSET], y[:SUBSET])
        callbacks.append(epochjump.EpochJumpCallback(log_dir, train_eval_data=subset))
    history = model.fit(
        x[:N],
        y[:N],
        batch_size=BATCH,
        epochs=3,
        shuffle=True,
        verbose=0,
        validation_data=(x[N:], y[N:]),
        callbacks=callbacks,
    )
    return history.history, weights.weights, model.get_weights()


def main(log_root):
    x, y = digits(N + 64)
    plain_history, _, plain_weights = fit(bn_model(0.3), x, y)
    log_dir = os.path.join(log_root, "dropout_bn")
    history, _, weights = fit(bn_model(0.3), x, y, log_dir)
    assert history == plain_history, (history, plain_history)
    for got, want in zip(weights, plain_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    run = epochjump.read_run(log_dir)
    assert len(run["loss"].train_eval_training_mode) == 3, run.problems

    log_dir = os.path.join(log_root, "bn")
    _, epoch_weights, _ = fit(bn_model(0.0), x, y, log_dir)
    run = epochjump.read_run(log_dir)
    xs = x[:SUBSET].astype(np.float64)
    for epoch, w in enumerate(epoch_weights):
        loss, accuracy = batch_norm_training_mode(w, xs, y[:SUBSET], BATCH)
        got_loss = run["loss"].train_eval_training_mode.value[epoch]
        got_accuracy = run["accuracy"].train_eval_training_mode.value[epoch]
        assert abs(got_loss - loss) <= 1e-5 * abs(loss), (epoch, got_loss, loss)
        assert abs(got_accuracy - accuracy) <= 1e-6, (epoch, got_accuracy, accuracy)
        assert abs(run["loss"].train_eval.value[epoch] - got_loss) > 1e-4
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
