"""Decoded runs kept in memory for the plugin, re-read when they change."""

import collections
import threading
import typing

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
    "data since" query); see the benchmark. Runs are read by the opener; one
    that cannot be read is kept as the empty run it makes of it, so it is not
    re-read at every request and never breaks the others.

    Args:
      opener: the `opener.RunOpener` (with a data provider) that reads runs.
      max_runs: int, default `CACHED_RUNS`.
    """

    def __init__(self, opener, max_runs=CACHED_RUNS):
        self._opener = opener
        self._max_runs = max_runs
        self._lock = threading.Lock()
        self._runs = collections.OrderedDict()  # run -> _Kept(signature, RunData)
        self._loading = {}  # run -> Lock, so one request reads a run at a time
        # run -> _Kept(signature, outline): what `outlines` read of runs not read
        # whole yet, so their first full read skips it. It is the smallest
        # part of a run (steps as int32, one value per epoch and evaluation).
        self._outlines = {}

    @staticmethod
    def signature(tags):
        """What identifies a run's data version: per tag, max step and time.

        Args:
          tags: dict from tag to `TensorTimeSeries`, one run's listing.
        """
        return tuple(
            sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items())
        )

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
            tags = self._opener.list_runs(ctx, experiment, runs=[run]).get(run)
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
            data = self._opener.open(ctx, experiment, run, tags, outline)
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

        Reads them with `RunOpener.outlines` (same arguments) and keeps each
        outline until its run is read whole, which then skips reading it again.

        Returns:
          A dict from run name to its `Outline.run`.
        """
        read = self._opener.outlines(ctx, experiment, listings)
        with self._lock:
            for run, outline in read.items():
                _, problems = outline.read
                if problems:  # Not kept: a full read tries these tags again.
                    self._outlines.pop(run, None)
                else:
                    self._outlines[run] = _Kept(
                        self.signature(listings[run]), outline.read
                    )
        return {run: outline.run for run, outline in read.items()}

    def forget_outlines(self, keep):
        """Drops the outlines kept of runs not in `keep` (a set of run names)."""
        with self._lock:
            for run in [run for run in self._outlines if run not in keep]:
                del self._outlines[run]

    def _fresh(self, key, signature):
        entry = self._runs.get(key)
        if entry is None or entry.signature != signature:
            return None
        self._runs.move_to_end(key)
        return entry.value
