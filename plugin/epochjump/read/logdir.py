"""The runs of a folder on disk or in a bucket, for the CLI, `plot` and export.

Runs are listed the way TensorBoard's Python ingester lists them, and read
straight from their event files by `opener.RunOpener`, local or at any fsspec
URL (`s3://`, `gs://`, ...), so every view shows the same numbers and problems
as the tab. Reading needs neither TensorFlow nor Keras, and imports neither.
"""

import os
import re

from epochjump import storage
from epochjump.read import file_contents
from epochjump.read.opener import RunOpener
from epochjump.read.opener import no_data_message


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
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        run_dirs = [_normal(d) for d in storage.directories_with_event_files(self.path)]
        if run_dirs == [_normal(self.path)]:
            self._run_dirs = {storage.basename(self.path): self.path}
        else:
            self._run_dirs = {storage.relative(d, self.path): d for d in run_dirs}
        self._opener = RunOpener()
        self._reports = {}  # run -> its file report, read once per listing

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
        return self._opener.open_dir(
            run, self._run_dirs.get(run, run), files=self._report(run)
        )

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

    def _report(self, run):
        if run not in self._reports:
            run_dir = self._run_dirs.get(run)
            if run_dir is None:
                return file_contents.FileReport(series={})
            self._reports[run] = self._opener.file_report(run_dir)
        return self._reports[run]


def _normal(path):
    return os.path.normpath(path) if storage.is_local(path) else path.rstrip("/")
