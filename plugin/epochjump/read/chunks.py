"""Joins batch chunks in the order written, and the "newest wins" rule of restarts."""

import numpy as np

from epochjump import metadata


class Restarts:
    """The "newest wins" rule, from the epoch starts in the order written."""

    def __init__(self, epoch_start_data):
        if not epoch_start_data:
            self._walls = np.zeros(0)
            self._cutoffs = np.zeros(0, np.int64)
            return
        walls = np.array([d.wall_time for d in epoch_start_data], np.float64)
        steps = np.array([scalar_int(d) for d in epoch_start_data], np.int64)
        order = np.argsort(walls, kind="stable")
        self._walls = walls[order]
        # cutoff[i]: the smallest step of any restart written at or after
        # walls[i]; data older than walls[i] must have a smaller step.
        self._cutoffs = np.minimum.accumulate(steps[order][::-1])[::-1]

    def keep(self, steps, wall_times, keep_at_restart_step=False):
        """Returns a boolean mask of the data not hidden by a later restart.

        Args:
          steps: int64 array, the data's steps.
          wall_times: float64 array, when each datum was written.
          keep_at_restart_step: bool, default False. True keeps data at
            exactly a later restart's step: marks for the step about to run
            (fit starts, learning rates), written before its epoch start.
        """
        if len(self._walls) == 0:
            return np.ones(len(steps), bool)
        index = np.searchsorted(self._walls, wall_times, side="right")
        cutoffs = np.append(self._cutoffs, np.iinfo(np.int64).max)[index]
        if keep_at_restart_step:
            return steps <= cutoffs
        return steps < cutoffs


def scalar_int(datum):
    return int(np.asarray(datum.value).reshape(-1)[0])


def decode_batches(by_kind, found):
    """Joins the batch chunks of all tags, in the order they were written.

    Returns:
      `(steps, wall_times, written_at, values)`: per batch its step, its own
      wall time and the time its chunk was written, and a dict from
      `(kind, metric)` to float64 arrays; or None when there are no batches.
    """
    step_chunks = by_kind[metadata.BATCH_STEPS].get(None, [])
    time_chunks = _index_chunks(by_kind[metadata.BATCH_TIMES].get(None, []))
    if not step_chunks:
        return None
    metric_chunks = {}
    for kind in metadata.METRIC_BATCH_KINDS:
        for metric, data in by_kind[kind].items():
            metric_chunks[(kind, metric)] = _index_chunks(data)

    seen = {}
    steps, walls, written_at = [], [], []
    values = {key: [] for key in metric_chunks}
    for chunk in step_chunks:
        offsets = np.asarray(chunk.value).reshape(-1).astype(np.int64)
        n = len(offsets)
        occurrence = seen.get(chunk.step, 0)
        seen[chunk.step] = occurrence + 1
        key = (chunk.step, occurrence)
        steps.append(chunk.step - offsets)
        time_chunk = time_chunks.get(key)
        if time_chunk is not None and _size(time_chunk) == n:
            walls.append(
                time_chunk.wall_time
                + np.asarray(time_chunk.value, np.float64).reshape(-1)
            )
        else:
            walls.append(np.full(n, chunk.wall_time))
        written_at.append(np.full(n, chunk.wall_time))
        for series_key, chunks in metric_chunks.items():
            metric_chunk = chunks.get(key)
            if metric_chunk is None:
                values[series_key].append(np.full(n, np.nan))
            elif _size(metric_chunk) != n:
                found.add(
                    metadata.tag_for(*series_key),
                    "chunks whose number of values differs from their number of "
                    "batches are read as NaN",
                )
                values[series_key].append(np.full(n, np.nan))
            else:
                values[series_key].append(
                    np.asarray(metric_chunk.value, np.float64).reshape(-1)
                )
    return (
        np.concatenate(steps),
        np.concatenate(walls),
        np.concatenate(written_at),
        {key: np.concatenate(v) for key, v in values.items()},
    )


def _size(datum):
    return np.asarray(datum.value).size


def _index_chunks(data):
    """Indexes chunks by (event step, occurrence of that step)."""
    seen = {}
    index = {}
    for datum in data:
        occurrence = seen.get(datum.step, 0)
        seen[datum.step] = occurrence + 1
        index[(datum.step, occurrence)] = datum
    return index


def last_unique(steps):
    """Sorts by step, keeping the last occurrence of each step.

    Returns:
      `(sorted_unique_steps, indices_into_steps)`.
    """
    reversed_steps = steps[::-1]
    unique, first_in_reversed = np.unique(reversed_steps, return_index=True)
    indices = len(steps) - 1 - first_in_reversed
    return unique, indices
