"""Reads an optimizer's learning rate: its variable, or its schedule on the host.

A fixed learning rate (which `LearningRateScheduler` and `ReduceLROnPlateau`
change between epochs) is one variable, read where the callback looks
(an epoch's first batch, a flush). A `LearningRateSchedule` changes the rate
every step on the device; its values for the recorded steps are computed on
the host from the schedule itself, with no device read.
"""

import numpy as np

from epochjump.record import keras_api


def schedule_of(optimizer):
    """The optimizer's `LearningRateSchedule`, or None for a fixed rate.

    Args:
      optimizer: a Keras 3 or Keras 2 (`tf_keras`) optimizer, possibly a
        `LossScaleOptimizer` wrapping one.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    rate = keras_api.for_model(inner).learning_rate_of(inner)
    if any(cls.__name__ == "LearningRateSchedule" for cls in type(rate).__mro__):
        return rate
    return None


def current(optimizer):
    """The optimizer's learning rate now, as a float (one device read).

    Args:
      optimizer: a Keras 3 or Keras 2 (`tf_keras`) optimizer.
    """
    rate = optimizer.learning_rate
    # The backend tensor's own scalar read: one host copy.
    tensor = getattr(rate, "value", rate)
    if callable(getattr(tensor, "item", None)):
        return float(tensor.item())
    return _to_float(rate)


def schedule_values(schedule, steps):
    """The learning rate a schedule gives each recorded batch.

    The batch that ends at global step `s` is trained with the rate at
    iteration `s - 1` (the optimizer applies `schedule(iterations)` before it
    increments `iterations`).

    Args:
      schedule: a `LearningRateSchedule`.
      steps: 1-D int64 array of global steps.

    Returns:
      A float64 array like `steps`.
    """
    iterations = np.asarray(steps, np.int64) - 1
    try:
        values = np.asarray(_numpy(schedule(iterations)), np.float64)
    except Exception:  # noqa: BLE001 - a schedule written for scalar steps.
        values = None
    if values is None or values.shape != iterations.shape:
        # Schedules with branches (warm-up, `ops.cond`) take one step at once.
        values = np.array([_to_float(schedule(int(i))) for i in iterations], np.float64)
    return values


def change_points(values):
    """Indices where `values` differs from the one before (the first included)."""
    if len(values) == 0:
        return np.zeros(0, np.int64)
    changed = np.ones(len(values), bool)
    changed[1:] = (values[1:] != values[:-1]) & ~(
        np.isnan(values[1:]) & np.isnan(values[:-1])
    )
    return np.flatnonzero(changed)


def _numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    elif hasattr(value, "detach"):  # A torch tensor.
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _to_float(value):
    return float(_numpy(value).reshape(-1)[0])
