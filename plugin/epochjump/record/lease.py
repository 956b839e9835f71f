"""One writer per run directory: a lease file naming the process that records into it.

Two writers on one run directory at once would interleave their batches,
epochs and evaluations into one timeline that neither recorded. The first
writer leaves `epochjump.lease` in the directory (its pid, host and start
time, refreshed as it writes); a second writer gets `RunDirectoryInUse`,
naming the first. A lease whose writer is gone is taken over, so a run
resumed later, one writer after the other, stays one run: on the same host
when its process no longer exists (or, in this process, its writer was
closed or collected); from another host when it was not refreshed for
`STALE_SECS`. Run folders at URLs (buckets) get no lease: fsspec offers no
atomic create-if-absent across stores, so there one fit per folder is the
user's to keep (docs/format.md).
"""

import json
import os
import socket
import threading
import time
import uuid
import warnings
import weakref

from epochjump import storage
from epochjump.record import signals

LEASE_NAME = "epochjump.lease"
# A lease from another host, where its pid cannot be checked, is taken over
# when it was not refreshed for this long (writers refresh at every flush).
STALE_SECS = 900.0
REFRESH_SECS = 60.0
# An unreadable lease this young is being written by a writer starting now.
_BEING_WRITTEN_SECS = 10.0

_live = weakref.WeakValueDictionary()  # token -> Lease, this process's leases
_live_lock = threading.Lock()


class RunDirectoryInUse(RuntimeError):
    """Raised when another live writer holds a run directory's lease."""


class Lease:
    """This writer's claim on a local run directory.

    Args:
      run_dir: str, a local directory (created if needed).

    Raises:
      RunDirectoryInUse: if another live writer holds the directory.
      OSError: if the lease file cannot be written.
    """

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LEASE_NAME)
        self.run_dir = run_dir
        self.token = uuid.uuid4().hex
        self._started = time.time()
        self._refreshed = 0.0
        self.lost_to = None  # The holder that took the lease over, if any.
        os.makedirs(run_dir, exist_ok=True)
        self._take()
        with _live_lock:
            _live[self.token] = self

    def refresh(self, force=False):
        """Rewrites the lease's refresh time, at most every `REFRESH_SECS`.

        Returns:
          None, or the lease record of another writer that took the lease
          over (this writer was thought dead); the caller warns.
        """
        now = time.time()
        if not force and now - self._refreshed < REFRESH_SECS:
            return None
        holder = _read(self.path)
        if holder is not None and holder.get("token") != self.token:
            if _holder_alive(holder):
                self.lost_to = holder
                return holder
        self._write(now)  # Missing (directory removed and re-created) or ours.
        return None

    def release(self):
        """Removes the lease file if it is still this writer's."""
        with _live_lock:
            _live.pop(self.token, None)
        holder = _read(self.path)
        if holder is not None and holder.get("token") == self.token:
            try:
                os.remove(self.path)
            except OSError:
                pass

    def _take(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read(self.path)
            if holder is None and _age(self.path) < _BEING_WRITTEN_SECS:
                holder = {"pid": "unknown", "host": "unknown", "started": time.time()}
                raise RunDirectoryInUse(in_use_message(self.run_dir, holder)) from None
            if holder is not None and _holder_alive(holder):
                raise RunDirectoryInUse(in_use_message(self.run_dir, holder)) from None
            self._write(time.time())  # A dead writer's lease: taken over.
            holder = _read(self.path)
            if holder is not None and holder.get("token") != self.token:
                # Another writer took it over at the same moment.
                raise RunDirectoryInUse(in_use_message(self.run_dir, holder)) from None
            return
        os.close(fd)
        self._write(time.time())

    def _write(self, now):
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": self._started,
            "refreshed": now,
            "token": self.token,
        }
        temporary = f"{self.path}.{self.token}.tmp"
        with open(temporary, "w") as f:
            json.dump(record, f)
        os.replace(temporary, self.path)
        self._refreshed = now


def in_use_message(run_dir, holder):
    """The error for a second writer; names the writer holding the lease."""
    started = time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("started", 0)))
    )
    who = f"pid {holder.get('pid')} on host {holder.get('host')!r}"
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        who += " (this process: another Writer or EpochJumpCallback not closed yet)"
    return (
        f"Another epochjump writer is recording into log_dir={run_dir!r}: {who}, "
        f"since {started} (see {os.path.join(run_dir, LEASE_NAME)}). Two writers "
        "in one run directory would mix their batches and epochs into one "
        "timeline. Give this one another log_dir, or stop the other first (if "
        "it has stopped and its pid now belongs to another process, delete the "
        "lease file)."
    )


def _age(path):
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return float("inf")


def _read(path):
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None  # Missing, or half-written by a writer that died.
    return record if isinstance(record, dict) else None


def _holder_alive(holder):
    """Whether the writer that wrote `holder` may still be writing."""
    pid, host = holder.get("pid"), holder.get("host")
    if host == socket.gethostname() and isinstance(pid, int):
        if pid == os.getpid():
            with _live_lock:
                return holder.get("token") in _live
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # Another user's live process.
        return True
    refreshed = holder.get("refreshed")
    if not isinstance(refreshed, (int, float)):
        return False
    return time.time() - refreshed < STALE_SECS


class WriterLease:
    """A `Writer`'s lease (local run directories only) and its SIGTERM flush.

    Args:
      log_dir: str, the writer's run directory.
      writer: the `Writer`.
    """

    def __init__(self, log_dir, writer):
        self._log_dir = log_dir
        self._writer = weakref.ref(writer)
        self._lease = None
        self._local = storage.is_local(log_dir)
        self._warned = set()
        self.refused = False  # The last claim found another live writer.

    @property
    def held(self):
        return self._lease is not None or not self._local

    def claim(self):
        """Takes the lease if not held yet, and has SIGTERM flush the writer.

        Raises:
          RunDirectoryInUse: if another live writer holds the directory.
          OSError: if the directory or the lease file cannot be written.
        """
        if self._lease is None and self._local:
            try:
                self._lease = Lease(self._log_dir)
            except RunDirectoryInUse:
                self.refused = True
                raise
            self.refused = False
        writer = self._writer()
        if writer is not None:
            signals.install()
            signals.add_writer(writer)

    def refresh(self, force=False):
        """Refreshes the lease; warns once per writer that took it over."""
        if self._lease is None:
            return
        try:
            holder = self._lease.refresh(force=force)
        except OSError:
            return  # Best effort: the event files say what was written.
        if holder is not None and holder.get("token") not in self._warned:
            self._warned.add(holder.get("token"))
            warnings.warn(
                f"epochjump: {in_use_message(self._log_dir, holder)} It took "
                "over this writer's lease (this one was thought stopped): both "
                "now write here.",
                RuntimeWarning,
                stacklevel=5,
            )

    def release(self):
        writer = self._writer()
        if writer is not None:
            signals.remove_writer(writer)
        if self._lease is not None:
            self._lease.release()
            self._lease = None
