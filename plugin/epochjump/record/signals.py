"""Flushes every open writer on SIGTERM, then lets the signal do what it did before.

A job scheduler, `kill` or a container stop sends SIGTERM, whose default
action ends the process at once: no `atexit`, no `finally`, so up to
`flush_secs` of buffered batches would be lost. The handler, installed when
the first writer opens (from the main thread only: Python allows signal
handlers nowhere else), flushes the open writers and then chains to the
handler it replaced: it calls a Python handler (the user's, or a
framework's), ignores the signal if it was ignored, and for the default
action re-raises SIGTERM with it, so the process ends as it would have.
"""

import os
import signal
import threading
import weakref

_lock = threading.Lock()
_sources = {}  # id -> WeakMethod: move data into writers first (callbacks)
_writers = weakref.WeakSet()
_previous = None  # The handler ours replaced, once installed.
_installed = False
_busy = 0  # Writer calls in progress on the main thread.
_deferred = None  # (signum, frame) received during such a call.
_MAIN_THREAD = threading.main_thread().ident


def install():
    """Installs the SIGTERM handler once, if called from the main thread.

    Returns:
      bool, True if the handler is installed (now or before).
    """
    global _installed, _previous
    if _installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False  # Tried again when a writer opens on the main thread.
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:
        return False  # Installed outside Python: we could not chain to it.
    signal.signal(signal.SIGTERM, _on_sigterm)
    _previous, _installed = previous, True
    return True


def add_writer(writer):
    """Flushes `writer` (it has `flush_or_warn()`) on SIGTERM while it lives."""
    with _lock:
        _writers.add(writer)


def remove_writer(writer):
    with _lock:
        _writers.discard(writer)


def add_source(method):
    """Calls the bound `method()` on SIGTERM before the writers flush: it
    moves data held elsewhere (a device buffer) into a writer."""
    with _lock:
        _sources[id(method.__self__)] = weakref.WeakMethod(method)


def remove_source(method):
    with _lock:
        _sources.pop(id(method.__self__), None)


class _Busy:
    """Marks a writer call in progress: a SIGTERM arriving meanwhile is
    handled when the call ends, not in the middle of it. Use `with BUSY:`."""

    def __enter__(self):
        global _busy
        if threading.get_ident() == _MAIN_THREAD:
            _busy += 1
        return self

    def __exit__(self, *exc_info):
        global _busy, _deferred
        if threading.get_ident() != _MAIN_THREAD:
            return
        _busy -= 1
        if _busy == 0 and _deferred is not None:
            deferred, _deferred = _deferred, None
            _on_sigterm(*deferred)


BUSY = _Busy()


def _on_sigterm(signum, frame):
    global _deferred
    if _busy:
        _deferred = (signum, frame)
        return
    previous = _previous
    dying = previous in (signal.SIG_DFL, None)
    with _lock:
        sources = [ref() for ref in _sources.values()]
        writers = list(_writers)
    for source in sources:
        if source is not None:
            try:
                source()
            except Exception:  # noqa: BLE001 - the writers still flush.
                pass
    for writer in writers:
        try:
            writer.close() if dying else writer.flush_or_warn()
        except Exception:  # noqa: BLE001 - never break the user's handler.
            pass
    if callable(previous):
        previous(signum, frame)
    elif dying:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
