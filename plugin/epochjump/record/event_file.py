"""Event files of epochjump: one file per writer (one object per flush on a
store), and the encoding of batch chunks."""

import io
import os
import socket
import threading
import time

import numpy as np
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from epochjump import metadata
from epochjump import storage

_INT32_MAX = np.iinfo(np.int32).max
_FLOAT32_TIME_RANGE = 3600.0  # seconds
_file_counter = iter(range(1 << 62))
_file_counter_lock = threading.Lock()


def _next_uid():
    with _file_counter_lock:
        return next(_file_counter)


def _header():
    return event_pb2.Event(
        wall_time=time.time(),
        file_version="brain.Event:2",
        source_metadata=event_pb2.SourceMetadata(writer="epochjump"),
    )


def open_event_file(log_dir):
    """The event file of a writer: appended to on disk, one object per flush
    at a URL (object stores cannot append)."""
    if storage.is_local(log_dir):
        return EventFile(log_dir)
    return ObjectEventFiles(log_dir)


class EventFile:
    """One local event file, written synchronously, so failures surface at flush."""

    def __init__(self, log_dir):
        storage.makedirs(log_dir)
        name = (
            f"events.out.tfevents.{int(time.time()):010d}."
            f"{socket.gethostname()}.{os.getpid()}.{_next_uid()}"
            f"{metadata.EVENT_FILE_SUFFIX}"
        )
        self.path = os.path.join(log_dir, name)
        self._file = open(self.path, "wb")
        self._records = RecordWriter(self._file)
        self._tags_with_metadata = set()
        self._written = 0  # Bytes of the records written whole so far.
        self._header_size = 0
        try:
            self.write([_header()])
        except Exception:
            # Retried every flush while a store is down (or a disk is full):
            # leak no handles, leave no empty file per retry.
            self.abandon()
            raise
        self._header_size = self._written

    def summary_value(self, kind, metric, array):
        """A summary value; metadata only on a tag's first use in this file."""
        return _summary_value(self._tags_with_metadata, kind, metric, array)

    def write(self, events):
        size = 0
        for event in events:
            data = event.SerializeToString()
            self._records.write(data)
            size += len(data) + 16  # TFRecord framing: length, 2 checksums.
        self._records.flush()
        self._written += size

    def abandon(self):
        """Closes the file after a failed write, leaving no torn record: a
        local file is cut back to its last whole record, or removed if it
        holds none of the run's data (only the header, or not even that)."""
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the failed write is reported.
            pass
        try:
            if self._written <= self._header_size:
                os.remove(self.path)
            elif os.path.getsize(self.path) > self._written:
                os.truncate(self.path, self._written)
        except OSError:
            pass  # Removed meanwhile, or read-only: nothing more to do.

    def on_disk(self):
        """False if this file was removed while open."""
        return os.path.exists(self.path)

    def close(self):
        self._records.close()


class ObjectEventFiles:
    """A writer's event files at a URL: each flush puts one new object, a
    complete event file (header, then the events, each tag's metadata on its
    first use in the object).

    Object stores cannot append, and an object is stored whole or not at
    all, so what a flush wrote survives a killed writer, and a failed flush
    leaves nothing behind. Names sort in the order written (flush time, then
    a counter), the order in which TensorBoard reads a run's files.

    Args:
      log_dir: str, a URL (`s3://...`, `gs://...`, any fsspec URL).

    Raises:
      OSError (or the store client's error): if the first, header-only
        object cannot be written, so a bad `log_dir` fails at `open()`.
    """

    def __init__(self, log_dir):
        self._log_dir = log_dir
        self._prefix = f"{socket.gethostname()}.{os.getpid()}"
        self._tags_with_metadata = set()
        self.path = None
        self._put([])

    def summary_value(self, kind, metric, array):
        """A summary value; metadata only on a tag's first use in this object."""
        return _summary_value(self._tags_with_metadata, kind, metric, array)

    def write(self, events):
        try:
            self._put(events)
        finally:
            self._tags_with_metadata = set()  # The next object starts afresh.

    def _put(self, events):
        buffer = io.BytesIO()
        records = RecordWriter(buffer)
        for event in [_header(), *events]:
            records.write(event.SerializeToString())
        name = (
            f"events.out.tfevents.{int(time.time()):010d}.{self._prefix}."
            f"{_next_uid():012d}{metadata.EVENT_FILE_SUFFIX}"
        )
        path = storage.join(self._log_dir, name)
        storage.put(path, buffer.getvalue(), for_writer=True)
        self.path = path

    def abandon(self):
        """Nothing to undo: a failed put stores nothing."""

    def on_disk(self):
        return True  # Each object is checked by the store as it is put.

    def close(self):
        pass


