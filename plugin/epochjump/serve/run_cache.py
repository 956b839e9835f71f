"""Decoded runs kept in memory for the plugin, re-read when they change."""

import collections
import dataclasses
import logging
import os
import threading
import typing

import numpy as np
from tensorboard.data import provider

from epochjump import metadata
from epochjump.read import event_files
from epochjump.read import provider as provider_io
from epochjump.read.run_data import RunData

logger = logging.getLogger(__name__)

# Decoded runs kept in memory; a run of 1M batches x 2 metrics takes ~60 MB.
CACHED_RUNS = 4


class _Kept(typing.NamedTuple):
    """What is kept of a run, and the listing signature it was read at."""

    signature: tuple
    value: object


class RunCache:
    """Decoded runs, re-read when TensorBoard has new data for them.

    Holds the `CACHED_RUNS` most recently used runs. A run is re-read when the
    largest step or wall time of any of its tags changed, which listing tells
    cheaply. Runs are kept by name and listing signature, not by experiment:
    TensorBoard serves one logdir under any `/experiment/<id>/` prefix, so a
    new experiment ID with the same data reads nothing again. Reading a run
    again costs about as much as the first time (the data provider has no
    "data since" query); see the benchmark. A run that cannot be read is kept
    as an empty run whose `problems` say why, so it is not re-read at every
    request and never breaks the others.

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
        self._runs = collections.OrderedDict()  # run -> _Kept(signature, RunData)
        self._loading = {}  # run -> Lock, so one request reads a run at a time
        # run -> _Kept(signature, outline): what `outlines` read of runs not read
        # whole yet, so their first full read skips it. It is the smallest
        # part of a run (steps as int32, one value per epoch and evaluation).
        self._outlines = {}
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
        key = run
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
            with self._lock:
                outline = self._outlines.get(key)
            outline = (
                outline.value if outline and outline.signature == signature else None
            )
            data = self._read(ctx, experiment, run, tags, outline)
            with self._lock:
                self._outlines.pop(key, None)
                if data is None:
                    self._runs.pop(key, None)
                else:
                    self._runs[key] = _Kept(signature, data)
                    self._runs.move_to_end(key)
                    while len(self._runs) > self._max_runs:
                        self._runs.popitem(last=False)
            return data

    def peek(self, run, signature):
        """The cached `RunData` of a run if it has this signature, else None;
        never reads.

        Args:
          run: str, the run name.
          signature: the run's `signature` as listed now.
        """
        with self._lock:
            entry = self._runs.get(run)
        if entry is None or entry.signature != signature:
            return None
        return entry.value

    def outlines(self, ctx, experiment, listings):
        """What the `runs` answer needs of runs, without their batch values.

        Reads all the runs' steps, epoch starts and evaluations in one request
        (`provider.read_outlines`) and keeps them until the run is read whole.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          listings: dict from run name to its tags (dict from tag to
            `TensorTimeSeries`), listed just before.

        Returns:
          A dict from run name to a `RunData` with NaN batch values and times
          (`provider.decode_outline`), its problems followed by those of its
          event files.
        """
        files = {run: self.file_report(run) for run in listings}
        read = provider_io.read_outlines(
            self._data_provider, ctx, experiment, listings, files
        )
        decoded = {}
        with self._lock:
            for run, outline in read.items():
                _, problems = outline
                if problems:  # Not kept: a full read tries these tags again.
                    self._outlines.pop(run, None)
                else:
                    self._outlines[run] = _Kept(self.signature(listings[run]), outline)
        for run, outline in read.items():
            report = files[run]
            data = provider_io.decode_outline(run, listings[run], outline, report)
            problems = report.problems if report else ()
            if problems:
                data = dataclasses.replace(data, problems=data.problems + problems)
            decoded[run] = data
        return decoded

    def forget_outlines(self, keep):
        """Drops the outlines kept of runs not in `keep` (a set of run names)."""
        with self._lock:
            for run in [run for run in self._outlines if run not in keep]:
                del self._outlines[run]

    def _read(self, ctx, experiment, run, tags, outline):
        files = self.file_report(run)
        try:
            data = provider_io.load_run(
                self._data_provider,
                ctx,
                experiment,
                run,
                files=files,
                listing=tags,
                read=outline,
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
        if entry is None or entry.signature != signature:
            return None
        self._runs.move_to_end(key)
        return entry.value


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
