"""The run-level marks of `Writer`: training-session starts and the learning rate."""

import math
import time

import numpy as np

from epochjump import metadata
from epochjump.record import arguments


class Marks:
    """`Writer.start_fit` and `Writer.log_learning_rate`.

    A base of `Writer`: it appends to the writer's pending scalars, after its
    open and lease checks.
    """

    def start_fit(self, step):
        """Marks the start of a training session (one `fit()` call).

        Args:
          step: int, the global step of the session's first batch.

        Raises:
          ValueError: for a bad step.
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        step = arguments.check_step(step)
        self._check_open()
        self._claim_early()
        self._pending_scalars.append(
            (metadata.FIT_START, None, step, time.time(), np.int64(step))
        )

    def log_learning_rate(self, step, value):
        """Records the learning rate in force from `step` on.

        Call it where the rate may have changed (an epoch's first batch, a
        schedule's steps); a value equal to the last one logged at an earlier
        step is not written again, so calling it often costs nothing on disk.

        Args:
          step: int, the global step of the first batch trained with `value`.
          value: float, the learning rate.

        Raises:
          ValueError: for a bad step or a value that is not a number.
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        step = arguments.check_step(step)
        value = arguments.check_number(value, "value")
        self._check_open()
        self._claim_early()
        last = self._last_learning_rate
        if last is not None and step >= last[0] and _same(value, last[1]):
            return
        self._last_learning_rate = (step, value)
        self._pending_scalars.append(
            (metadata.LEARNING_RATE, None, step, time.time(), np.float64(value))
        )


def _same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))
