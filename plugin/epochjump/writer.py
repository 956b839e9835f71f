"""Writes epochjump series into standard TensorBoard event files.

`Writer` is framework-agnostic (numpy only; TensorFlow is not needed) and is
what `EpochJumpCallback` is built on. Batch data is buffered in memory and
written as one compact chunk per flush; see `docs/format.md`.
"""

import math
import numbers
import os
import socket
import threading
import time
import warnings

import numpy as np
from tensorboard.compat import tf as tb_tf
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from epochjump import metadata

EVAL_KINDS = metadata.EVAL_KINDS
_INT32_MAX = np.iinfo(np.int32).max
_FLOAT32_TIME_RANGE = 3600.0  # seconds
_file_counter = iter(range(1 << 62))
_file_counter_lock = threading.Lock()


class Writer:
    """Records batch values, running means, epoch starts and evaluations.

    Use it in custom training loops (plain TensorFlow, PyTorch, JAX); the Keras
    callback uses it too. Data is buffered and written every `flush_secs`
    seconds, at `flush()` and at `close()`.

    ```python
    with epochjump.Writer("logs/run1") as writer:
        step = 0
        for epoch in range(epochs):
            writer.start_epoch(step + 1)
            for x, y in batches:
                loss = train_step(x, y)
                step += 1
                writer.log_batch(step, {"loss": loss}, weight=len(x))
            writer.log_eval("val", step, {"loss": evaluate(val_data)})
    ```

    Args:
      log_dir: str or os.PathLike, the run directory; TensorBoard shows it as
        one run. Any path TensorBoard can read (local, `gs://`, `s3://`).
      flush_secs: float, default 10. Buffered batch data is written at most
        this many seconds after it was logged (checked at each call).
      max_buffered_batches: int, default 1048576. A flush happens when this
        many batches are buffered, bounding memory.
    """

    def __init__(self, log_dir, flush_secs=10.0, max_buffered_batches=1 << 20):
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(
                f"`log_dir` must be a non-empty path. Received: log_dir={log_dir!r}"
            )
        if not isinstance(flush_secs, numbers.Real) or not flush_secs > 0:
            raise ValueError(
                f"`flush_secs` must be a positive number. "
                f"Received: flush_secs={flush_secs!r}"
            )
        if not isinstance(max_buffered_batches, int) or max_buffered_batches < 1:
            raise ValueError(
                "`max_buffered_batches` must be a positive int. "
                f"Received: max_buffered_batches={max_buffered_batches!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.flush_secs = float(flush_secs)
        self._max_buffered = max_buffered_batches
        self._file = None
        self._closed = False
        self._last_flush = time.monotonic()
        self._pending_scalars = []  # (kind, metric, step, wall_time, value)
        self._warned = set()
        self.dropped_batches = 0
        self._steps = []
        self._wall_times = []
        self._columns = {}  # (kind, metric) -> list of float, one per batch
        # Sample-weighted sums for running means the writer computes itself.
        self._epoch_totals = {}
        self._epoch_weight = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        """Creates the event file now, so a bad `log_dir` fails early.

        Raises:
          OSError: if the directory cannot be created or written.
        """
        self._check_open()
        if self._file is None:
            self._file = _EventFile(self.log_dir)

    def start_epoch(self, step):
        """Marks the start of an epoch.

        Args:
          step: int, the global step of the epoch's first batch.
        """
        step = _check_step(step)
        self._check_open()
        self._epoch_totals = {}
        self._epoch_weight = 0.0
        self._pending_scalars.append(
            (metadata.EPOCH_START, None, step, time.time(), np.int64(step))
        )

    def log_batch(
        self, step, batch_values, running_means=None, weight=1.0, wall_time=None
    ):
        """Records one batch.

        Args:
          step: int, the global step after this batch (1 for the first batch
            of a fresh model).
          batch_values: dict from metric name to the value of this batch alone.
          running_means: dict from metric name to the value your loop reports
            at this batch. If None, the writer computes it the way Keras does:
            the mean of this epoch's batch values so far, weighted by `weight`.
          weight: float, default 1. The batch's weight (e.g. its number of
            samples) for the running means the writer computes.
          wall_time: float, Unix time the batch finished; default now.

        Raises:
          ValueError: for a bad step, metric name, value or weight; nothing is
            recorded then.
        """
        self._check_open()
        step = _check_step(step)
        values = _check_values(batch_values, "batch_values")
        if running_means is None:
            means = self._update_running_means(values, weight)
        else:
            means = _check_values(running_means, "running_means")
        n = len(self._steps)
        self._steps.append(step)
        self._wall_times.append(time.time() if wall_time is None else float(wall_time))
        for kind, row in (
            (metadata.BATCH_VALUE, values),
            (metadata.RUNNING_MEAN, means),
        ):
            for metric, value in row.items():
                column = self._columns.get((kind, metric))
                if column is None:
                    column = self._columns[(kind, metric)] = [math.nan] * n
                column.append(value)
        for column in self._columns.values():
            if len(column) == n:
                column.append(math.nan)
        self._maybe_flush()

    def log_batches(self, steps, batch_values, running_means, wall_times=None):
        """Records many batches at once (what the Keras callback uses).

        Args:
          steps: 1-D int array of global steps.
          batch_values: dict from metric name to a 1-D float array.
          running_means: dict from metric name to a 1-D float array.
          wall_times: 1-D float array of Unix times; default now.

        Raises:
          ValueError: if the arrays are not 1-D of the same length.
        """
        self._check_open()
        steps = np.asarray(steps)
        if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer):
            raise ValueError(
                f"`steps` must be a 1-D integer array. Received dtype "
                f"{steps.dtype} and shape {steps.shape}"
            )
        n = len(steps)
        if n and steps.min() < 0:
            raise ValueError(f"Steps must be >= 0. Received: {steps.min()}")
        arrays = {}
        for kind, values in (
            (metadata.BATCH_VALUE, batch_values),
            (metadata.RUNNING_MEAN, running_means),
        ):
            for metric, array in values.items():
                _check_metric_name(metric)
                array = np.asarray(array, np.float64)
                if array.shape != (n,):
                    raise ValueError(
                        f"{kind} for {metric!r} has shape {array.shape}; "
                        f"expected ({n},) like `steps`"
                    )
                arrays[(kind, metric)] = array
        if wall_times is None:
            wall_times = np.full(n, time.time())
        wall_times = np.asarray(wall_times, np.float64)
        if wall_times.shape != (n,):
            raise ValueError(
                f"`wall_times` has shape {wall_times.shape}; expected ({n},)"
            )
        old = len(self._steps)
        self._steps.extend(steps.tolist())
        self._wall_times.extend(wall_times.tolist())
        for key, array in arrays.items():
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = [math.nan] * old
            column.extend(array.tolist())
        for column in self._columns.values():
            if len(column) == old:
                column.extend([math.nan] * n)
        self._maybe_flush()

    def log_eval(self, kind, step, values):
        """Records one evaluation per metric, made at the end of an epoch.

        Args:
          kind: "train_eval" (a fixed training subset evaluated in inference
            mode) or "val" (validation data).
          step: int, the global step of the epoch's last batch.
          values: dict from metric name (without `val_`) to value.

        Raises:
          ValueError: for a bad kind, step, metric name or value.
        """
        if kind not in EVAL_KINDS:
            raise ValueError(
                f"`kind` must be one of {EVAL_KINDS}. Received: kind={kind!r}"
            )
        self._check_open()
        step = _check_step(step)
        values = _check_values(values, "values")
        now = time.time()
        for metric, value in values.items():
            self._pending_scalars.append((kind, metric, step, now, np.float64(value)))

    def flush(self):
        """Writes everything buffered to the event file.

        Raises:
          OSError: if writing fails; the data stays buffered for the next try.
        """
        self._check_open()
        if not self._pending_scalars and not self._steps:
            return
        try:
            if self._file is None:
                self._file = _EventFile(self.log_dir)
            events = [
                event_pb2.Event(
                    step=step,
                    wall_time=wall_time,
                    summary=summary_pb2.Summary(
                        value=[self._file.summary_value(kind, metric, value)]
                    ),
                )
                for kind, metric, step, wall_time, value in self._pending_scalars
            ]
            events.extend(self._batch_chunk_events(self._file))
            self._file.write(events)
        except Exception:
            # Keep the data for the next flush, in a new file: a partly written
            # file may end in a torn record.
            self._discard_file()
            raise
        self._pending_scalars = []
        self._steps, self._wall_times = [], []
        self._columns = {key: [] for key in self._columns}
        self._last_flush = time.monotonic()

    def close(self):
        """Flushes and closes the event file. Calling it twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._discard_file()

    @property
    def buffered_batches(self):
        """Number of batches logged but not yet written."""
        return len(self._steps)

    def _check_open(self):
        if self._closed:
            raise RuntimeError(f"This epochjump.Writer for {self.log_dir!r} is closed.")

    def _maybe_flush(self):
        """Flushes when due. A failure here warns instead of raising: logging
        must not end a training loop. The data stays buffered (up to
        `max_buffered_batches`, oldest dropped first) and the flush is retried
        `flush_secs` later."""
        if (
            len(self._steps) < self._max_buffered
            and time.monotonic() - self._last_flush < self.flush_secs
        ):
            return
        try:
            self.flush()
        except Exception as e:  # noqa: BLE001 - see docstring.
            self._last_flush = time.monotonic()
            excess = len(self._steps) - self._max_buffered
            if excess > 0:
                self._drop_oldest_batches(excess)
            _warn_once(
                self,
                "write",
                f"writing to {self.log_dir!r} failed ({type(e).__name__}: {e}); "
                f"{len(self._steps)} batches kept in memory, retrying every "
                f"{self.flush_secs:g} s",
            )

    def _drop_oldest_batches(self, count):
        self.dropped_batches += count
        del self._steps[:count]
        del self._wall_times[:count]
        for column in self._columns.values():
            del column[:count]

    def _update_running_means(self, values, weight):
        if type(weight) not in (float, int) and not isinstance(weight, numbers.Real):
            raise ValueError(
                f"`weight` must be a positive number. Received: weight={weight!r}"
            )
        if not weight > 0:
            raise ValueError(
                f"`weight` must be a positive number. Received: weight={weight!r}"
            )
        self._epoch_weight += weight
        means = {}
        for metric, value in values.items():
            total = self._epoch_totals.get(metric, 0.0) + value * weight
            self._epoch_totals[metric] = total
            means[metric] = total / self._epoch_weight
        return means

    def _batch_chunk_events(self, file):
        if not self._steps:
            return []
        steps = np.asarray(self._steps, np.int64)
        wall_times = np.asarray(self._wall_times, np.float64)
        last_step = int(steps.max())
        # The event's time says when the chunk was written; readers order
        # restarts by it. Batch times are stored relative to it.
        event_time = time.time()
        offsets = last_step - steps
        offsets = offsets.astype(np.int32 if offsets.max() <= _INT32_MAX else np.int64)
        values = [
            file.summary_value(metadata.BATCH_STEPS, None, offsets),
            file.summary_value(
                metadata.BATCH_TIMES, None, _time_offsets(wall_times - event_time)
            ),
        ]
        for (kind, metric), column in sorted(self._columns.items()):
            array = _compact(np.asarray(column, np.float64))
            values.append(file.summary_value(kind, metric, array))
        summary = summary_pb2.Summary(value=values)
        return [event_pb2.Event(step=last_step, wall_time=event_time, summary=summary)]

    def _discard_file(self):
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception:
                pass


def _warn_once(owner, key, message):
    if key not in owner._warned:
        owner._warned.add(key)
        warnings.warn(f"epochjump: {message}", RuntimeWarning, stacklevel=4)


class _EventFile:
    """One event file, written synchronously, so failures surface at flush."""

    def __init__(self, log_dir):
        tb_tf.io.gfile.makedirs(log_dir)
        with _file_counter_lock:
            uid = next(_file_counter)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}."
            f"{socket.gethostname()}.{os.getpid()}.{uid}.epochjump"
        )
        self.path = os.path.join(log_dir, name)
        self._gfile = tb_tf.io.gfile.GFile(self.path, "wb")
        self._records = RecordWriter(self._gfile)
        self._tags_with_metadata = set()
        self.write(
            [
                event_pb2.Event(
                    wall_time=time.time(),
                    file_version="brain.Event:2",
                    source_metadata=event_pb2.SourceMetadata(writer="epochjump"),
                )
            ]
        )

    def summary_value(self, kind, metric, array):
        """A summary value; metadata only on a tag's first use in this file."""
        tag = metadata.tag_for(kind, metric)
        value = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor_util.make_tensor_proto(array)
        )
        if tag not in self._tags_with_metadata:
            self._tags_with_metadata.add(tag)
            value.metadata.CopyFrom(metadata.create_summary_metadata(kind, metric))
        return value

    def write(self, events):
        for event in events:
            self._records.write(event.SerializeToString())
        self._records.flush()

    def close(self):
        self._records.close()


