"""Where epochs sit on the chart's "epoch" axis; how finely batches were recorded."""

import numpy as np


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


def batches_per_record(series):
    """How finely batches were recorded: the largest step between
    consecutive records of an epoch.

    Args:
      series: `MetricData` or None.

    Returns:
      int: 1 when every batch was recorded, else the largest number of
      batches one record covers (`words.runs.resolution` says it in words).
    """
    if series is None or len(series) < 2:
        return 1
    same_epoch = series.epoch[1:] == series.epoch[:-1]
    gaps = np.diff(series.step)[same_epoch]
    return max(int(gaps.max()), 1) if len(gaps) else 1