def _summary_value(tags_with_metadata, kind, metric, array):
    tag = metadata.tag_for(kind, metric)
    value = summary_pb2.Summary.Value(
        tag=tag, tensor=tensor_util.make_tensor_proto(array)
    )
    if tag not in tags_with_metadata:
        tags_with_metadata.add(tag)
        value.metadata.CopyFrom(metadata.create_summary_metadata(kind, metric))
    return value


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


def events(file, scalars, steps, wall_times, columns, keys, flushed=None):
    """The events of one flush: per-epoch scalars, then one batch chunk.

    Args:
      file: the `EventFile` the events go to.
      scalars: list of `(kind, metric, step, wall_time, value)`.
      steps, wall_times, columns: the buffered batches (see
        `batch_chunk_event`); no chunk when `steps` is empty.
      keys: set of the `(kind, metric)` series seen so far.
      flushed: float, the Unix time of the flush; default now.

    Returns:
      A list of `event_pb2.Event`.
    """
    out = []
    for kind, metric, step, wall_time, value in scalars:
        value = file.summary_value(kind, metric, value)
        summary = summary_pb2.Summary(value=[value])
        out.append(event_pb2.Event(step=step, wall_time=wall_time, summary=summary))
    if len(steps):
        keys = sorted(keys)
        out.append(batch_chunk_event(file, steps, wall_times, columns, keys, flushed))
    return out


def batch_chunk_event(file, steps, wall_times, columns, keys, flushed=None):
    """One event holding a chunk of batches; see `docs/format.md`.

    Args:
      file: the `EventFile` the event goes to (it adds tag metadata once).
      steps: int64 array, the batches' global steps.
      wall_times: float64 array, when each batch finished.
      columns: dict from `(kind, metric)` to float64 arrays of values.
      keys: sorted list of the `(kind, metric)` series to write; a series
        missing from `columns` is written as NaN.
      flushed: float, the Unix time of the flush; default now.

    Returns:
      An `event_pb2.Event`.
    """
    last_step = int(steps.max())
    # The event's time says when the chunk was flushed (handed to the upload
    # thread, at a URL); readers order restarts by it. Batch times are stored
    # relative to it.
    event_time = time.time() if flushed is None else flushed
    offsets = last_step - steps
    offsets = offsets.astype(np.int32 if offsets.max() <= _INT32_MAX else np.int64)
    values = [
        file.summary_value(
            metadata.BATCH_TIMES, None, _time_offsets(wall_times - event_time)
        )
    ]
    nans = np.full(len(steps), np.nan)
    for kind, metric in keys:
        array = _compact(columns.get((kind, metric), nans))
        values.append(file.summary_value(kind, metric, array))
    # `batch_steps` last: TensorBoard ingests an event's values in order,
    # so a reader that sees a chunk's steps sees all of its values.
    values.append(file.summary_value(metadata.BATCH_STEPS, None, offsets))
    summary = summary_pb2.Summary(value=values)
    return event_pb2.Event(step=last_step, wall_time=event_time, summary=summary)
