"""Checks the records of epochjump's event files, to say what TensorBoard skips.

TensorBoard reads an event file up to an incomplete last record (one still
being written, or cut by a killed writer) and waits there; its Python ingester
also stops for good at a corrupt record. Neither is reported to plugins, so
these checks turn both into per-run messages. They read local directories
only, and only epochjump's own files (names ending in `.epochjump`).
"""

import os
import struct
import threading

try:
    import google_crc32c
except ImportError:  # Pure Python: about 100x slower on large files.
    google_crc32c = None
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow


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
    """Checks the framing and checksums of a run's epochjump event files.

    Event files only grow, so each file is read once: later checks start at
    the end of the last complete record. Safe to use from several threads.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._files = {}  # path -> (size, clean_end, problem or None)

    def problems(self, run_dir):
        """Messages for the epochjump event files of one run directory.

        Args:
          run_dir: str, a local directory.

        Returns:
          A list of str, one per file that ends in an incomplete record or
          holds a corrupt one; empty when all is well.
        """
        found = []
        for name in event_file_names(run_dir):
            if name.endswith(SUFFIX):
                problem = self._check(os.path.join(run_dir, name))
                if problem:
                    found.append(f"{name}: {problem}")
        return found

    def _check(self, path):
        try:
            size = os.path.getsize(path)
        except OSError:
            return None  # Removed meanwhile: nothing left to report.
        with self._lock:
            known = self._files.get(path)
        if known is not None and known[0] == size:
            return known[2]
        start = 0
        if known is not None and known[0] < size and not _is_corrupt(known[2]):
            start = known[1]
        try:
            clean_end, problem = _scan(path, start, size)
        except OSError as e:
            return f"could not be read ({type(e).__name__}: {e})"
        with self._lock:
            self._files[path] = (size, clean_end, problem)
        return problem


def _is_corrupt(problem):
    return problem is not None and problem.startswith("corrupt")


def _scan(path, offset, size):
    """Reads records from `offset` up to `size` bytes.

    Returns:
      `(clean_end, problem)`: where the last complete, intact record ends, and
      a message for what follows it, or None.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        while offset < size:
            header = f.read(_HEADER)
            if len(header) < _HEADER:
                return offset, _incomplete(offset, size)
            (length,) = struct.unpack("<Q", header[:8])
            if masked_crc32c(header[:8]) != struct.unpack("<I", header[8:])[0]:
                return offset, _corrupt(offset, size, "length")
            if offset + _HEADER + length + _FOOTER > size:
                return offset, _incomplete(offset, size)
            data = f.read(length)
            footer = f.read(_FOOTER)
            if len(footer) < _FOOTER:
                return offset, _incomplete(offset, size)
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                return offset, _corrupt(offset, size, "data")
            offset += _HEADER + length + _FOOTER
    return offset, None


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
