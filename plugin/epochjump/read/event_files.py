"""Checks the records of epochjump's event files, to say what TensorBoard skips.

TensorBoard reads an event file up to an incomplete last record (one still
being written, or cut by a killed writer) and waits there; its Python ingester
also stops for good at a corrupt record, and fails on an intact record that is
not an event. None of this is reported to plugins, so these checks turn each
into a per-run message; they also read each file's own metadata (see
`file_contents`) and, for readers without TensorBoard's ingester, its values.
Files are read through `epochjump.storage`: local directories and any fsspec
URL (`s3://`, `gs://`, ...) alike.
"""

import struct
import threading

try:
    import google_crc32c
except ImportError:  # Pure Python: about 100x slower on large files.
    google_crc32c = None
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

from epochjump import metadata
from epochjump import storage
from epochjump.read import file_contents


def masked_crc32c(data):
    """TFRecord's masked CRC32-C of `data` (bytes), in C when available."""
    if google_crc32c is None:
        return pywrap_tensorflow.masked_crc32c(data)
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


SUFFIX = metadata.EVENT_FILE_SUFFIX
EVENT_FILE_PREFIX = storage.EVENT_FILE_PREFIX
is_local = storage.is_local
_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data
_BLOCK = 1 << 24  # Bytes read at once: one request per object on a store.


def event_files(run_dir):
    """The TensorBoard event files directly in `run_dir`, with their sizes.

    Args:
      run_dir: str, a local directory or a URL.

    Returns:
      A dict from file name to size, in name order (the order TensorBoard
      reads them); empty if `run_dir` cannot be listed.
    """
    found = storage.list_files(run_dir)
    return {n: found[n] for n in sorted(found) if n.startswith(EVENT_FILE_PREFIX)}


def event_file_names(run_dir):
    """The TensorBoard event files directly in `run_dir`, sorted.

    Args:
      run_dir: str, a local directory or a URL.

    Returns:
      A list of file names; empty if `run_dir` is not a readable directory.
    """
    return list(event_files(run_dir))


class FileChecker:
    """Checks a run's event files: framing, checksums and what each file holds.

    Event files only grow, so each file is read once: later checks start at
    the end of the last complete record. Every event file of the run is read
    (a record that is not an event, or another plugin's summary under an
    epochjump tag, harms the run whichever tool wrote the file); incomplete
    and corrupt records are reported for epochjump's own files only. Safe to
    use from several threads.

    Args:
      keep_values: bool, default False. True keeps every summary value read,
        so that `report(...).series` holds the run's epochjump series (for
        readers that do not go through TensorBoard's ingester).
    """

    def __init__(self, keep_values=False):
        self._keep_values = keep_values
        self._lock = threading.Lock()
        self._files = {}  # path -> _FileState
        self._scanning = {}  # path -> Lock: one thread reads a file at a time

    def problems(self, run_dir):
        """Messages for the event files of one run directory.

        Args:
          run_dir: str, a local directory or a URL.

        Returns:
          A list of str, one per problem: a file that ends in an incomplete
          record, holds a corrupt one or one that is not an event, or data
          this reader must leave out; empty when all is well.
        """
        return list(self.report(run_dir).problems)

    def report(self, run_dir):
        """What the event files of one run directory say, for the reader.

        Args:
          run_dir: str, a local directory or a URL.

        Returns:
          A `file_contents.FileReport`.
        """
        found, problems, read_on = [], [], []
        for name, size in event_files(run_dir).items():
            state = self._check(storage.join(run_dir, name), size)
            if state is None:
                continue
            problem = state.problem
            if problem and (name.endswith(SUFFIX) or state.not_an_event):
                problems.append(f"{name}: {problem}")
            found.append((name, state.contents))
            if not any(s.not_an_event for s in read_on):
                # TensorBoard's Python ingester reads no further in the run.
                read_on.append(state)
        series = None
        if self._keep_values:
            series, unreadable = file_contents.run_series([s.contents for s in read_on])
            problems.extend(unreadable)
        return file_contents.run_report(found, problems, series)

    def _check(self, path, size):
        with self._lock:
            scanning = self._scanning.setdefault(path, threading.Lock())
        with scanning:
            return self._check_alone(path, size)

    def _check_alone(self, path, size):
        with self._lock:
            known = self._files.get(path)
        if known is not None and known.size == size:
            return known
        if known is not None and known.size < size and not known.final:
            state = known.grown(size)
        else:
            state = _FileState(size, self._keep_values)
        try:
            _scan(path, state)
        except FileNotFoundError:
            return None  # Removed meanwhile: nothing left to report.
        except Exception as e:  # noqa: BLE001 - OSError, or a store client's own.
            state = _FileState(size, self._keep_values)
            state.problem = f"could not be read ({type(e).__name__}: {e})"
        with self._lock:
            self._files[path] = state
        return state


class _FileState:
    """One file as far as it was read: where its intact records end, what
    follows them, and what its events hold."""

    def __init__(self, size, keep_values=False):
        self.size = size
        self.clean_end = 0
        self.problem = None
        self.final = False  # A corrupt record or a non-event: read no further.
        self.not_an_event = False
        self.contents = file_contents.FileContents(keep_values)

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
    f = _BlockReader(path, offset, size)
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


class _BlockReader:
    """Reads a file from `start` up to `size` bytes in large blocks (one
    request each on a store), handing out as many bytes as asked."""

    def __init__(self, path, start, size):
        self._path = path
        self._next = start  # The first byte not fetched yet.
        self._size = size
        self._buffer = b""
        self._at = 0

    def read(self, n):
        while len(self._buffer) - self._at < n and self._next < self._size:
            end = min(self._size, self._next + max(_BLOCK, n))
            block = storage.read_bytes(self._path, self._next, end)
            if not block:
                self._size = self._next  # Shorter than listed: cut meanwhile.
                break
            self._buffer = self._buffer[self._at :] + block
            self._at = 0
            self._next += len(block)
        out = self._buffer[self._at : self._at + n]
        self._at += len(out)
        return out


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
