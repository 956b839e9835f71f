"""Opens a run: its event files, or what TensorBoard's data provider holds of it,
become one `RunData` whose problems end with those of its event files.

The one way runs are opened. `logdir.Logdir` (the CLI, `plot`, export) reads
the event files themselves, without TensorFlow; the plugin's
`serve/run_cache.RunCache` reads through the data provider and keeps what this
returns. A run that cannot be read, or holds no epochjump data, is made here.
"""

import dataclasses
import logging
import os
import typing

import numpy as np

from epochjump import storage
from epochjump.read import event_files
from epochjump.read import provider
from epochjump.read.decode import decode_run
from epochjump.read.run_data import RunData

logger = logging.getLogger(__name__)

# A run whose files hold epochjump data TensorBoard lists none of.
NOT_LOADED = (
    "TensorBoard has not loaded this run's epochjump data, which its files "
    "hold: it may still be loading, or its Python ingester stopped at a record "
    "that is not an event (named in another run's problems), which stops it for "
    "every run; TensorBoard started with --load_fast=true reads past it"
)


class Outline(typing.NamedTuple):
    """What the `runs` answer needs of a run, without its batch values.

    Attributes:
      read: `(data, problems)`, the run's entry of `provider.read_outlines`;
        given to `RunOpener.open` as `outline`, its tags are not read again.
      run: the `RunData` made of it: NaN batch values and times, its problems
        followed by those of its event files.
    """

    read: tuple
    run: RunData


