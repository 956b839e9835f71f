"""Opens runs on disk or in a bucket, the one way the CLI, `plot` and export use.

Runs are read straight from their event files (`event_files.FileChecker`),
local or at any fsspec URL (`s3://`, `gs://`, ...), and listed the way
TensorBoard's Python ingester lists them, so every view shows the same
numbers as the tab; damaged files are reported the same way everywhere.
Reading needs neither TensorFlow nor Keras, and imports neither.
"""

import dataclasses
import os
import re

from epochjump import storage
from epochjump.read import event_files
from epochjump.read.decode import decode_run


class Logdir:
    """The epochjump runs of a run directory or a logdir.

    A directory whose only event files are its own is one run, named after
    the directory; otherwise each directory below it holding event files is a
    run named by its path relative to it (`.` for the directory itself), as
    `tensorboard --logdir` names them.

    ```python
    logdir = Logdir("logs")              # or "s3://bucket/logs", "gs://..."
    for name in logdir.run_names("batch"):
        run = logdir.load(name)
    ```

    Args:
      path: str or os.PathLike, a run directory or a logdir, local or a URL.
      single_run: str or None. When given, `path` is read as one run of that
        name (only the event files directly in it, as `read_run` does).

    Raises:
      FileNotFoundError: if `path` is not a directory (for a URL: holds no
        objects).
    """

    def __init__(self, path, single_run=None):
        self.path = os.fspath(path)
        if single_run is not None:
            if not storage.exists_dir(self.path):
                raise FileNotFoundError(f"No such directory: {self.path!r}")
            self._run_dirs = {single_run: self.path}
        else:
            run_dirs = [
                _normal(d) for d in storage.directories_with_event_files(self.path)
            ]
            if run_dirs == [_normal(self.path)]:
                self._run_dirs = {storage.basename(self.path): self.path}
            else:
                self._run_dirs = {storage.relative(d, self.path): d for d in run_dirs}
        self._files = event_files.FileChecker(keep_values=True)
        self._reports = {}

    def run_names(self, pattern=None):
        """The names of the runs holding epochjump data, sorted.

        Args:
          pattern: str or None, a regular expression; only runs whose name it
            matches (`re.search`) are listed.

        Returns:
          A list of str.

        Raises:
          ValueError: if `pattern` is not a valid regular expression.
        """
        names = sorted(name for name in self._run_dirs if self._report(name).series)
        if pattern is None:
            return names
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(
                f"Bad run pattern: not a regular expression ({e}), got {pattern!r}"
            ) from None
        return [name for name in names if regex.search(name)]

    def load(self, run):
        """Reads one run, with its damaged event files among its `problems`.

        Args:
          run: str, a name from `run_names()`.

        Returns:
          A `RunData`.

        Raises:
          ValueError: if the run holds no epochjump data; the message says
            what its directory holds instead.
        """
        files = self._report(run)
        data = decode_run(run, files.series, (), files) if files.series else None
        if data is None:
            raise ValueError(
                no_data_message(self._run_dirs.get(run, run), files.problems)
            )
        if files.problems:
            data = dataclasses.replace(data, problems=data.problems + files.problems)
        return data

    def runs_without_data(self):
        """Why each run directory that holds event files has no epochjump data.

        Returns:
          A dict from run name to the message of `load`'s `ValueError`, for
          the directories `run_names()` leaves out.
        """
        listed = set(self.run_names())
        return {
            name: no_data_message(run_dir, self._report(name).problems)
            for name, run_dir in sorted(self._run_dirs.items())
            if name not in listed
        }

    def file_problems(self, run):
        """Incomplete or corrupt records in a run's epochjump event files.

        Args:
          run: str, a run name.

        Returns:
          A list of str; empty when all is well.
        """
        return list(self._report(run).problems)

    def _report(self, run):
        if run not in self._reports:
            run_dir = self._run_dirs.get(run)
            if run_dir is None:
                return event_files.file_contents.FileReport(series={})
            self._reports[run] = self._files.report(run_dir)
        return self._reports[run]


def read_run(path):
    """Reads the epochjump data of one run directory.

    Args:
      path: str or os.PathLike, the run directory (the `log_dir` given to the
        callback or writer), local or a URL (`s3://`, `gs://`, any fsspec
        URL whose client library is installed).

    Returns:
      A `RunData` named `path`. Its `problems` also name event files that end
      in an incomplete record or hold a corrupt one.

    Raises:
      FileNotFoundError: if `path` does not exist (for a URL: holds no
        objects).
      ValueError: if `path` holds no epochjump data; the message says what
        it holds instead.
    """
    path = os.fspath(path)
    if not storage.exists_dir(path):
        raise FileNotFoundError(f"No such run directory: {path!r}")
    return Logdir(path, single_run=path).load(path)


def no_data_problem(run_dir):
    """Why a run directory listed by TensorBoard has no epochjump data.

    Args:
      run_dir: str, a local directory or a URL.

    Returns:
      str, or None when the directory holds no epochjump event file (it is
      another tool's run, not an epochjump one).
    """
    names = event_files.event_file_names(run_dir)
    if not any(n.endswith(event_files.SUFFIX) for n in names):
        return None
    return (
        "No epochjump data yet: its epochjump event files hold none (training "
        "has not written its first batches, or stopped before it did)"
    )


def no_data_message(path, file_problems=()):
    """The error message for a directory without epochjump data.

    Args:
      path: str, the directory, local or a URL.
      file_problems: iterable of str, damaged records found in its files.

    Returns:
      str, saying what the directory holds instead.
    """
    names = event_files.event_file_names(path)
    if any(n.endswith(event_files.SUFFIX) for n in names):
        why = "; ".join([no_data_problem(path), *file_problems])
    elif names:
        why = (
            f"its {len(names)} event files hold other tools' data only (such as "
            "Keras's TensorBoard callback)"
        )
    else:
        why = "it holds no TensorBoard event files"
    return (
        f"No epochjump data in {path!r}: {why}. Pass the run directory given "
        "to EpochJumpCallback or epochjump.Writer."
    )


def _normal(path):
    return os.path.normpath(path) if storage.is_local(path) else path.rstrip("/")
