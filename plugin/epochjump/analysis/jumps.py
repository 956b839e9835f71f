"""Decomposes each epoch-boundary jump of a metric (pure numpy, no I/O).

For the boundary after epoch `e` of a metric:

- `reported`: the running mean at the epoch's last batch, which is what Keras
  printed for the epoch.
- `level_at_end`: the model's training-mode level at the epoch's last batch,
  with its standard error `lag_stderr` (`reported` is exact): estimated by
  `boundary.across` from the batch values on both sides of the
  boundary (the epoch's last run of batches and the next epoch's first), or
  by `levels.level_at_end` from the epoch's own batches when no next epoch
  was recorded (a line fitted to the batches nearest the edge, its window
  chosen from the data).
- `first_next`: the first value recorded in epoch `e + 1` (its first batch;
  running mean and batch value are equal there).
- `jump = first_next - reported`, split into `lag = level_at_end - reported`
  (the running mean trailing the model) and `progress = first_next -
  level_at_end` (the model changing, plus batch-to-batch noise), so
  `jump == lag + progress` exactly.
- `level_after`: the level at the first batch of epoch `e + 1`, estimated
  from that epoch's batch values by `levels.level_at_start`, and `progress`
  split again into `boundary_step = level_after - level_at_end` (the model
  changing across the boundary) and `first_batch_noise = first_next -
  level_after` (the first batch's own noise; compare with `noise_sd`), so
  `progress == boundary_step + first_batch_noise` exactly.
- `train_eval` / `train_eval_training_mode` / `mode_gap = train_eval -
  train_eval_training_mode`: the fixed training subset evaluated after the
  epoch in inference mode and in training mode, with the same weights on the
  same samples, so the gap is exactly dropout and batch-norm statistics; NaN
  without the training-mode evaluation (runs of format version 1).
- `val`: the validation value after the epoch.
- `learning_rate_before` / `learning_rate_after`: the learning rate in force
  at the epoch's last batch and at the next epoch's first; NaN when not
  recorded. `learning_rate_scheduled`: the rate also changes inside one of
  the two epochs (a per-step schedule), so a change at the boundary is one
  step of many, not the boundary's own.

The records, `EpochEnd` and `Jump`, are defined in `records.py` (the tab's
types are generated from them).
"""

import dataclasses
import math

import numpy as np

from epochjump.analysis import boundary
from epochjump.analysis import levels
from epochjump.analysis.records import EpochEnd
from epochjump.analysis.records import Jump

# Accepted (and checked) for callers of the earlier fixed-window estimator;
# the window is now chosen per epoch edge from the data.
LEVEL_FRACTION = 0.1
ESTIMATOR = (
    "level_at_end, level_after: a least-squares line (triangular weights) "
    "through the batches nearest the epoch's edge, evaluated at the edge "
    "batch, its window chosen per edge to minimise estimated bias² + "
    "variance; level_at_end, when a next epoch was recorded, averaged with "
    "a line fitted across the boundary (one slope, a step allowed); ± stderr "
    "from the fit, the batch noise and the window's bias"
)


@dataclasses.dataclass(frozen=True)
class Explanation:
    """One metric of one run, decomposed once: what every answer about it uses.

    Attributes:
      metric: str, the metric name.
      epoch_ends: list of `EpochEnd`, one per recorded epoch, in order.
      jumps: list of `Jump`, one per boundary between consecutive epochs.
    """

    metric: str
    epoch_ends: list
    jumps: list


def explained(run, metric, level_fraction=LEVEL_FRACTION):
    """The `Explanation` of one metric: `epoch_ends` and the jumps built from
    them, each estimate computed once.

    Args:
      run: `epochjump.RunData`, from `epochjump.read_run`.
      metric: str, a name in `run.metrics` (without `val_`).
      level_fraction: float in (0, 1], default 0.1, ignored as in `explain`.

    Returns:
      An `Explanation`.

    Raises:
      KeyError: if the run has no such metric.
      ValueError: for a bad `level_fraction`.
    """
    ends = epoch_ends(run, metric, level_fraction)
    return Explanation(metric, ends, _jumps(run, metric, ends))


def explain(run, metric, level_fraction=LEVEL_FRACTION):
    """Decomposes the jump at every epoch boundary of one metric.

    Args:
      run: `epochjump.RunData`, from `epochjump.read_run`.
      metric: str, a name in `run.metrics` (without `val_`).
      level_fraction: float in (0, 1], default 0.1. Ignored: the window of
        each estimate is chosen from the data (see `epochjump.analysis.levels`); still
        checked, for callers of the earlier fixed-fraction estimator.

    Returns:
      A list of `Jump`, one per boundary between two consecutive recorded
      epochs, in order.

    Raises:
      KeyError: if the run has no such metric.
      ValueError: for a bad `level_fraction`.
    """
    return explained(run, metric, level_fraction).jumps


