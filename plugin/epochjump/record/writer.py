"""Writes epochjump series into standard TensorBoard event files.

`Writer` is framework-agnostic (numpy only; TensorFlow is not needed) and is
what `EpochJumpCallback` is built on. Batch data is buffered in memory and
written as one compact chunk per flush; see `docs/format.md`.
"""

import contextlib
import os
import time

from epochjump import metadata
from epochjump import storage
from epochjump.record import arguments
from epochjump.record import event_file
from epochjump.record import faults
from epochjump.record import lease as lease_lib
from epochjump.record import marks
from epochjump.record import retries
from epochjump.record import signals
from epochjump.record import uploader as uploader_lib
from epochjump.record.batch_buffer import BatchBuffer
from epochjump.record.running_means import RunningMeans

RunDirectoryInUse = lease_lib.RunDirectoryInUse


class Writer(marks.Marks):
    """Records batch values, running means, epoch starts, evaluations,
    learning rates and the start of each training session.

    Use it in custom training loops (plain TensorFlow, PyTorch, JAX); the Keras
    callback uses it too. Data is buffered and written every `flush_secs`
    seconds, at `flush()`, at `close()`, and when the process gets SIGTERM.

    One writer per run directory at a time: a local `log_dir` gets a lease
    file (`epochjump.lease`, see `epochjump.record.lease`), and a second
    writer on it raises `RunDirectoryInUse` at `open()` or at its first
    logging call, naming the first writer's pid and host.

    ```python
    with epochjump.Writer("logs/run1") as writer:
        step = 0
        writer.start_fit(step + 1)
        for epoch in range(epochs):
            writer.start_epoch(step + 1, epoch=epoch)
            writer.log_learning_rate(step + 1, learning_rate(epoch))
            for x, y in batches:
                loss = train_step(x, y)
                step += 1
                writer.log_batch(step, {"loss": loss}, weight=len(x))
            writer.log_eval("val", step, {"loss": evaluate(val_data)})
    ```

    Args:
      log_dir: str or os.PathLike, the run directory; TensorBoard shows it as
        one run. Local, or a URL (`s3://`, `gs://`, any fsspec URL whose
        client library is installed): there each flush writes one new
        object, a complete event file (object stores cannot append), put
        by a background thread of the writer's own (`record.uploader`).
      flush_secs: float, default 10. Buffered batch data is written at most
        this many seconds after it was logged (checked at each call).
      max_buffered_batches: int, default 1048576. A flush happens when this
        many batches are buffered, bounding memory.
    """

    def __init__(self, log_dir, flush_secs=10.0, max_buffered_batches=1 << 20):
        arguments.check_writer_arguments(log_dir, flush_secs, max_buffered_batches)
        self.log_dir = os.fspath(log_dir)
        self.flush_secs = float(flush_secs)
        self._max_buffered = max_buffered_batches
        self._file = None
        self._remote = not storage.is_local(self.log_dir)
        self._uploader = None  # At a URL: puts the flushes (record.uploader).
        if self._remote:
            self._uploader = uploader_lib.Uploader(
                self.log_dir, self.flush_secs, max_buffered_batches
            )
        self._lease = None
        self._closed = False
        self._last_flush = time.monotonic()
        self._pending_scalars = []  # (kind, metric, step, wall_time, value)
        self._warned = set()
        self._retries = retries.Retries(self.flush_secs, remote=False)
        self._dropped = 0
        self._batches = BatchBuffer()
        # Every (kind, metric) seen: each chunk carries all of them (NaN where
        # a batch has none), so a reader can tell a missing value from an
        # unwritten one.
        self._keys = set()
        # Sample-weighted sums for running means the writer computes itself.
        self._running_means = RunningMeans()
        self._last_learning_rate = None  # (step, value) last logged (Marks)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def open(self):
        """Creates the event file now, so a bad `log_dir` fails early.

        Raises:
          OSError: if the directory cannot be created or written; the message
            names `log_dir` and the cause.
        """
        self._check_open()
        if self._file is None:
            try:
                self._claim()
                self._open_file()
            except lease_lib.RunDirectoryInUse:
                raise
            except Exception as e:
                raise OSError(
                    f"epochjump cannot write to log_dir={self.log_dir!r}: "
                    f"{faults.cause(e)}. Pass a directory that can be created and "
                    "written."
                ) from e

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
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        self._check_open()
        self._claim_early()
        step = arguments.check_step(step)
        values = arguments.check_values(batch_values, "batch_values")
        if running_means is None:
            means = self._running_means.update(values, weight)
        else:
            means = arguments.check_values(running_means, "running_means")
        row = {(metadata.BATCH_VALUE, metric): v for metric, v in values.items()}
        row.update({(metadata.RUNNING_MEAN, metric): v for metric, v in means.items()})
        self._keys.update(row)
        wall_time = time.time() if wall_time is None else float(wall_time)
        with signals.BUSY:
            self._batches.append_row(step, wall_time, row)
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
          RunDirectoryInUse: if another writer records into `log_dir`.
        """
        self._check_open()
        self._claim_early()
        steps, wall_times, arrays = arguments.check_batch_arrays(
            steps, batch_values, running_means, wall_times, time.time()
        )
        self._keys.update(arrays)
        with signals.BUSY:
            self._batches.append_arrays(steps, wall_times, arrays)
            self._maybe_flush()

    def flush(self):
        """Writes everything buffered to the event file.

        If the local event file was removed while open (its directory deleted,
        say), the writer starts a new file, re-creating the directory, and
        warns once per removed file: what was written to it is lost. At a URL
        the data goes to the writer's upload thread, which puts one new
        object; `flush` waits for it (`flush_or_warn` does not).

        Returns:
          bool, True (everything buffered was written).

        Raises:
          OSError: if writing fails; the message names `log_dir` and the
            cause, and the data stays buffered.
        """
        self._check_open()
        with signals.BUSY:
            return self._flush(warn=False)

    def flush_or_warn(self):
        """`flush` for training loops: a failure warns instead of raising.

        It warns once per outage (again if writes fail after having
        recovered); the data stays buffered (up to `max_buffered_batches`,
        oldest dropped first) and a later flush retries (at a URL, retries
        back off: `record.retries`; a flush before the next retry is due
        does nothing). A file left by a failed write is cut back to its last
        whole record, or removed if it holds no data.

        Returns:
          bool, True when everything buffered was written (at a URL: handed
          to the upload thread, and its puts do not fail).
        """
        self._check_open()
        since = time.monotonic() - self._last_flush
        if not self._retries.due(since):
            return False
        with signals.BUSY:
            return self._flush(warn=True)

    def _flush(self, warn):
        """Writes what is buffered; on failure warns (`warn`) or raises."""
        self._last_flush = time.monotonic()
        if self._remote:
            self._hand_over()
            if not warn and not self._uploader.wait():
                raise OSError(str(self._uploader.error))
            return self._uploader.outcome(self)
        if not self._pending_scalars and not len(self._batches):
            self._refresh_lease()
            return True
        try:
            self._write_buffered()
        except Exception as e:
            # Keep the data for the next flush, in a new file: a partly written
            # file may end in a torn record, which is cut off.
            self._discard_file(failed=True)
            self._retries.failures += 1
            self._batches.compact()
            error = OSError(
                f"writing to log_dir={self.log_dir!r} failed ({faults.cause(e)}); "
                f"{len(self._batches)} batches and {len(self._pending_scalars)} "
                "epoch values are not written yet"
            )
            if not warn:
                raise error from e
            self._drop_excess()
            faults.warn_once(
                self, "write", f"{error}; {self._retries.words(self._max_buffered)}"
            )
            return False
        self._retries.failures = 0
        self._warned.discard("write")  # A later outage is another fault.
        self._refresh_lease()
        self._pending_scalars = []
        self._batches = BatchBuffer()
        return True

    def close(self):
        """Flushes and closes the event file. Calling it twice is harmless.

        At a URL it waits for the put in progress, then puts what is left in
        one more attempt (even while retries back off).

        Raises:
          OSError: if the last flush fails; the message says what was not
            written. The writer is closed anyway.
        """
        self._close(warn=False)

    def close_or_warn(self):
        """`close` for training loops: what cannot be written is lost, with
        one warning per outage instead of an error. It tries even while
        retries back off."""
        self._close(warn=True)

    def _close(self, warn):
        if self._closed:
            return
        try:
            with signals.BUSY:
                if self._remote:
                    self._hand_over()
                    stored = self._uploader.close(self if warn else None)
                    if not stored and not warn:
                        raise OSError(str(self._uploader.error))
                else:
                    self._flush(warn)
        finally:
            self._closed = True
            self._discard_file()
            if self._remote:
                self._uploader.close()  # Harmless if closed above.
            if self._lease is not None:
                self._lease.release()

    @property
    def buffered_batches(self):
        """Number of batches logged but not yet written."""
        uploading = self._uploader.unwritten_batches if self._uploader else 0
        return len(self._batches) + uploading

    @property
    def dropped_batches(self):
        """Number of batches dropped, oldest first, while writes failed."""
        dropped = self._uploader.dropped_batches if self._uploader else 0
        return self._dropped + dropped

    def _open_file(self):
        if self._remote:
            self._uploader.open()
        else:
            self._file = event_file.open_event_file(self.log_dir)

    def _hand_over(self):
        """At a URL: hands the buffered data to the upload thread."""
        if self._pending_scalars or len(self._batches):
            self._uploader.submit(self._pending_scalars, self._batches, set(self._keys))
            self._pending_scalars, self._batches = [], BatchBuffer()

    def _check_open(self):
        if self._closed:
            raise RuntimeError(f"This epochjump.Writer for {self.log_dir!r} is closed.")

    def _claim(self):
        if self._lease is None:
            self._lease = lease_lib.WriterLease(self.log_dir, self)
        self._lease.claim()

    def _claim_early(self):
        """The lease at the first logging call, so a second writer fails at
        start; a directory that cannot be created yet is retried at flushes."""
        if self._lease is None or self._lease.refused:
            with contextlib.suppress(OSError):  # RunDirectoryInUse is raised.
                self._claim()

    def _refresh_lease(self, force=False):
        if self._lease is not None:
            self._lease.refresh(force)

    def _maybe_flush(self):
        """Flushes when due: every `flush_secs`, or when the buffer is full.
        While writes fail, only every `flush_secs`: a full buffer then drops
        its oldest batches instead of retrying at every batch."""
        if self._remote:
            self._uploader.warn(self)
        due = time.monotonic() - self._last_flush >= self._retries.delay()
        failing = self._retries.failing
        if due or (not failing and len(self._batches) >= self._max_buffered):
            self.flush_or_warn()
        elif failing:
            self._drop_excess()

    def _drop_excess(self):
        excess = len(self._batches) - self._max_buffered
        if excess > 0:
            self._dropped += excess
            self._batches.drop_oldest(excess)

    def _write_buffered(self):
        if self._file is None:
            self._claim()
            self._file = event_file.open_event_file(self.log_dir)
        self._file.write(self._events())
        if self._file.on_disk():
            return
        # The file was removed while open: the writes went to an unlinked
        # file. Write everything again to a new one.
        removed = self._file.path
        self._discard_file()
        try:
            self._file = event_file.open_event_file(self.log_dir)
            self._file.write(self._events())
        except Exception as e:
            raise OSError(
                f"the event file {removed!r} was removed, and a new one could "
                f"not be written: {faults.cause(e)}"
            ) from e
        self._refresh_lease(force=True)  # Its directory may be new too.
        faults.warn_once(
            self,
            ("removed", removed),
            f"the event file {removed!r} was removed during the run; what was "
            f"written to it is lost. Writing on to {self._file.path!r}",
        )

    def _events(self):
        steps, wall_times, columns = self._batches.arrays()
        return event_file.events(
            self._file, self._pending_scalars, steps, wall_times, columns, self._keys
        )

    def _discard_file(self, failed=False):
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(Exception):
                file.abandon() if failed else file.close()