def _time_offsets(offsets):
    """float32 (4 bytes, under 0.25 ms of rounding) for offsets within an hour
    of the flush, as in every flush of a training run; float64 otherwise."""
    if len(offsets) and np.abs(offsets).max() <= _FLOAT32_TIME_RANGE:
        return offsets.astype(np.float32)
    return offsets


def _compact(values):
    """float32 when that keeps every value exactly, else float64."""
    as32 = values.astype(np.float32)
    if np.array_equal(as32.astype(np.float64), values, equal_nan=True):
        return as32
    return values


def _check_step(step):
    if type(step) is int and step >= 0:  # The common case, without ABC checks.
        return step
    if isinstance(step, bool) or not isinstance(step, (numbers.Integral, np.integer)):
        raise ValueError(f"A step must be an int. Received: step={step!r}")
    if step < 0:
        raise ValueError(f"A step must be >= 0. Received: step={step!r}")
    return int(step)


def _check_metric_name(metric):
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"Metric names must be non-empty str. Received: {metric!r}")
    if metric.startswith("val_"):
        raise ValueError(
            f"Metric names are logged without the `val_` prefix; use "
            f"log_eval('val', ...) for validation. Received: {metric!r}"
        )


def _check_values(values, argument):
    if not isinstance(values, dict) or not values:
        raise ValueError(
            f"`{argument}` must be a non-empty dict from metric name to number. "
            f"Received: {argument}={values!r}"
        )
    checked = {}
    for metric, value in values.items():
        _check_metric_name(metric)
        try:
            checked[metric] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"`{argument}[{metric!r}]` must be a number. Received: {value!r}"
            ) from None
    return checked
