"""The training-mode evaluation, and a `History` untouched by both evaluations,
under the Keras backend in KERAS_BACKEND; run as a script by
test_training_mode.py (one process per backend); tf_keras_training_mode.py
runs two of its checks on Keras 2. Exits non-zero on failure."""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402
from support.training_mode import BN_EPSILON  # noqa: E402
from support.training_mode import batch_norm_training_mode  # noqa: E402

BATCH, N, SUBSET = 32, 200, 72  # The subset: batches of 32, 32 and 8.


def bn_model(dropout=0.0, keras_module=keras):
    """64-16(BatchNorm, relu)-[Dropout]-10 softmax, in `keras_module`."""
    return dense_model(
        dropout=dropout, batch_norm_epsilon=BN_EPSILON, keras_module=keras_module
    )


def fit(model, x, y, log_dir=None, keras_module=keras):
    """Three shuffled epochs with validation (and epochjump if `log_dir`);
    returns the history, the weights at each epoch's end and the last ones."""
    epoch_weights = []
    keep = keras_module.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epoch_weights.append(model.get_weights())
    )
    callbacks = [keep]
    if log_dir is not None:
        subset = (x[:SUBSET], y[:SUBSET])
        callbacks.append(epochjump.EpochJumpCallback(log_dir, train_eval_data=subset))
    history = quiet_fit(
        model, x, y, callbacks, BATCH, epochs=3, shuffle=True, train_size=N
    )
    return history, epoch_weights, model.get_weights()


def check_untouched_history(log_root, x, y, keras_module=keras):
    """Dropout + BatchNorm + shuffle + validation: the same fit, float for
    float, with and without the callback's two evaluations."""
    plain_history, _, plain_weights = fit(
        bn_model(0.3, keras_module), x, y, keras_module=keras_module
    )
    log_dir = os.path.join(log_root, "dropout_bn")
    history, _, weights = fit(bn_model(0.3, keras_module), x, y, log_dir, keras_module)
    assert history == plain_history, (history, plain_history)
    assert len(weights) == len(plain_weights)
    for got, want in zip(weights, plain_weights):
        np.testing.assert_array_equal(got, want)
    run = epochjump.read_run(log_dir)
    for metric in ("loss", "accuracy"):
        inference = run[metric].train_eval
        training = run[metric].train_eval_training_mode
        assert training.step.tolist() == inference.step.tolist(), training.step
        assert len(training) == 3, training
        assert not np.array_equal(training.value, inference.value), metric
        np.testing.assert_array_equal(training.epoch, [0, 1, 2])


def check_equal_without_dropout_or_bn(log_root, x, y):
    """No dropout, no batch norm: training mode is inference mode."""
    log_dir = os.path.join(log_root, "plain")
    fit(dense_model(), x, y, log_dir)
    run = epochjump.read_run(log_dir)
    for metric in ("loss", "accuracy"):
        inference = run[metric].train_eval.value
        training = run[metric].train_eval_training_mode.value
        assert len(training) == 3 and len(inference) == 3
        np.testing.assert_allclose(training, inference, rtol=1e-6, atol=1e-6)


def check_batch_norm_by_hand(log_root, x, y, keras_module=keras):
    """BatchNorm without dropout is deterministic in training mode: the
    recorded values equal a numpy forward pass on batch statistics."""
    log_dir = os.path.join(log_root, "bn")
    _, epoch_weights, _ = fit(bn_model(0.0, keras_module), x, y, log_dir, keras_module)
    run = epochjump.read_run(log_dir)
    xs, ys = x[:SUBSET].astype(np.float64), y[:SUBSET]
    for epoch, weights in enumerate(epoch_weights):
        loss, accuracy = batch_norm_training_mode(weights, xs, ys, BATCH)
        got_loss = run["loss"].train_eval_training_mode.value[epoch]
        got_accuracy = run["accuracy"].train_eval_training_mode.value[epoch]
        assert abs(got_loss - loss) <= 1e-5 * abs(loss), (epoch, got_loss, loss)
        assert abs(got_accuracy - accuracy) <= 1e-6, (epoch, got_accuracy, accuracy)
        inference = run["loss"].train_eval.value[epoch]
        assert abs(inference - got_loss) > 1e-4, (epoch, inference, got_loss)


def check_learning_rate_and_fit_starts(log_root, x, y):
    """A step decay by LearningRateScheduler, over two fits."""
    log_dir = os.path.join(log_root, "lr")
    model = dense_model()
    per_epoch = -(-N // BATCH)

    def decay(epoch, rate):
        return 0.1 * 0.5 ** (epoch // 2)

    for initial_epoch, epochs in ((0, 3), (3, 5)):
        # epochjump first: its on_epoch_begin runs before the scheduler's.
        callbacks = [
            epochjump.EpochJumpCallback(log_dir),
            keras.callbacks.LearningRateScheduler(decay),
        ]
        quiet_fit(
            model,
            x[:N],
            y[:N],
            callbacks,
            BATCH,
            epochs,
            shuffle=True,
            initial_epoch=initial_epoch,
        )
    run = epochjump.read_run(log_dir)
    assert run.fit_starts.tolist() == [1, 3 * per_epoch + 1], run.fit_starts
    steps = [1, 2 * per_epoch + 1, 4 * per_epoch + 1]
    assert run.learning_rate.step.tolist() == steps, run.learning_rate
    want = np.float32([0.1, 0.05, 0.025]).astype(np.float64)
    np.testing.assert_array_equal(run.learning_rate.value, want)


def main(log_root):
    x, y = digits(N + 64)
    check_untouched_history(log_root, x, y)
    check_equal_without_dropout_or_bn(log_root, x, y)
    check_batch_norm_by_hand(log_root, x, y)
    check_learning_rate_and_fit_starts(log_root, x, y)
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
