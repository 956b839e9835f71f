"""The run-level marks of `Writer`: epoch starts, evaluations, training-session
starts and the learning rate."""

import math
import time

import numpy as np

from epochjump import metadata
from epochjump.record import arguments


class Marks:
    """`Writer.start_epoch`, `log_eval`, `start_fit` and `log_learning_rate`.

    A base of `Writer`: it appends to the writer's pending scalars, after its
    open and lease checks.
    """

    def start_epoch(self, step, epoch=None):
        """Marks the start of an epoch.

        Args:
          step: int, the global step of the epoch's first batch.
          epoch: int or None, the epoch's 0-based ordinal as the training loop
            counts it (Keras's `epoch`). Readers number epochs by it, so
            epochs keep their numbers even when earlier data was lost; when
            None, readers count the epoch starts they find.

        Raises:
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        step = arguments.check_step(step)
        if epoch is not None:
            epoch = arguments.check_epoch(epoch)
        self._check_open()
        self._claim_early()
        self._running_means.reset()
        now = time.time()
        self._pending_scalars.append(
            (metadata.EPOCH_START, None, step, now, np.int64(step))
        )
        if epoch is not None:
            self._pending_scalars.append(
                (metadata.EPOCH_INDEX, None, step, now, np.int64(epoch))
            )

    def log_eval(self, kind, step, values):
        """Records one evaluation per metric, made at the end of an epoch.

        Args:
          kind: "train_eval" (a fixed training subset evaluated in inference
            mode), "train_eval_training_mode" (the same subset and weights in
            training mode: dropout active, batch norm on batch statistics) or
            "val" (validation data).
          step: int, the global step of the epoch's last batch.
          values: dict from metric name (without `val_`) to value.

        Raises:
          ValueError: for a bad kind, step, metric name or value.
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        if kind not in metadata.EVAL_KINDS:
            raise ValueError(
                f"`kind` must be one of {metadata.EVAL_KINDS}. Received: kind={kind!r}"
            )
        self._check_open()
        self._claim_early()
        step = arguments.check_step(step)
        values = arguments.check_values(values, "values")
        now = time.time()
        for metric, value in values.items():
            self._pending_scalars.append((kind, metric, step, now, np.float64(value)))

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
