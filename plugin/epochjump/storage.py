"""Run folders on disk or at any fsspec URL: the file layer of writer and reader.

A path without `://` is local and goes through `os`; any other path
(`s3://bucket/logs`, `gs://bucket/logs`, `memory://logs`, ...) goes through
fsspec, imported only then, with the client library of its scheme (`s3fs`,
`gcsfs`, ...) configured the way that library documents (for example
`AWS_ENDPOINT_URL`, `STORAGE_EMULATOR_HOST`). TensorFlow is never imported.
Object stores cannot append, so a remote file is written whole, in one call
(`put`), and is there entirely or not at all.
"""

import os

EVENT_FILE_PREFIX = "events.out.tfevents."


def is_local(path):
    """True for a path on the local file system (no `scheme://`)."""
    return "://" not in os.fspath(path)


def join(directory, name):
    """`name` inside `directory`, with the separator of its file system."""
    if is_local(directory):
        return os.path.join(directory, name)
    return directory.rstrip("/") + "/" + name


def basename(path):
    """The last part of a path: a run directory's own name."""
    if is_local(path):
        return os.path.basename(os.path.abspath(path))
    return path.rstrip("/").rsplit("/", 1)[-1]


def relative(path, start):
    """`path` relative to the directory `start` (`.` for `start` itself)."""
    if is_local(path):
        return os.path.relpath(path, start)
    path, start = path.rstrip("/"), start.rstrip("/")
    return "." if path == start else path[len(start) + 1 :]


# A training loop waits for each flush: for S3, fewer retries than botocore's
# default (5 attempts with backoff) unless the user configured their own.
_WRITER_OPTIONS = {
    "s3": {
        "config_kwargs": {
            "retries": {"max_attempts": 2, "mode": "standard"},
            "connect_timeout": 5,
        }
    },
}


def _remote(url, for_writer=False):
    """The fsspec file system of `url` and the path it knows `url` by.

    Args:
      url: str.
      for_writer: bool, default False. True bounds the client's retries
        where it allows (see `_WRITER_OPTIONS`).

    Raises:
      OSError: if no fsspec implementation for the scheme is installed; the
        message names the package to install when fsspec knows it.
    """
    try:
        import fsspec
    except ImportError:
        raise OSError(
            f"{url!r} is not a local path, and reading or writing it needs "
            "fsspec: pip install fsspec (and s3fs for s3://, gcsfs for gs://)"
        ) from None
    options = {}
    if for_writer:
        protocol = fsspec.core.split_protocol(url)[0]
        configured = fsspec.config.conf.get(protocol, {})
        options = {
            key: value
            for key, value in _WRITER_OPTIONS.get(protocol, {}).items()
            if key not in configured
        }
    try:
        return fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as e:
        raise OSError(f"cannot open {url!r}: {e}") from None


def _url(fs, path):
    return fs.unstrip_protocol(path)


def exists_dir(path):
    """Whether `path` is a directory (for URLs: a prefix holding objects)."""
    if is_local(path):
        return os.path.isdir(path)
    fs, remote = _remote(path)
    fs.invalidate_cache(remote)
    return fs.isdir(remote)


def list_files(directory):
    """The files directly in `directory`, with their sizes.

    Args:
      directory: str, a local directory or a URL.

    Returns:
      A dict from file name to its size in bytes; empty if `directory`
      cannot be listed (missing, or not a directory).
    """
    if is_local(directory):
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return {}
        found = {}
        for entry in entries:
            try:
                if entry.is_file():
                    found[entry.name] = entry.stat().st_size
            except OSError:
                continue  # Removed meanwhile.
        return found
    fs, remote = _remote(directory)
    fs.invalidate_cache(remote)
    try:
        entries = fs.ls(remote, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {
        entry["name"].rstrip("/").rsplit("/", 1)[-1]: int(entry.get("size") or 0)
        for entry in entries
        if entry.get("type") == "file"
    }


def directories_with_event_files(top):
    """The directories under `top` (itself included) that hold event files.

    Args:
      top: str, a local directory or a URL.

    Returns:
      A sorted list of paths, in the form `top` was given.

    Raises:
      FileNotFoundError: if `top` is not a directory.
    """
    if not exists_dir(top):
        raise FileNotFoundError(f"No such directory: {top!r}")
    if is_local(top):
        found = []
        for root, dirs, files in os.walk(top):
            dirs.sort()
            if any(f.startswith(EVENT_FILE_PREFIX) for f in files):
                found.append(root)
        return sorted(found)
    fs, remote = _remote(top)
    found = set()
    for name in fs.find(remote):
        parent, _, file_name = name.rpartition("/")
        if file_name.startswith(EVENT_FILE_PREFIX):
            found.add(_url(fs, parent))
    # Keep the form the user gave (`s3://b/logs/` and `s3://b/logs` alike).
    top_url = _url(fs, remote)
    return sorted(top.rstrip("/") + d[len(top_url) :] for d in found)


def read_bytes(path, start, end):
    """Bytes `start` to `end` (exclusive) of a file; fewer if it is shorter.

    Raises:
      OSError: if the file cannot be read.
    """
    if is_local(path):
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(end - start)
    fs, remote = _remote(path)
    return fs.cat_file(remote, start=start, end=end)


def makedirs(directory):
    """Creates a local directory and its parents; URLs need none.

    Raises:
      NotADirectoryError: if `directory` is a file.
      OSError: if it cannot be created.
    """
    if not is_local(directory):
        return
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(
            f"{directory!r} exists and is not a directory"
        ) from None


def put(path, data, for_writer=False):
    """Writes a whole file (an object, on a store) in one call.

    Args:
      path: str, local or a URL.
      data: bytes.
      for_writer: bool, default False; see `_remote`.

    Raises:
      OSError or the client library's error: if it cannot be written; then
      no part of it is there.
    """
    if is_local(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    fs, remote = _remote(path, for_writer)
    fs.pipe_file(remote, bytes(data))
