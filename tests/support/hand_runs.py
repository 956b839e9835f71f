"""Runs built by hand with known numbers, for the tests of the words.

Keras-style running means are computed here from the batch values, so the
expected texts can be written from these numbers alone.
"""

import dataclasses
import types

import numpy as np

from epochjump.read import run_data as model

BATCHES = 40
# Alternating batch noise around a line: the level estimates stay near the line.
NOISE = 0.02


def epoch_values(start, stop):
    """One epoch's batch values: a line from `start` to `stop`, plus noise."""
    ramp = np.linspace(start, stop, BATCHES)
    return ramp + NOISE * np.where(np.arange(BATCHES) % 2, 1.0, -1.0)


def evals(steps, values):
    steps = np.asarray(steps, np.int64)
    return model.EvalSeries(
        step=steps,
        epoch=np.arange(len(steps), dtype=np.int64),
        wall_time=steps.astype(float),
        value=np.asarray(values, float),
    )


def keras_batches(epochs):
    """`(steps, epochs, values, running means)` arrays of the batches whose
    values are `epochs[e]` in epoch `e`: steps from 1, and running means
    restarting at each epoch, as Keras prints them."""
    steps, epoch_ids, values, means = [], [], [], []
    for e, batch_values in enumerate(epochs):
        total = 0.0
        for i, value in enumerate(batch_values):
            steps.append(len(steps) + 1)
            epoch_ids.append(e)
            values.append(float(value))
            total += float(value)
            means.append(total / (i + 1))
    return (
        np.array(steps, np.int64),
        np.array(epoch_ids, np.int64),
        np.array(values),
        np.array(means),
    )


def hand_run(epochs, val, train_eval=None, name="hand", training_mode=None):
    """A run of one metric ("accuracy") from per-epoch batch values, with
    Keras-style running means, one `val` per epoch (the last included) and,
    when given, the training subset in inference and in training mode."""
    steps, epoch_ids, values, means = keras_batches(epochs)
    ends = [int(steps[epoch_ids == e][-1]) for e in range(len(epochs))]
    empty = evals([], [])
    series = model.MetricData(
        name="accuracy",
        step=steps,
        epoch=epoch_ids,
        wall_time=steps.astype(float),
        batch_value=values,
        running_mean=means,
        train_eval=evals(ends, train_eval) if train_eval else empty,
        val=evals(ends, val),
        train_eval_training_mode=(
            evals(ends, training_mode) if training_mode else empty
        ),
    )
    starts = np.array([int(steps[epoch_ids == e][0]) for e in range(len(epochs))])
    return model.RunData(
        name=name,
        metrics=("accuracy",),
        epoch_starts=starts,
        problems=(),
        _series={"accuracy": series},
    )


def rising_run():
    """Three epochs of a rising accuracy: the running mean trails the model."""
    epochs = [
        epoch_values(0.5, 0.9),
        epoch_values(0.93, 0.96),
        epoch_values(0.98, 0.99),
    ]
    return hand_run(epochs, val=[0.91, 0.955, 0.97], train_eval=[0.92, 0.965, 0.985])


def with_fields(base, **fields):
    """A copy of the record `base` (a `Jump`, `EpochEnd` or a copy) with some
    fields set (the attributes the words read)."""
    record = (
        dict(vars(base))
        if isinstance(base, types.SimpleNamespace)
        else dataclasses.asdict(base)
    )
    record.update(fields)
    return types.SimpleNamespace(**record)


def keras(value, sign=""):
    """A value as Keras's progress bar prints it (`keras.utils.Progbar`):
    4 decimals above 1e-3, else 4 decimals in scientific notation."""
    value = float(value)
    return f"{value:{sign}.4f}" if abs(value) > 1e-3 else f"{value:{sign}.4e}"
