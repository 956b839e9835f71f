"""Opens runs from disk, the one way the CLI, `epochjump.plot` and export all use.

Runs are read through TensorBoard's own multiplexer and data provider, as
the TensorBoard tab reads them, so every view shows the same numbers; local
event files are also checked for incomplete or corrupt records, so every view
reports a damaged file the same way.
"""

import dataclasses
import os
import re

from epochjump import metadata
from epochjump.read import event_files
from epochjump.read import provider as provider_io


class Logdir:
    """The epochjump runs of a run directory or a logdir.

    A directory whose only event files are its own is one run, named after
    the directory; otherwise each directory below it holding event files is a
    run named by its path relative to it (`.` for the directory itself), as
    `tensorboard --logdir` names them.

    ```python
    logdir = Logdir("logs")
    for name in logdir.run_names("batch"):
        run = logdir.load(name)
    ```

    Args:
      path: str or os.PathLike, a run directory or a logdir.
      single_run: str or None. When given, `path` is read as one run of that
        name (only the event files directly in it, as `read_run` does), and
        may be any path TensorBoard can read (`gs://`, `ram://`, ...).

    Raises:
      FileNotFoundError: if a local `path` is not a directory.
    """

    def __init__(self, path, single_run=None):
        from tensorboard import context
        from tensorboard.backend.event_processing import data_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer

        self.path = os.fspath(path)
        self._local = event_files.is_local(self.path)
        if self._local and not os.path.isdir(self.path):
            raise FileNotFoundError(f"No such directory: {self.path!r}")
        multiplexer = plugin_event_multiplexer.EventMultiplexer(
            tensor_size_guidance={metadata.PLUGIN_NAME: 0}
        )
        if single_run is not None:
            self._run_dirs = {single_run: self.path}
        else:
            run_dirs = [os.path.normpath(d) for d in find_runs(self.path)]
            if run_dirs == [os.path.normpath(self.path)]:
                name = os.path.basename(os.path.abspath(self.path))
                self._run_dirs = {name: self.path}
            else:
                self._run_dirs = {os.path.relpath(d, self.path): d for d in run_dirs}
        for name, run_dir in self._run_dirs.items():
            multiplexer.AddRun(run_dir, name=name)
        self._load_failures = provider_io.reload_each_run(multiplexer)
        self._provider = data_provider.MultiplexerDataProvider(multiplexer, self.path)
        self._ctx = context.RequestContext()
        self._files = event_files.FileChecker()

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
        names = sorted(provider_io.list_runs(self._provider, self._ctx, ""))
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
        files = self._file_report(run)
        data = provider_io.load_run(self._provider, self._ctx, "", run, files=files)
        problems = self._problems(run, files)
        if data is None:
            raise ValueError(no_data_message(self._run_dirs.get(run, run), problems))
        if problems:
            data = dataclasses.replace(data, problems=data.problems + problems)
        return data

    def runs_without_data(self):
        """Why each run directory that holds event files has no epochjump data.

        Returns:
          A dict from run name to the message of `load`'s `ValueError`, for
          the directories `run_names()` leaves out.
        """
        listed = set(self.run_names())
        return {
            name: no_data_message(run_dir, self._problems(name))
            for name, run_dir in sorted(self._run_dirs.items())
            if name not in listed
        }

    def file_problems(self, run):
        """Incomplete or corrupt records in a local run's epochjump event files.

        Args:
          run: str, a run name.

        Returns:
          A list of str; empty when all is well or the run is not local.
        """
        report = self._file_report(run)
        return [] if report is None else list(report.problems)

    def _file_report(self, run):
        run_dir = self._run_dirs.get(run)
        if run_dir is None or not self._local:
            return None
        return self._files.report(run_dir)

    def _problems(self, run, files=None):
        """The file problems of a run, and why it failed to load when they
        do not say (a remote run)."""
        files = self._file_report(run) if files is None else files
        problems = () if files is None else files.problems
        failure = self._load_failures.get(run)
        if failure and not problems:
            problems = (failure,)
        return tuple(problems)


def read_run(path):
    """Reads the epochjump data of one run directory.

    Args:
      path: str or os.PathLike, the run directory (the `log_dir` given to the
        callback or writer), local or any path TensorBoard can read.

    Returns:
      A `RunData` named `path`. Its `problems` also name event files that end
      in an incomplete record or hold a corrupt one (local directories).

    Raises:
      FileNotFoundError: if `path` does not exist.
      ValueError: if `path` holds no epochjump data; the message says what
        it holds instead.
    """
    path = os.fspath(path)
    if event_files.is_local(path) and not os.path.isdir(path):
        raise FileNotFoundError(f"No such run directory: {path!r}")
    return Logdir(path, single_run=path).load(path)


def no_data_problem(run_dir):
    """Why a local run directory listed by TensorBoard has no epochjump data.

    Args:
      run_dir: str, a local directory.

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
      path: str, the directory.
      file_problems: iterable of str, damaged records found in its files.

    Returns:
      str, saying what the directory holds instead.
    """
    names = event_files.event_file_names(path) if event_files.is_local(path) else []
    if not event_files.is_local(path):
        why = "none of its event files holds any"
    elif any(n.endswith(event_files.SUFFIX) for n in names):
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


def find_runs(logdir):
    """Lists the directories under `logdir` (itself included) holding event files.

    Args:
      logdir: str or os.PathLike, a local directory.

    Returns:
      A sorted list of directory paths.
    """
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"No such directory: {logdir!r}")
    found = []
    for root, dirs, files in os.walk(logdir):
        dirs.sort()
        if any(f.startswith(event_files.EVENT_FILE_PREFIX) for f in files):
            found.append(root)
    return sorted(found)
