"""Checks the Keras 3 adapter's backend-only functions; prints "exact" when they hold.

Run with KERAS_BACKEND=jax (`update_metrics_variables`) or KERAS_BACKEND=torch
(`variable_storage`), by tests/record/test_keras_api.py.
"""

import keras
import numpy as np

from epochjump.record.keras_api import keras3


def check_update_metrics_variables():
    """The stateless metric update gives the new states; the model's own
    variables stay as they were."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.build((None, 1))
    model.evaluate(np.zeros((1, 1)), np.zeros((1, 1)), verbose=0)  # Builds metrics.
    model.reset_metrics()
    before = [np.array(v.value) for v in model.metrics_variables]
    y = np.array([[1.0], [3.0]], "float32")
    y_pred = np.array([[0.0], [0.0]], "float32")
    states = keras3.update_metrics_variables(
        model,
        [v.value for v in model.metrics_variables],
        np.float32(5.0),
        np.zeros((2, 1), "float32"),
        y,
        y_pred,
        None,
    )
    totals = sorted(
        float(np.sum(s))
        for v, s in zip(model.metrics_variables, states)
        if v.name == "total"
    )
    # The loss tracker adds 5 x 2 samples; mae adds |1 - 0| + |3 - 0|.
    assert totals == [4.0, 10.0], totals
    after = [np.array(v.value) for v in model.metrics_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def check_variable_storage():
    """The storage is the tensor `assign` changes in place."""
    import torch

    variable = keras.Variable(np.float32(2.0))
    storage = keras3.variable_storage(variable)
    assert isinstance(storage, torch.Tensor)
    variable.assign(np.float32(3.0))
    assert float(storage) == 3.0


if __name__ == "__main__":
    backend = keras.backend.backend()
    if backend == "jax":
        check_update_metrics_variables()
    elif backend == "torch":
        check_variable_storage()
    else:
        raise SystemExit(f"no backend-only checks for {backend}")
    print("exact")