class RunOpener:
    """Opens runs, reading each event file once (`event_files.FileChecker`).

    Without a data provider, runs are read from their event files alone
    (`open_dir`), local or at any fsspec URL. With one, as in the plugin, runs
    are named as TensorBoard lists them and read through it (`open`,
    `outlines`); when its logdir is local, their event files are also checked.

    ```python
    run = RunOpener().open_dir("run", "logs/run")    # or "s3://bucket/logs/run"
    run = RunOpener(data_provider, logdir).open(ctx, experiment, "run")
    ```

    Args:
      data_provider: a TensorBoard `DataProvider`, or None (default) to read
        event files only.
      logdir: str or None, TensorBoard's `--logdir`, which the data provider's
        run names are relative to ("." for itself). When it is a local
        directory, each run's event files are checked for incomplete or
        corrupt records.
    """

    def __init__(self, data_provider=None, logdir=None):
        self._data_provider = data_provider
        self._logdir = _local_dir(logdir)
        # Without a data provider the values come from the files themselves.
        self._files = event_files.FileChecker(keep_values=data_provider is None)

    def run_dir(self, run):
        """The local directory of a run TensorBoard lists, or None when not
        known or not local.

        Args:
          run: str, a run name as TensorBoard lists it (relative to the logdir,
            "." for the logdir itself).
        """
        if self._logdir is None:
            return None
        path = os.path.realpath(os.path.join(self._logdir, run))
        inside = path == self._logdir or path.startswith(self._logdir + os.sep)
        return path if inside and os.path.isdir(path) else None

    def file_report(self, run_dir):
        """What a run directory's event files hold.

        Args:
          run_dir: str or None, a local directory or a URL.

        Returns:
          A `file_contents.FileReport` (with the runs' series when there is no
          data provider), or None when `run_dir` is None.
        """
        return None if run_dir is None else self._files.report(run_dir)

    def open_dir(self, name, run_dir, files=None):
        """Reads a run from its event files alone.

        Args:
          name: str, the name to give the run.
          run_dir: str, the run directory, local or a URL.
          files: its `file_report`, if the caller has it; read here otherwise.

        Returns:
          A `RunData`, its damaged event files among its `problems`.

        Raises:
          ValueError: if the files hold no epochjump data; the message says
            what the directory holds instead.
        """
        files = self.file_report(run_dir) if files is None else files
        if not files.series:
            raise ValueError(no_data_message(run_dir, files.problems))
        return _with_file_problems(decode_run(name, files.series, (), files), files)

    def list_runs(self, ctx, experiment, runs=None):
        """The runs TensorBoard holds epochjump data of, with their tags.

        Args:
          ctx: a `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          runs: list of run names, or None (default) for all.

        Returns:
          A dict from run name to a dict from tag to `TensorTimeSeries`.
        """
        return provider.list_runs(self._data_provider, ctx, experiment, runs=runs)

    def open(self, ctx, experiment, run, listing=None, outline=None):
        """Reads a run through the data provider.

        Args:
          ctx: a `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name as TensorBoard lists it.
          listing: the run's tags (dict from tag to `TensorTimeSeries`) listed
            just before, or None to list them here.
          outline: `Outline.read` of the run, read after `listing`, or None.

        Returns:
          A `RunData`, its damaged event files among its `problems`; one that
          cannot be read has no metrics and a problem saying why (`unreadable`).
          None if the run has no epochjump data.
        """
        files = self.file_report(self.run_dir(run))
        try:
            data = provider.load_run(
                self._data_provider,
                ctx,
                experiment,
                run,
                files=files,
                listing=listing,
                read=outline,
            )
        except Exception as e:  # noqa: BLE001 - one bad run must not break others.
            logger.exception("Could not read epochjump run %r", run)
            data = unreadable(run, e)
        return None if data is None else _with_file_problems(data, files)

    def outlines(self, ctx, experiment, listings):
        """What the `runs` answer needs of runs, without their batch values.

        Reads all the runs' steps, epoch starts and evaluations in one request
        (`provider.read_outlines`).

        Args:
          ctx: a `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          listings: dict from run name to its tags (dict from tag to
            `TensorTimeSeries`), listed just before.

        Returns:
          A dict from run name to its `Outline`.
        """
        files = {run: self.file_report(self.run_dir(run)) for run in listings}
        read = provider.read_outlines(
            self._data_provider, ctx, experiment, listings, files
        )
        found = {}
        for run, outline in read.items():
            try:
                data = provider.decode_outline(run, listings[run], outline, files[run])
            except Exception as e:  # noqa: BLE001 - one bad run must not hide others.
                data = unreadable(run, e)
            found[run] = Outline(outline, _with_file_problems(data, files[run]))
        return found

    def problems_without_data(self, run):
        """Why a run TensorBoard lists without epochjump tags has no epochjump
        data, followed by its event files' problems.

        Args:
          run: str, a run name as TensorBoard lists it.

        Returns:
          A tuple of str; empty when the run is not local or holds no
          epochjump event file (it is another tool's run).
        """
        run_dir = self.run_dir(run)
        problem = run_dir and no_data_problem(run_dir)
        if not problem:
            return ()
        files = self._files.report(run_dir)
        return (NOT_LOADED if files.has_data else problem,) + tuple(files.problems)


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
    return RunOpener().open_dir(path, path)


def cannot_read(error):
    """The problem of a run that could not be read.

    Args:
      error: the `Exception` raised reading it.

    Returns:
      str.
    """
    return f"Could not read this run: {type(error).__name__}: {error}"


def unreadable(run, error):
    """A run that could not be read: no metrics, a problem saying why.

    Args:
      run: str, the run name.
      error: the `Exception` raised reading it.

    Returns:
      A `RunData`.
    """
    return RunData(
        name=run,
        metrics=(),
        epoch_starts=np.zeros(0, np.int64),
        problems=(cannot_read(error),),
        _series={},
    )


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


def _with_file_problems(data, files):
    """`data` with the problems of its event files (`files`, or None) last."""
    if files is None or not files.problems:
        return data
    return dataclasses.replace(data, problems=data.problems + tuple(files.problems))


def _local_dir(logdir):
    if not logdir or not event_files.is_local(logdir):
        return None
    path = os.path.realpath(os.path.expanduser(logdir))
    return path if os.path.isdir(path) else None