def _jumps(run, metric, ends):
    """The `Jump`s between consecutive `ends` (from `epoch_ends`)."""
    series = run[metric]
    jumps = []
    for end, following in zip(ends, ends[1:]):
        if following.epoch != end.epoch + 1:
            continue
        # Steps ascend: the batch after the epoch's last is the next's first.
        nxt = int(np.searchsorted(series.step, end.last_step, side="right"))
        first_next = float(series.running_mean[nxt])
        rate_before, rate_after = _learning_rates(
            run, end.last_step, int(series.step[nxt])
        )
        first = int(np.searchsorted(series.epoch, end.epoch, side="left"))
        scheduled = _changes_inside(
            run.learning_rate, int(series.step[first]), end.last_step
        ) or _changes_inside(
            run.learning_rate, int(series.step[nxt]), following.last_step
        )
        jumps.append(
            Jump(
                **vars(end),
                first_next_step=int(series.step[nxt]),
                first_next=first_next,
                jump=first_next - end.reported,
                lag=end.level_at_end - end.reported,
                progress=first_next - end.level_at_end,
                mode_gap=end.train_eval - end.train_eval_training_mode,
                learning_rate_before=rate_before,
                learning_rate_after=rate_after,
                learning_rate_scheduled=scheduled,
            )
        )
    return jumps


def _changes_inside(rates, first_step, last_step):
    """Whether the rate changes at a step after `first_step`, up to
    `last_step` (every recorded value after the first is a change)."""
    changes = rates.step[1:]
    return bool(np.any((changes > first_step) & (changes <= last_step)))


def _learning_rates(run, *steps):
    rates = run.learning_rate
    if len(rates) == 0:
        return tuple(math.nan for _ in steps)
    return tuple(float(v) for v in rates.at(np.array(steps, np.int64)))


def epoch_ends(run, metric, level_fraction=LEVEL_FRACTION):
    """Where every recorded epoch ended, the last one included.

    `explain` needs a next epoch; this does not, so the last epoch (where
    validation is usually compared with training) is covered too. For an
    epoch with a following one, `reported` and `level_at_end` equal those of
    its `Jump`.

    Args:
      run: `epochjump.RunData`, from `epochjump.read_run`.
      metric: str, a name in `run.metrics` (without `val_`).
      level_fraction: float in (0, 1], default 0.1, ignored as in `explain`.

    Returns:
      A list of `EpochEnd`, one per epoch with recorded batches, in order.

    Raises:
      KeyError: if the run has no such metric.
      ValueError: for a bad `level_fraction`.
    """
    if not 0 < level_fraction <= 1:
        raise ValueError(
            f"`level_fraction` must be in (0, 1]. Received: {level_fraction!r}"
        )
    series = run[metric]
    if len(series) == 0:
        return []
    epochs, first_index = np.unique(series.epoch, return_index=True)
    last_index = np.append(first_index[1:], len(series)) - 1
    spans = list(zip(epochs.tolist(), first_index, last_index + 1))
    ends = []
    for i, (epoch, first, stop) in enumerate(spans):
        values = series.batch_value[first:stop]
        after, step_stderr = _NO_LEVEL, math.nan
        first_next = math.nan
        if i + 1 < len(spans) and spans[i + 1][0] == epoch + 1:
            _, next_first, next_stop = spans[i + 1]
            next_values = series.batch_value[next_first:next_stop]
            end, after, step_stderr = boundary.across(values, next_values)
            first_next = float(series.running_mean[next_first])
        else:
            end = levels.level_at_end(values)
        reported = float(series.running_mean[stop - 1])
        ends.append(
            EpochEnd(
                metric=metric,
                epoch=epoch,
                last_step=int(series.step[stop - 1]),
                level_batches=end.window,
                reported=reported,
                level_at_end=end.value,
                train_eval=_value_for_epoch(series.train_eval, epoch),
                val=_value_for_epoch(series.val, epoch),
                train_eval_training_mode=_value_for_epoch(
                    series.train_eval_training_mode, epoch
                ),
                lag_stderr=end.stderr,
                level_after=after.value,
                level_after_stderr=after.stderr,
                boundary_step=after.value - end.value,
                boundary_step_stderr=step_stderr,
                first_batch_noise=first_next - after.value,
                noise_sd=_pooled_sd(end.noise_sd, after.noise_sd),
            )
        )
    return ends


_NO_LEVEL = levels.Level(math.nan, math.nan, 0, math.nan, 0)


def _pooled_sd(a, b):
    finite = [v for v in (a, b) if math.isfinite(v)]
    if not finite:
        return math.nan
    return math.sqrt(sum(v * v for v in finite) / len(finite))


def _value_for_epoch(evals, epoch):
    matches = np.flatnonzero(evals.epoch == epoch)
    if len(matches) == 0:
        return math.nan
    return float(evals.value[matches[-1]])
