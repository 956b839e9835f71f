"""Checks the records of epochjump's event files, to say what TensorBoard skips.

TensorBoard reads an event file up to an incomplete last record (one still
being written, or cut by a killed writer) and waits there; its Python ingester
also stops for good at a corrupt record, and fails on an intact record that is
not an event. None of this is reported to plugins, so these checks turn each
into a per-run message; they also read each file's own metadata (see
`file_contents`). They read local directories only.
"""

import os
import struct
import threading

try:
    import google_crc32c
except ImportError:  # Pure Python: about 100x slower on large files.
    google_crc32c = None
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

from epochjump.read import file_contents


def masked_crc32c(data):
    """TFRecord's masked CRC32-C of `data` (bytes), in C when available."""
    if google_crc32c is None:
        return pywrap_tensorflow.masked_crc32c(data)
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


SUFFIX = ".epochjump"
EVENT_FILE_PREFIX = "events.out.tfevents."
_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data


def is_local(path):
    """True for a path on the local file system (not `gs://`, `ram://`...)."""
    return "://" not in os.fspath(path)


def event_file_names(run_dir):
    """The TensorBoard event files directly in `run_dir`, sorted.

    Args:
      run_dir: str, a local directory.

    Returns:
      A list of file names; empty if `run_dir` is not a readable directory.
    """
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(EVENT_FILE_PREFIX))


class FileChecker:
    """Checks a run's event files: framing, checksums and what each file holds.

    Event files only grow, so each file is read once: later checks start at
    the end of the last complete record. Every event file of the run is read
    (a record that is not an event, or another plugin's summary under an
    epochjump tag, harms the run whichever tool wrote the file); incomplete
    and corrupt records are reported for epochjump's own files only. Safe to
    use from several threads.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._files = {}  # path -> _FileState
        self._scanning = {}  # path -> Lock: one thread reads a file at a time

    def problems(self, run_dir):
        """Messages for the event files of one run directory.

        Args:
          run_dir: str, a local directory.

        Returns:
          A list of str, one per problem: a file that ends in an incomplete
          record, holds a corrupt one or one that is not an event, or data
          this reader must leave out; empty when all is well.
        """
        return list(self.report(run_dir).problems)

    def report(self, run_dir):
        """What the event files of one run directory say, for the reader.

        Args:
          run_dir: str, a local directory.

        Returns:
          A `file_contents.FileReport`.
        """
        found, problems = [], []
        for name in event_file_names(run_dir):
            state = self._check(os.path.join(run_dir, name))
            if state is None:
                continue
            problem = state.problem
            if problem and (name.endswith(SUFFIX) or state.not_an_event):
                problems.append(f"{name}: {problem}")
            found.append((name, state.contents))
        return file_contents.run_report(found, problems)

    def _check(self, path):
        with self._lock:
            scanning = self._scanning.setdefault(path, threading.Lock())
        with scanning:
            return self._check_alone(path)

    def _check_alone(self, path):
        try:
            size = os.path.getsize(path)
        except OSError:
            return None  # Removed meanwhile: nothing left to report.
        with self._lock:
            known = self._files.get(path)
        if known is not None and known.size == size:
            return known
        if known is not None and known.size < size and not known.final:
            state = known.grown(size)
        else:
            state = _FileState(size)
        try:
            _scan(path, state)
        except OSError as e:
            state = _FileState(size)
            state.problem = f"could not be read ({type(e).__name__}: {e})"
        with self._lock:
            self._files[path] = state
        return state


class _FileState:
    """One file as far as it was read: where its intact records end, what
    follows them, and what its events hold."""

    def __init__(self, size):
        self.size = size
        self.clean_end = 0
        self.problem = None
        self.final = False  # A corrupt record or a non-event: read no further.
        self.not_an_event = False
        self.contents = file_contents.FileContents()

    def grown(self, size):
        state = _FileState(size)
        state.clean_end = self.clean_end
        state.contents = self.contents  # Read on by one thread at a time.
        return state


def _scan(path, state):
    """Reads records from `state.clean_end` up to `state.size` bytes, feeding
    each intact one to `state.contents`; sets where the intact records end
    and a message for what follows them, or None."""
    offset, size = state.clean_end, state.size
    with open(path, "rb") as f:
        f.seek(offset)
        while offset < size:
            header = f.read(_HEADER)
            if len(header) < _HEADER:
                break
            (length,) = struct.unpack("<Q", header[:8])
            if masked_crc32c(header[:8]) != struct.unpack("<I", header[8:])[0]:
                state.clean_end, state.final = offset, True
                state.problem = _corrupt(offset, size, "length")
                return
            if offset + _HEADER + length + _FOOTER > size:
                break
            data = f.read(length)
            footer = f.read(_FOOTER)
            if len(footer) < _FOOTER:
                break
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                state.clean_end, state.final = offset, True
                state.problem = _corrupt(offset, size, "data")
                return
            why = state.contents.add(data)
            if why is not None:
                state.clean_end, state.final = offset, True
                state.not_an_event = True
                state.problem = _not_an_event(offset, why)
                return
            offset += _HEADER + length + _FOOTER
    state.clean_end = offset
    if offset < size:
        state.problem = _incomplete(offset, size)


def _incomplete(offset, size):
    return (
        f"incomplete last record ({size - offset} bytes from byte {offset}): "
        "the file is still being written, or its writer stopped mid-write; "
        "the data before it is shown"
    )


def _corrupt(offset, size, part):
    return (
        f"corrupt record at byte {offset} (its {part} checksum does not match); "
        f"data in the {size - offset} bytes from there on may be missing"
    )


def _not_an_event(offset, why):
    return (
        f"the record at byte {offset} is intact but {why}; TensorBoard stops "
        "reading this run there, so the data from there on is missing"
    )
