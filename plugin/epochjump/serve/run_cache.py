"""Decoded runs kept in memory for the plugin, re-read when they change."""

import collections
import dataclasses
import logging
import os
import threading

import numpy as np
from tensorboard.data import provider

from epochjump import metadata
from epochjump.read import event_files
from epochjump.read import provider as provider_io
from epochjump.read.run_data import RunData

logger = logging.getLogger(__name__)

# Decoded runs kept in memory; a run of 1M batches x 2 metrics takes ~60 MB.
CACHED_RUNS = 4


class RunCache:
    """Decoded runs, re-read when TensorBoard has new data for them.

    Holds the `CACHED_RUNS` most recently used runs. A run is re-read when the
    largest step or wall time of any of its tags changed, which listing tells
    cheaply. Reading a run again costs about as much as the first time (the
    data provider has no "data since" query); see the benchmark. A run that
    cannot be read is kept as an empty run whose `problems` say why, so it
    is not re-read at every request and never breaks the others.

    Args:
      data_provider: a TensorBoard `DataProvider`.
      max_runs: int, default `CACHED_RUNS`.
      logdir: str or None, TensorBoard's `--logdir`. When it is a local
        directory, each run's epochjump event files are also checked for
        incomplete or corrupt records (`event_files.FileChecker`).
    """

    def __init__(self, data_provider, max_runs=CACHED_RUNS, logdir=None):
        self._data_provider = data_provider
        self._max_runs = max_runs
        self._lock = threading.Lock()
        self._runs = collections.OrderedDict()  # key -> (signature, RunData)
        self._loading = {}  # key -> Lock, so one request reads a run at a time
        self._logdir = _local_dir(logdir)
        self._files = event_files.FileChecker()

    @staticmethod
    def signature(tags):
        """What identifies a run's data version: per tag, max step and time.

        Args:
          tags: dict from tag to `TensorTimeSeries`, one run's listing.
        """
        return tuple(
            sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items())
        )

    def run_dir(self, run):
        """The local directory of a run, or None when not known or not local.

        Args:
          run: str, a run name as TensorBoard lists it (relative to the logdir,
            "." for the logdir itself).
        """
        if self._logdir is None:
            return None
        path = os.path.realpath(os.path.join(self._logdir, run))
        inside = path == self._logdir or path.startswith(self._logdir + os.sep)
        return path if inside and os.path.isdir(path) else None

    def get(self, ctx, experiment, run, tags=None):
        """Returns one run's `RunData`, reading it when new or changed.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name.
          tags: the run's listing (dict from tag to `TensorTimeSeries`) if the
            caller has it; listed here otherwise.

        Returns:
          A `RunData`, or None if the run has no epochjump data.
        """
        if tags is None:
            tags = self._data_provider.list_tensors(
                ctx,
                experiment_id=experiment,
                plugin_name=metadata.PLUGIN_NAME,
                run_tag_filter=provider.RunTagFilter(runs=[run]),
            ).get(run)
        key = (experiment, run)
        if not tags:
            with self._lock:
                self._runs.pop(key, None)
            return None
        # Listed before reading: data newer than the signature only causes
        # one more read later, never a stale answer.
        signature = self.signature(tags)
        with self._lock:
            cached = self._fresh(key, signature)
            if cached is not None:
                return cached
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                cached = self._fresh(key, signature)
            if cached is not None:
                return cached
            data = self._read(ctx, experiment, run)
            with self._lock:
                if data is None:
                    self._runs.pop(key, None)
                else:
                    self._runs[key] = (signature, data)
                    self._runs.move_to_end(key)
                    while len(self._runs) > self._max_runs:
                        self._runs.popitem(last=False)
            return data

    def _read(self, ctx, experiment, run):
        run_dir = self.run_dir(run)
        files = None if run_dir is None else self._files.report(run_dir)
        try:
            data = provider_io.load_run(
                self._data_provider, ctx, experiment, run, files=files
            )
        except Exception as e:  # noqa: BLE001 - one bad run must not break others.
            logger.exception("Could not read epochjump run %r", run)
            data = _unreadable(run, f"Could not read this run: {type(e).__name__}: {e}")
        problems = files.problems if data is not None and files else ()
        if problems:
            data = dataclasses.replace(data, problems=data.problems + problems)
        return data

    def file_report(self, run):
        """What a local run's event files hold (`file_contents.FileReport`),
        or None when the run is not local."""
        run_dir = self.run_dir(run)
        return None if run_dir is None else self._files.report(run_dir)

    def file_problems(self, run):
        """Incomplete or corrupt records in a run's epochjump event files.

        Args:
          run: str, a run name.

        Returns:
          A tuple of str; empty when all is well or the run is not local.
        """
        run_dir = self.run_dir(run)
        return () if run_dir is None else tuple(self._files.problems(run_dir))

    def _fresh(self, key, signature):
        entry = self._runs.get(key)
        if entry is None or entry[0] != signature:
            return None
        self._runs.move_to_end(key)
        return entry[1]


def _local_dir(logdir):
    if not logdir or not event_files.is_local(logdir):
        return None
    path = os.path.realpath(os.path.expanduser(logdir))
    return path if os.path.isdir(path) else None


def _unreadable(run, problem):
    return RunData(
        name=run,
        metrics=(),
        epoch_starts=np.zeros(0, np.int64),
        problems=(problem,),
        _series={},
    )
