"""One run recorded from another framework's callbacks (Lightning, Transformers).

The callbacks hand over what the framework computed, often as tensors still on
the device; they are copied to the host together at each flush, not per batch.
Every failure after the run has opened becomes one warning: recording must
never end a user's training.
"""

import atexit
import functools
import os
import time
import warnings

import torch

from epochjump.record import arguments
from epochjump.record import signals
from epochjump.record.running_means import RunningMeans
from epochjump.record.writer import Writer


def never_raises(hook):
    """Turns a failure in a callback hook into one warning per hook."""

    @functools.wraps(hook)
    def guarded(self, *args, **kwargs):
        try:
            return hook(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - anything but a crash.
            warn_once(self._warned, hook.__name__, f"{hook.__name__} failed: {e!r}")

    return guarded


def warn_once(warned, key, message):
    """Warns with `message` unless `key` is already in the set `warned`."""
    if key not in warned:
        warned.add(key)
        warnings.warn(f"epochjump: {message}", RuntimeWarning, stacklevel=3)


class RunOwner:
    """What both callbacks keep: their arguments, checked, and the open run.

    Args:
      log_dir: str or os.PathLike, the run directory.
      flush_secs: float, how often buffered batches reach the event file.
    """

    def __init__(self, log_dir, flush_secs):
        # Checked as the Writer checks them, when the callback is made.
        arguments.check_writer_arguments(log_dir, flush_secs, max_buffered_batches=1)
        self.log_dir = os.fspath(log_dir)
        self.flush_secs = float(flush_secs)
        self._run = None
        self._warned = set()

    def _open_run(self):
        """Starts a run; an unwritable `log_dir` raises, before the first batch."""
        self._close_run()
        self._run = FrameworkRun(self.log_dir, self.flush_secs)

    def _close_run(self):
        run, self._run = self._run, None
        if run is not None:
            run.close()


class FrameworkRun:
    """A `Writer` fed batch by batch with values that may be tensors.

    Args:
      log_dir: str or os.PathLike, the run directory.
      flush_secs: float, how often buffered batches reach the event file.
    """

    def __init__(self, log_dir, flush_secs):
        self._writer = Writer(log_dir, flush_secs=flush_secs)
        self._writer.open()  # A bad log_dir fails before the first batch.
        self.flush_secs = float(flush_secs)
        self._rows = []  # (step, wall_time, batch_values, running_means, weight)
        self._last_flush = time.monotonic()
        # Keras-style means, per metric, for values the framework keeps none of.
        self._means = {}
        self._warned = set()
        # The frameworks call no hook when training is killed or crashes:
        # batches still held here are written at exit and on SIGTERM.
        atexit.register(self.close)
        signals.add_source(self._move_rows)

    @never_raises
    def start_fit(self, step):
        self._writer.start_fit(step)

    @never_raises
    def start_epoch(self, step, epoch):
        """Writes the previous epoch's batches, then marks the new epoch."""
        self._move_rows()
        self._means = {}
        self._writer.start_epoch(step, epoch=epoch)

    @never_raises
    def add_batch(self, step, batch_values, running_means, weight):
        """Keeps one batch until the next flush.

        Args:
          step: int, the batch's global step.
          batch_values: dict from metric name to float or 0-d tensor.
          running_means: dict from metric name to float or 0-d tensor, what
            the framework reports for the epoch so far; metrics missing here
            get a Keras-style mean of their batch values weighted by `weight`.
          weight: positive number, the batch's size.
        """
        self._rows.append((step, time.time(), batch_values, running_means, weight))
        if time.monotonic() - self._last_flush >= self.flush_secs:
            self.flush()

    @never_raises
    def log_learning_rate(self, step, value):
        self._writer.log_learning_rate(step, value)

    @never_raises
    def log_val(self, step, values):
        """Records validation results (metric name without its `val` prefix)."""
        if values:
            self._writer.log_eval("val", step, _as_floats(values))

    @never_raises
    def flush(self):
        self._move_rows()
        self._writer.flush_or_warn()

    @never_raises
    def close(self):
        """Writes what is left and closes the writer; safe to call twice."""
        atexit.unregister(self.close)
        signals.remove_source(self._move_rows)
        try:
            self._move_rows()
        finally:
            self._writer.close()

    def _move_rows(self):
        # A SIGTERM arriving meanwhile waits: its handler calls this too.
        with signals.BUSY:
            rows, self._rows = self._rows, []
            self._last_flush = time.monotonic()
            if rows:
                self._log_rows(rows)

    def _log_rows(self, rows):
        values = _to_floats(
            [v for row in rows for v in (*row[2].values(), *row[3].values())]
        )
        at = 0
        for step, wall_time, batch_values, running_means, weight in rows:
            batch = dict(zip(batch_values, values[at : at + len(batch_values)]))
            at += len(batch_values)
            means = dict(zip(running_means, values[at : at + len(running_means)]))
            at += len(running_means)
            for metric in batch.keys() - means.keys():
                mean = self._means.setdefault(metric, RunningMeans())
                means[metric] = mean.update({metric: batch[metric]}, weight)[metric]
            self._writer.log_batch(step, batch, means, wall_time=wall_time)


def _to_floats(values):
    """Floats and 0-d tensors as floats, one copy to the host per device."""
    out = [v if isinstance(v, float) else None for v in values]
    by_device = {}
    for i, v in enumerate(values):
        if isinstance(v, torch.Tensor):
            by_device.setdefault(v.device, []).append(i)
        elif out[i] is None:
            out[i] = float(v)
    for indices in by_device.values():
        # float64 holds every float32, float16 and bfloat16 value exactly.
        stacked = torch.stack(
            [values[i].detach().reshape(()).to(torch.float64) for i in indices]
        )
        for i, v in zip(indices, stacked.cpu().tolist()):
            out[i] = v
    return out


def _as_floats(values):
    return dict(zip(values, _to_floats(list(values.values()))))
