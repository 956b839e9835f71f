"""The run model: one run's epochjump data as numpy arrays (`RunData`)."""

import dataclasses

import numpy as np


def _empty_int():
    return np.zeros(0, np.int64)


def _empty_float():
    return np.zeros(0, np.float64)


@dataclasses.dataclass(frozen=True)
class EvalSeries:
    """Evaluations recorded once per epoch (`train_eval`,
    `train_eval_training_mode` or `val`).

    Attributes:
      step: int64 array, global step at the end of the evaluated epoch.
      epoch: int64 array, 0-based epoch ordinal within the run.
      wall_time: float64 array, seconds since the epoch (Unix time).
      value: float64 array, the evaluated value.
    """

    step: np.ndarray
    epoch: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray

    def __len__(self):
        return len(self.step)


def empty_evals():
    """An `EvalSeries` with no evaluations."""
    return EvalSeries(_empty_int(), _empty_int(), _empty_float(), _empty_float())


@dataclasses.dataclass(frozen=True)
class LearningRate:
    """The learning rate where it changed, one entry per change.

    Attributes:
      step: int64 array, ascending: the first global step trained with each
        value (the first recorded value included).
      value: float64 array, the learning rate in force from that step on.
    """

    step: np.ndarray = dataclasses.field(default_factory=_empty_int)
    value: np.ndarray = dataclasses.field(default_factory=_empty_float)

    def __len__(self):
        return len(self.step)

    def at(self, steps):
        """The learning rate in force at each of `steps`.

        Args:
          steps: int array of global steps.

        Returns:
          A float64 array; NaN before the first recorded value.
        """
        index = np.searchsorted(self.step, np.asarray(steps), side="right") - 1
        values = np.append(self.value, np.nan)  # index -1 reads the NaN.
        return values[np.where(index >= 0, index, len(self.value))]


@dataclasses.dataclass(frozen=True)
class MetricData:
    """Everything recorded for one metric, one entry per recorded batch.

    Attributes:
      name: str, the metric name as Keras logs it (e.g. "accuracy").
      step: int64 array, global step after the batch (1 for a fresh model).
      epoch: int64 array, 0-based epoch ordinal within the run.
      wall_time: float64 array, when the batch finished (Unix time).
      batch_value: float64 array, the metric of that batch alone.
      running_mean: float64 array, what Keras reported at that batch.
      train_eval: `EvalSeries`, post-epoch inference-mode evaluations of the
        fixed training subset (empty when not recorded).
      val: `EvalSeries`, validation values (empty when not recorded).
      train_eval_training_mode: `EvalSeries`, the same subset with the same
        weights evaluated in training mode (dropout active, batch norm on
        batch statistics); empty when not recorded (format version 1).
    """

    name: str
    step: np.ndarray
    epoch: np.ndarray
    wall_time: np.ndarray
    batch_value: np.ndarray
    running_mean: np.ndarray
    train_eval: EvalSeries
    val: EvalSeries
    train_eval_training_mode: EvalSeries = dataclasses.field(
        default_factory=empty_evals
    )

    def __len__(self):
        return len(self.step)


@dataclasses.dataclass(frozen=True)
class RunData:
    """One run's epochjump data.

    Attributes:
      name: str, the run name (directory relative to the logdir, or the path).
      metrics: tuple of metric names, without the `val_` prefix.
      epoch_starts: int64 array, global step of each epoch's first batch.
      problems: tuple of str, data that could not be read, per tag.
      learning_rate: `LearningRate`, where the learning rate changed (empty
        when not recorded, as in format version 1).
      fit_starts: int64 array, ascending: the global step of the first batch
        of each training session (`fit()` call); empty when not recorded.
    """

    name: str
    metrics: tuple
    epoch_starts: np.ndarray
    problems: tuple
    _series: dict = dataclasses.field(repr=False)
    learning_rate: LearningRate = dataclasses.field(default_factory=LearningRate)
    fit_starts: np.ndarray = dataclasses.field(default_factory=_empty_int)

    def __getitem__(self, metric):
        try:
            return self._series[metric]
        except KeyError:
            raise KeyError(
                f"No metric {metric!r} in run {self.name!r}; "
                f"it has {list(self.metrics)}"
            ) from None

    def __contains__(self, metric):
        return metric in self._series

    @property
    def num_batches(self):
        """Number of recorded batches (the same for every metric)."""
        return max((len(s) for s in self._series.values()), default=0)

    @property
    def has_train_eval(self):
        return any(len(s.train_eval) for s in self._series.values())

    @property
    def has_train_eval_training_mode(self):
        return any(len(s.train_eval_training_mode) for s in self._series.values())

    @property
    def has_val(self):
        return any(len(s.val) for s in self._series.values())


@dataclasses.dataclass(frozen=True)
class Datum:
    """One stored event of a tag: step, wall time and tensor value."""

    step: int
    wall_time: float
    value: np.ndarray


def epoch_of(steps, epoch_starts):
    """Returns the 0-based epoch ordinal of each step.

    Args:
      steps: int64 array of global steps.
      epoch_starts: ascending int64 array, the first step of each epoch.

    Returns:
      An int64 array; steps before the first epoch start count as epoch 0.
    """
    epochs = np.searchsorted(epoch_starts, steps, side="right") - 1
    return np.maximum(epochs, 0).astype(np.int64)
