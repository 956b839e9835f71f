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
      `(kind, metric)` to float64 arrays (left out: a series without chunks,
      all NaN); or None when there are no batches.
    """
    step_chunks = by_kind[metadata.BATCH_STEPS].get(None, [])
    if not step_chunks:
        return None
    event_steps = np.array([chunk.step for chunk in step_chunks], np.int64)
    offsets = [np.asarray(chunk.value).reshape(-1) for chunk in step_chunks]
    sizes = np.array([len(o) for o in offsets], np.int64)
    chunk_walls = np.array([chunk.wall_time for chunk in step_chunks], np.float64)
    steps = np.repeat(event_steps, sizes) - np.concatenate(offsets).astype(np.int64)
    written_at = np.repeat(chunk_walls, sizes)
    layout = _Layout(event_steps, sizes)

    time_chunks = by_kind[metadata.BATCH_TIMES].get(None, [])
    walls = written_at  # Batches without their own times take their chunk's.
    if time_chunks:
        times, time_walls, timed, _ = layout.gather(time_chunks)
        walls = np.where(
            np.repeat(timed, sizes), np.repeat(time_walls, sizes) + times, written_at
        )
    values = {}
    for kind in metadata.METRIC_BATCH_KINDS:
        for metric, data in by_kind[kind].items():
            if not data:
                continue  # All NaN, as a series missing from `values` reads.
            values[(kind, metric)], _, _, mismatched = layout.gather(data)
            if mismatched:
                found.add(
                    metadata.tag_for(kind, metric),
                    "chunks whose number of values differs from their number of "
                    "batches are read as NaN",
                )
    return steps, walls, written_at, values


class _Layout:
    """Places other tags' chunks on the batches of the step chunks.

    A chunk belongs to the step chunk with the same event step and the same
    occurrence of that step (a resumed run writes a step again).

    Args:
      event_steps: int64 array, the event step of each step chunk.
      sizes: int64 array, the batches of each step chunk.
    """

    def __init__(self, event_steps, sizes):
        self._event_steps = event_steps
        self._sizes = sizes
        self._keys = None  # Computed when first needed.

    def gather(self, data):
        """The values of `data`'s chunks, placed on the step chunks' batches.

        Args:
          data: list of `Datum`, one tag's chunks in the order written.

        Returns:
          `(values, chunk_walls, matched, mismatched)`: a float64 array with
          one value per batch, NaN where the chunk is missing or has another
          number of values than its step chunk; per step chunk the wall time
          of the chunk placed on it (0 where none) and whether one was; and
          whether any chunk had a wrong number of values.
        """
        sizes = self._sizes
        values = [np.asarray(datum.value).reshape(-1) for datum in data]
        if len(data) == len(sizes) and np.array_equal(
            [datum.step for datum in data], self._event_steps
        ):  # The usual case: one chunk per step chunk, in the same order.
            if np.array_equal([len(v) for v in values], sizes):
                walls = np.array([d.wall_time for d in data], np.float64)
                matched = np.ones(len(sizes), bool)
                return np.concatenate(values).astype(np.float64), walls, matched, False
        if self._keys is None:
            self._keys = _occurrence_keys(self._event_steps.tolist())
        index = dict(zip(_occurrence_keys([d.step for d in data]), zip(data, values)))
        parts = []
        walls = np.zeros(len(sizes))
        matched = np.zeros(len(sizes), bool)
        mismatched = False
        for i, (key, n) in enumerate(zip(self._keys, sizes.tolist())):
            datum, value = index.get(key, (None, None))
            if value is not None and len(value) == n:
                parts.append(value.astype(np.float64))
                walls[i] = datum.wall_time
                matched[i] = True
            else:
                mismatched = mismatched or value is not None
                parts.append(np.full(n, np.nan))
        return np.concatenate(parts), walls, matched, mismatched


def _occurrence_keys(event_steps):
    """`(event step, occurrence of that step)` of each chunk, in order."""
    seen = {}
    keys = []
    for step in event_steps:
        occurrence = seen.get(step, 0)
        seen[step] = occurrence + 1
        keys.append((step, occurrence))
    return keys


def last_unique(steps):
    """Sorts by step, keeping the last occurrence of each step.

    Returns:
      `(sorted_unique_steps, indices_into_steps)`; the indices are a slice
      of all when `steps` already ascend strictly (the usual case).
    """
    if np.all(steps[1:] > steps[:-1]):
        return steps, slice(None)
    reversed_steps = steps[::-1]
    unique, first_in_reversed = np.unique(reversed_steps, return_index=True)
    indices = len(steps) - 1 - first_in_reversed
    return unique, indices


def kept(mask):
    """`mask` for indexing arrays, or a slice of all when it keeps all (no
    copies)."""
    return slice(None) if mask.all() else mask
