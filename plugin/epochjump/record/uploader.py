"""Puts a writer's flushes into a bucket from a background thread, so
training never waits for the store."""

import atexit
import math
import threading
import time

from epochjump.record import event_file
from epochjump.record import faults
from epochjump.record import retries


class Uploader:
    """What a writer flushed to a URL and the store does not hold yet, put
    there by one background thread of its own.

    `submit` hands a flush over and returns at once. The thread puts
    everything handed over and not yet stored as one object (a complete
    event file, `event_file.ObjectEventFiles`): each flush's events in the
    order handed over, its batch chunk dated when it was handed over (as
    on disk, where it is written then). A failed put keeps
    its data, ahead of what came meanwhile, up to `max_buffered` batches
    (oldest dropped first; while a put is in flight, what it carries is
    counted apart), and is retried after `flush_secs`, then less and less
    often (`retries.Retries`). Each outage is warned about once, by `warn`
    on the writer's own thread.

    Args:
      log_dir: str, the run directory URL.
      flush_secs: float, the writer's flush interval: the first retry's delay.
      max_buffered: int, the most batches kept while puts fail.
    """

    def __init__(self, log_dir, flush_secs, max_buffered):
        self.log_dir = log_dir
        self.dropped_batches = 0
        self.error = None  # The OSError of the last put, if it failed.
        self.outages = 0  # Outages so far: a put failing after none or a success.
        self._max_buffered = max_buffered
        self._file = None  # The ObjectEventFiles, from `open` or the first put.
        self._retries = retries.Retries(flush_secs, remote=True)
        self._changed = threading.Condition()
        # Handed over, not stored yet: (scalars, BatchBuffer, keys, Unix time).
        self._flushes = []
        self._in_flight = 0  # Batches the put in progress carries.
        self._handed = self._stored = 0  # Numbers of the last submit, and stored one.
        self._started = self._ended = 0  # Put attempts.
        self._last_end = -math.inf
        self._now = False  # A put is wanted now, even while retries back off.
        self._last_attempt = None  # When closing: the number of the last one.
        self._thread = None  # Started at the first `submit`.

    def open(self):
        """Puts the first, header-only object now, so a bad URL fails here.

        Raises:
          OSError (or the store client's error): if it cannot be put.
        """
        if self._file is None:
            self._file = event_file.ObjectEventFiles(self.log_dir)

    @property
    def failing(self):
        return self.error is not None

    @property
    def unwritten_batches(self):
        """Batches handed over and not stored yet."""
        with self._changed:
            return _batch_count(self._flushes) + self._in_flight

    def submit(self, scalars, batches, keys):
        """Hands over one flush; returns without waiting for the store.

        Args:
          scalars: list of `(kind, metric, step, wall_time, value)`.
          batches: a `BatchBuffer` the caller no longer uses.
          keys: set of the `(kind, metric)` series seen so far; the caller
            no longer changes it.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"epochjump upload {self.log_dir}", daemon=True
            )
            self._thread.start()
            # A writer that is never closed still gets its flushes put at exit.
            atexit.register(self.close)
        batches.compact()  # 8 bytes per value while it waits.
        with self._changed:
            self._flushes.append((scalars, batches, keys, time.time()))
            self._handed += 1
            self._drop_excess()
            self._changed.notify_all()

    def outcome(self, writer):
        """What a flush that handed data over tells its caller: warns once per
        outage, as `writer` (a `Writer`).

        Returns:
          bool, True when no put fails.
        """
        self.warn(writer)
        return not self.failing

    def warn(self, writer):
        """Warns once per outage, as `writer` (a `Writer`)."""
        error = self.error
        if error is not None:
            faults.warn_once(writer, ("upload", self.outages), str(error))

    def wait(self):
        """Puts what was handed over now, even while retries back off, and
        waits for that put.

        Returns:
          bool, True when everything handed over so far is stored.
        """
        with self._changed:
            target = self._handed
            if self._stored >= target:
                return True
            self._now = True
            attempt = self._started + 1
            self._changed.notify_all()
            while self._stored < target and self._ended < attempt:
                self._changed.wait()
            return self._stored >= target

    def close(self, writer=None):
        """Waits for the put in progress, then makes one more attempt for
        what is still not stored (even while retries back off), and stops
        the thread. What is still not stored then is lost. Calling it twice
        is harmless.

        Args:
          writer: the `Writer` that warns when data is lost, or None for no
            warning.

        Returns:
          bool, True when everything handed over is stored.
        """
        atexit.unregister(self.close)
        if self._thread is None:
            return True
        with self._changed:
            if self._last_attempt is None:
                self._last_attempt = self._started + 1
                self._changed.notify_all()
        self._thread.join()
        if self._stored >= self._handed:
            return True
        if writer is not None:
            self.warn(writer)
        return False

    def _run(self):
        while True:
            with self._changed:
                while not self._due():
                    if self._last_attempt is not None and not self._pending():
                        return
                    self._changed.wait(self._wait_secs())
                last = self._last_attempt
                if last is not None and self._started >= last:
                    return
                flushes, self._flushes = self._flushes, []
                covered = self._handed
                self._in_flight = _batch_count(flushes)
                self._now = False
                self._started += 1
            try:
                self._put(flushes)
                error = None
            except Exception as e:  # noqa: BLE001 - reported by the writer.
                error = e
            with self._changed:
                self._ended += 1
                self._last_end = time.monotonic()
                self._in_flight = 0
                if error is None:
                    self._stored = covered
                    self._retries.failures = 0
                    self.error = None
                else:
                    self._keep(flushes, error)
                self._changed.notify_all()

    def _pending(self):
        return self._stored < self._handed

    def _due(self):
        if not self._pending():
            return False
        if self._now or self._last_attempt is not None:
            return True
        return time.monotonic() - self._last_end >= self._retry_delay()

    def _retry_delay(self):
        return self._retries.delay() if self._retries.failing else 0.0

    def _wait_secs(self):
        if not self._pending():
            return None
        return max(0.0, self._last_end + self._retry_delay() - time.monotonic())

    def _put(self, flushes):
        if self._file is None:
            self._file = event_file.ObjectEventFiles(self.log_dir)
        events = []
        for scalars, batches, keys, flushed in flushes:
            steps, wall_times, columns = batches.arrays()
            events += event_file.events(
                self._file, scalars, steps, wall_times, columns, keys, flushed
            )
        self._file.write(events)

    def _keep(self, flushes, error):
        """After a failed put: its data goes back ahead of what came meanwhile."""
        self._flushes[:0] = flushes
        if self.error is None:
            self.outages += 1
        self._retries.failures += 1
        self.error = OSError(
            f"writing to log_dir={self.log_dir!r} failed ({faults.cause(error)}); "
            f"{_batch_count(self._flushes)} batches and "
            f"{sum(len(f[0]) for f in self._flushes)} epoch values are not "
            f"written yet; {self._retries.words(self._max_buffered)}"
        )
        self._drop_excess()

    def _drop_excess(self):
        excess = _batch_count(self._flushes) - self._max_buffered
        if excess > 0:
            self.dropped_batches += excess
        for _, batches, _, _ in self._flushes:
            if excess <= 0:
                break
            dropped = min(excess, len(batches))
            batches.drop_oldest(dropped)
            excess -= dropped


def _batch_count(flushes):
    return sum(len(batches) for _, batches, _, _ in flushes)
