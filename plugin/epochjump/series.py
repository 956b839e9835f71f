"""The `series` answer of the plugin: batch series, evaluations, epoch axis."""

import numpy as np

from epochjump import downsample


def series_answer(run, series, start=None, end=None, max_points=None):
    """Builds the `series` answer for one metric of a run.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run`.
      start: int or None, the first global step wanted (inclusive).
      end: int or None, the last global step wanted (inclusive).
      max_points: int, or None for every batch in the range.

    Returns:
      A JSON-ready dict (non-finite floats left as floats).
    """
    steps = series.step
    lo = 0 if start is None else int(np.searchsorted(steps, start, side="left"))
    hi = len(steps) if end is None else int(np.searchsorted(steps, end, side="right"))
    hi = max(lo, hi)
    total = hi - lo
    if max_points is None or total <= max_points:
        picks = slice(lo, hi)
    else:
        picks = lo + downsample.downsample_indices(
            steps[lo:hi], series.epoch[lo:hi], series.batch_value[lo:hi], max_points
        )
    geometry = EpochGeometry(series, run.epoch_starts)
    batch_steps = steps[picks]
    batch_epochs = series.epoch[picks]
    range_start = start if start is not None else _first(steps)
    range_end = end if end is not None else _last(steps)
    return {
        "run": run.name,
        "metric": series.name,
        "epoch_starts": run.epoch_starts.tolist(),
        "range": {"start": range_start, "end": range_end},
        "total_batches": total,
        "downsampled": not isinstance(picks, slice),
        "resolution": resolution(series),
        "batches": {
            "step": batch_steps.tolist(),
            "epoch": batch_epochs.tolist(),
            "epoch_fraction": geometry.fraction(batch_epochs, batch_steps).tolist(),
            "wall_time": series.wall_time[picks].tolist(),
            "batch_value": series.batch_value[picks].tolist(),
            "running_mean": series.running_mean[picks].tolist(),
        },
        "train_eval": _evals(series.train_eval, geometry, start, end),
        "val": _evals(series.val, geometry, start, end),
    }


class EpochGeometry:
    """Where each epoch sits on the "epoch" axis of the chart.

    Epoch `e` spans from its first step (its recorded start, or its first
    batch if earlier) to its last recorded batch, which lands at `e + 1`.

    Args:
      series: `MetricData`.
      epoch_starts: int64 array, the run's epoch starts.
    """

    def __init__(self, series, epoch_starts):
        epoch = series.epoch
        # Evaluations without epoch starts or batches belong to epoch 0.
        size = max(len(epoch_starts), int(epoch[-1]) + 1 if len(epoch) else 1)
        self._first_step = np.zeros(size, np.int64)
        self._length = np.zeros(size, np.int64)  # 0: no batches recorded
        if not len(epoch):
            return
        change = np.flatnonzero(epoch[1:] != epoch[:-1]) + 1
        first = np.concatenate(([0], change))
        last = np.concatenate((change - 1, [len(epoch) - 1]))
        ids = epoch[first]
        first_step = series.step[first]
        if len(epoch_starts):
            first_step = np.minimum(first_step, epoch_starts[ids])
        self._first_step[ids] = first_step
        self._length[ids] = series.step[last] - first_step + 1

    def fraction(self, epochs, steps):
        """`epoch + (step - first_step + 1) / length`; `epoch + 1` for an
        epoch without recorded batches.

        Args:
          epochs: int64 array, epoch ordinals (each < the number of epochs).
          steps: int64 array, global steps.

        Returns:
          A float64 array.
        """
        epochs = np.asarray(epochs, np.int64)
        length = self._length[epochs]
        within = (steps - self._first_step[epochs] + 1) / np.maximum(length, 1)
        return epochs + np.where(length > 0, within, 1.0)


def resolution(series):
    """How finely batches were recorded, in words.

    Args:
      series: `MetricData` or None.

    Returns:
      "batch" when consecutive records of an epoch are one step apart, else
      "chunks of up to N batches" with N the largest such gap.
    """
    if series is None or len(series) < 2:
        return "batch"
    same_epoch = series.epoch[1:] == series.epoch[:-1]
    gaps = np.diff(series.step)[same_epoch]
    largest = int(gaps.max()) if len(gaps) else 1
    return "batch" if largest <= 1 else f"chunks of up to {largest} batches"


def _evals(evals, geometry, start, end):
    keep = np.ones(len(evals), bool)
    if start is not None:
        keep &= evals.step >= start
    if end is not None:
        keep &= evals.step <= end
    steps, epochs = evals.step[keep], evals.epoch[keep]
    return {
        "step": steps.tolist(),
        "epoch": epochs.tolist(),
        "epoch_fraction": geometry.fraction(epochs, steps).tolist(),
        "wall_time": evals.wall_time[keep].tolist(),
        "value": evals.value[keep].tolist(),
    }


def _first(steps):
    return int(steps[0]) if len(steps) else None


def _last(steps):
    return int(steps[-1]) if len(steps) else None
