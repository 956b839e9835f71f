"""The model's level during and at the end of an epoch, from its exact batch values.

During an epoch the level shown is an exponentially weighted mean of the exact
batch values (weights halve every `half_life` batches, carried across the
epochs of one `fit()`); at an epoch's end it is `analysis.levels.level_at_end`
of the epoch's batch values, the function `analysis.jumps.epoch_ends` uses, so
the terminal says what `epochjump explain` and the TensorBoard tab say.
"""

import math

import numpy as np

from epochjump.analysis import levels

# Batches after which a batch's weight in the live level has halved.
DEFAULT_HALF_LIFE = 10


class LevelTracker:
    """Collects one `fit()`'s batch rows and turns them into levels.

    Args:
      half_life: positive number, in batches, for the live level.
    """

    def __init__(self, half_life=DEFAULT_HALF_LIFE):
        self._decay = 0.5 ** (1.0 / half_life)
        self._sums = {}  # metric -> (weighted sum, total weight)
        self.start_epoch()

    def start_epoch(self):
        """Forgets the previous epoch's rows (not the live level's memory)."""
        self._batch_values = {}
        # metric -> list of the live level after each batch of the epoch;
        # lists only grow within an epoch, so another thread may index them.
        self.live = {}

    def add(self, batch_values):
        """Appends rows as read from a `batch_feed.Subscription`.

        Args:
          batch_values: dict from metric name to a float32 array, the exact
            value of each new batch, in order.
        """
        for metric, values in batch_values.items():
            if not len(values):
                continue
            self._batch_values.setdefault(metric, []).append(values)
            total, weight = self._sums.get(metric, (0.0, 0.0))
            live = self.live.setdefault(metric, [])
            for value in values.tolist():
                total, weight = total * self._decay, weight * self._decay
                if math.isfinite(value):
                    total, weight = total + value, weight + 1.0
                live.append(total / weight if weight else math.nan)
            self._sums[metric] = (total, weight)

    def live_at(self, batch):
        """The live level of each metric after `batch` (0-based, in the
        epoch), or after the latest batch added before it.

        Returns:
          dict from metric name to float; metrics without a finite level are
          left out.
        """
        shown = {}
        for metric, live in list(self.live.items()):
            n = len(live)
            if n:
                value = live[min(batch, n - 1)]
                if math.isfinite(value):
                    shown[metric] = value
        return shown

    def epoch_ends(self):
        """Where the current epoch ended, as `analysis.jumps.epoch_ends` says.

        Returns:
          dict from metric name to `analysis.levels.Level` (value, stderr,
          window) at the epoch's last batch.
        """
        return {
            # As the reader decodes them: the float32 values held as float64.
            metric: levels.level_at_end(np.concatenate(values).astype(np.float64))
            for metric, values in self._batch_values.items()
            if values
        }
