"""The `runs` answer's entries, kept by run and listing, read without batch values."""

import logging
import threading
import typing

from epochjump import answers
from epochjump.read import opener
from epochjump.serve.run_cache import RunCache

logger = logging.getLogger(__name__)


class _Known(typing.NamedTuple):
    """A run's kept `runs` entry.

    Attributes:
      signature: the run's listing signature (`RunCache.signature`) it is for.
      summary: the entry (`answers.run_summary`).
      read_whole: bool, whether it was summarized from the whole run (every
        problem included) rather than from its outline.
    """

    signature: tuple
    summary: dict
    read_whole: bool


class RunSummaries:
    """One `runs` entry per run, read again only when the run's listing changed.

    A run read whole (in the `RunCache`) is summarized from its data, every
    problem included; any other run from its outline (`RunCache.outlines`):
    its steps, epoch starts and evaluations, all such runs in one request.
    Entries are kept by run name and listing signature, not by experiment,
    like the run cache.

    Args:
      runs: the plugin's `RunCache`.
    """

    def __init__(self, runs):
        self._runs = runs
        self._lock = threading.Lock()
        self._summaries = {}  # run -> _Known

    def summaries(self, ctx, experiment, listing):
        """The `runs` entries of the listed runs.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          listing: dict from run name to its tags (dict from tag to
            `TensorTimeSeries`), as `provider.list_runs` gives it.

        Returns:
          A dict from run name to its entry (`answers.run_summary`).
        """
        found = {}
        unread = {}
        for run, tags in listing.items():
            summary = self._known(run, RunCache.signature(tags))
            if summary is None:
                unread[run] = tags
            else:
                found[run] = summary
        found.update(self._outlined(ctx, experiment, unread))
        with self._lock:
            for run in [run for run in self._summaries if run not in listing]:
                del self._summaries[run]
        self._runs.forget_outlines(set(listing))
        return found

    def _known(self, run, signature):
        """A run's entry without reading anything, or None."""
        data = self._runs.peek(run, signature)
        with self._lock:
            cached = self._summaries.get(run)
        if cached is not None and cached.signature == signature:
            if cached.read_whole or data is None:
                return cached.summary
        if data is None:
            return None
        summary = answers.run_summary(data)
        with self._lock:
            self._summaries[run] = _Known(signature, summary, read_whole=True)
        return summary

    def _outlined(self, ctx, experiment, listing):
        """Entries of runs not read whole, from their outlines."""
        if not listing:
            return {}
        try:
            outlines = self._runs.outlines(ctx, experiment, listing)
        except Exception as e:  # noqa: BLE001 - listed, with the reason.
            logger.exception("Could not read epochjump runs")
            problem = opener.cannot_read(e)
            return {run: answers.empty_summary(run, problem) for run in listing}
        found = {}
        for run, outline in outlines.items():
            found[run] = answers.run_summary(outline)
            with self._lock:
                self._summaries[run] = _Known(
                    RunCache.signature(listing[run]), found[run], read_whole=False
                )
        return found
