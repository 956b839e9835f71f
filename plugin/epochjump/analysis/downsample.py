"""Chooses which batches of a long series to send to the chart (pure numpy).

Min/max decimation that never hides what the tab is about: the first and last
batch of each epoch (the two sides of a jump) are always kept, and so is each
bucket's lowest and highest `batch_value`, so spikes stay visible. A bucket
holding NaN keeps one NaN point too; infinities are kept as the bucket's
extremes. The running means ride along: callers index them with the same
indices.
"""

import numpy as np


def downsample_indices(steps, epoch, batch_value, max_points):
    """Returns the indices of the batches to keep, at most `max_points`.

    Buckets split the step range into equal widths, so batches are spread
    evenly along the step axis even where steps have gaps.

    Args:
      steps: 1-D int array, ascending global steps.
      epoch: 1-D int array, the epoch of each batch, non-decreasing.
      batch_value: 1-D float array, the value bucket extremes are chosen by.
      max_points: int >= 2, the largest number of indices wanted. The first
        and last batch of every epoch are kept even when they alone exceed it.

    Returns:
      A sorted int64 array of unique indices into the inputs; every index
      when there are at most `max_points` batches.
    """
    n = len(steps)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    steps = np.asarray(steps, np.int64)
    epoch = np.asarray(epoch)
    batch_value = np.asarray(batch_value, np.float64)
    epoch_change = np.flatnonzero(epoch[1:] != epoch[:-1])
    budget = max_points - 2 * (len(epoch_change) + 1)
    # A bucket keeps up to three points: its minimum, its maximum and, if it
    # holds any, one NaN. Reserve room for the NaNs so one pass fits.
    num_nan = int(np.count_nonzero(np.isnan(batch_value)))
    if num_nan <= budget // 3:
        num_buckets = (budget - num_nan) // 2
    else:
        num_buckets = budget // 3
    return select(steps, epoch_change, batch_value, num_buckets)


def select(steps, epoch_change, batch_value, num_buckets):
    """Returns the kept indices for a given number of step buckets.

    Args:
      steps: 1-D int64 array, ascending global steps (at least one).
      epoch_change: 1-D int array, the indices `i` where batch `i + 1` starts
        a new epoch.
      batch_value: 1-D float64 array.
      num_buckets: int. Bucket `b` holds the steps `s` with
        `(s - steps[0]) * num_buckets // (steps[-1] - steps[0] + 1) == b`;
        with 0 or less, only the first and last batch of each epoch are kept.

    Returns:
      A sorted int64 array of unique indices: the first and last batch of
      each epoch, and per non-empty bucket the first index of its minimum and
      of its maximum `batch_value` (ignoring NaN) and its first NaN, if any.
    """
    n = len(steps)
    keep = np.zeros(n, bool)
    keep[[0, n - 1]] = True
    keep[epoch_change] = True
    keep[np.asarray(epoch_change) + 1] = True
    if num_buckets < 1:
        return np.flatnonzero(keep)
    starts = _bucket_starts(steps, num_buckets)
    counts = np.diff(np.append(starts, n))
    bucket_min = np.repeat(np.fmin.reduceat(batch_value, starts), counts)
    bucket_max = np.repeat(np.fmax.reduceat(batch_value, starts), counts)
    keep[_first_per_bucket(np.flatnonzero(batch_value == bucket_min), starts)] = True
    keep[_first_per_bucket(np.flatnonzero(batch_value == bucket_max), starts)] = True
    keep[_first_per_bucket(np.flatnonzero(np.isnan(batch_value)), starts)] = True
    return np.flatnonzero(keep)


def _bucket_starts(steps, num_buckets):
    """The index of the first batch of each non-empty bucket."""
    span = int(steps[-1] - steps[0]) + 1
    b = np.arange(num_buckets, dtype=np.int64)
    # First step of bucket b: steps[0] + ceil(b * span / num_buckets), split
    # as b * (span // num_buckets) + ceil(b * (span % num_buckets) / ...) so
    # it cannot overflow int64.
    quotient, remainder = divmod(span, num_buckets)
    edges = steps[0] + b * quotient + -(-(b * remainder) // num_buckets)
    starts = np.searchsorted(steps, edges, side="left")
    # An empty bucket starts where the next one does (or at len(steps)).
    starts = starts[starts < len(steps)]
    return starts[np.concatenate(([True], starts[1:] != starts[:-1]))]


def _first_per_bucket(indices, starts):
    """The first of `indices` (ascending) in each bucket they fall in."""
    if len(indices) == 0:
        return indices
    buckets = np.searchsorted(starts, indices, side="right")
    first = np.concatenate(([True], buckets[1:] != buckets[:-1]))
    return indices[first]
