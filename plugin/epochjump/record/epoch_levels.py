"""The model's level during and at the end of an epoch, from its exact batch values.

During an epoch the level shown is an exponentially weighted mean of the exact
batch values (weights halve every `half_life` batches, carried across the
epochs of one `fit()`); at an epoch's end it is `analysis.jumps.epoch_ends`'s
`level_at_end`, computed on the epoch's batch values by the analysis itself,
so the terminal says what `epochjump explain` and the TensorBoard tab say.
"""

import math

import numpy as np

from epochjump.analysis import jumps
from epochjump.read.run_data import EvalSeries
from epochjump.read.run_data import MetricData
from epochjump.read.run_data import RunData

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
        self._steps = []
        self._batch_values = {}
        self._running_means = {}
        # metric -> list of the live level after each batch of the epoch;
        # lists only grow within an epoch, so another thread may index them.
        self.live = {}

    def add(self, steps, batch_values, running_means):
        """Appends rows as read from a `batch_feed.Subscription`.

        Args:
          steps: int64 array [n].
          batch_values, running_means: dicts from metric name to float32 [n].
        """
        if not len(steps):
            return
        self._steps.append(np.asarray(steps, np.int64))
        for metric, values in batch_values.items():
            self._batch_values.setdefault(metric, []).append(values)
            self._running_means.setdefault(metric, []).append(running_means[metric])
            total, weight = self._sums.get(metric, (0.0, 0.0))
            live = self.live.setdefault(metric, [])
            for value in values.tolist():
                total, weight = total * self._decay, weight * self._decay
                if math.isfinite(value):
                    total, weight = total + value, weight + 1.0
                live.append(total / weight if weight else math.nan)
            self._sums[metric] = (total, weight)

    @property
    def batches(self):
        """How many batches of the current epoch were added."""
        return sum(len(s) for s in self._steps)

    def live_at(self, batch):
        """The live level of each metric after `batch` (0-based, in the
        epoch), or after the latest batch added before it.

        Returns:
          dict from metric name to float; metrics without a finite level are
          left out.
        """
        levels = {}
        for metric, live in list(self.live.items()):
            n = len(live)
            if n:
                value = live[min(batch, n - 1)]
                if math.isfinite(value):
                    levels[metric] = value
        return levels

    def epoch_ends(self):
        """Where the current epoch ended, by `analysis.jumps.epoch_ends`.

        Returns:
          dict from metric name to `jumps.EpochEnd` (its `train_eval` and
          `val` are NaN: the bar takes them from the evaluations themselves).
        """
        if not self._steps:
            return {}
        steps = np.concatenate(self._steps)
        n = len(steps)
        empty = EvalSeries(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.float64),
        )
        series = {
            metric: MetricData(
                name=metric,
                step=steps,
                epoch=np.zeros(n, np.int64),
                wall_time=np.zeros(n, np.float64),
                # As the reader decodes them: float32 values held as float64.
                batch_value=np.concatenate(values).astype(np.float64),
                running_mean=np.concatenate(self._running_means[metric]).astype(
                    np.float64
                ),
                train_eval=empty,
                val=empty,
            )
            for metric, values in self._batch_values.items()
        }
        run = RunData(
            name="progress bar",
            metrics=tuple(series),
            epoch_starts=steps[:1],
            problems=(),
            _series=series,
        )
        return {metric: jumps.epoch_ends(run, metric)[0] for metric in series}
