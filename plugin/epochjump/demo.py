"""The demo: a small Keras model with dropout, trained on scikit-learn's digits."""

import os

DEMO_RUN = "digits_dropout"
LEARNING_RATE = 1e-3


def train_demo(logdir, epochs=6, seed=0, verbose=0):
    """Trains the demo model with `EpochJumpCallback` and returns the run dir.

    The digits data ships with scikit-learn, so nothing is downloaded. The
    model has dropout, so evaluating in inference mode differs visibly from the
    training-mode batch values, and its learning rate halves halfway through
    (a `LearningRateScheduler` step decay from epoch `epochs // 2` on, 0-based),
    so the tab has a learning-rate change to mark.

    Args:
      logdir: str, the log directory; the run is written to
        `logdir/digits_dropout`.
      epochs: int, default 6.
      seed: int, default 0, for repeatable runs.
      verbose: int, Keras's `fit` verbosity.

    Returns:
      str, the run directory.
    """
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    import epochjump

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    run_dir = os.path.join(logdir, DEMO_RUN)
    callback = epochjump.EpochJumpCallback(
        run_dir, train_eval_data=(x_train[:512], y_train[:512])
    )
    decay_from = epochs // 2

    def step_decay(epoch, lr):
        return LEARNING_RATE / 2 if epoch >= decay_from else LEARNING_RATE

    schedule = keras.callbacks.LearningRateScheduler(step_decay)
    model.fit(
        x_train,
        y_train,
        batch_size=16,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[schedule, callback],
        verbose=verbose,
    )
    return run_dir
