"""Under tf.distribute.MirroredStrategy over two logical CPUs, `train_eval`
is recorded, the training-mode evaluation is skipped with a warning, and
`History` and the weights are those of a fit without the callback; run as a
script by test_training_mode.py. Exits non-zero on failure."""

import os
import sys
import warnings

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402


def make_model(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(16),
                keras.layers.BatchNormalization(),
                keras.layers.Activation("relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def main(log_dir):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = digits(264)

    def fit(callbacks):
        model = make_model(strategy)
        history = quiet_fit(
            model,
            x[:200],
            y[:200],
            callbacks,
            32,
            shuffle=True,
            validation_data=(x[200:], y[200:]),
        )
        return history, model.get_weights()

    plain_history, plain_weights = fit([])
    callback = epochjump.EpochJumpCallback(log_dir, train_eval_data=(x[:64], y[:64]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history, weights = fit([callback])
    assert history == plain_history, (history, plain_history)
    for got, want in zip(weights, plain_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    messages = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert messages == [
        "epochjump: no training-mode evaluation for a model replicated by a "
        "tf.distribute strategy (2 replicas)"
    ], messages
    run = epochjump.read_run(log_dir)
    assert len(run["loss"].train_eval) == 2
    assert len(run["loss"].train_eval_training_mode) == 0
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
