"""Numbers epochs as the training loop did, from the recorded `epoch_index`.

Writers record each epoch's ordinal with its start (Keras's `epoch`), so
when earlier data is lost (the run directory removed during training) the
epochs that remain keep their numbers instead of being counted again from 0.
Runs without `epoch_index` (older writers) are numbered by counting their
epoch starts, as before.
"""

import numpy as np

from epochjump.read import chunks

# More epochs without data than this means the ordinals are not to be
# trusted (they would also make every per-epoch array that long).
MAX_MISSING_EPOCHS = 1000


def recorded_ordinals(start_steps, index_data, restarts):
    """The recorded ordinal of each epoch start.

    Args:
      start_steps: ascending int64 array, the run's epoch starts.
      index_data: list of `Datum`, the `epoch_index` series (usable values).
      restarts: the run's `chunks.Restarts`.

    Returns:
      An int64 array like `start_steps`: the ordinal, or -1 where none.
    """
    out = np.full(len(start_steps), -1, np.int64)
    if not index_data or not len(start_steps):
        return out
    steps = np.array([d.step for d in index_data], np.int64)
    walls = np.array([d.wall_time for d in index_data], np.float64)
    values = np.array([chunks.scalar_int(d) for d in index_data], np.int64)
    keep = restarts.keep(steps, walls)
    steps, values = steps[keep], values[keep]
    steps, unique = chunks.last_unique(steps)
    values = values[unique]
    at = np.searchsorted(steps, start_steps)
    found = (at < len(steps)) & (steps[np.minimum(at, len(steps) - 1)] == start_steps)
    out[found] = values[at[found]]
    return out


def starts_by_ordinal(start_steps, recorded, first_step):
    """Epoch starts indexed by epoch ordinal.

    An epoch start whose recorded ordinal is missing, or not above the
    previous one (a second `fit()` counts from 0 again), numbers on from the
    previous start. An epoch without a recorded start gets the start of the
    next one that has one (it has no batches), or, before the first, the
    run's first step (the batches before the first start belong to the
    epoch just before it).

    Args:
      start_steps: ascending int64 array, the recorded epoch starts.
      recorded: int64 array, their recorded ordinals (-1 for none).
      first_step: int or None, the smallest step of any batch or evaluation.

    Returns:
      `(epoch_starts, numbered)`: an ascending int64 array, element `e` the
      first step of epoch `e`; and whether recorded ordinals were used (False
      when there were none, or too many epochs would have no start).
    """
    ordinals, previous = [], -1
    for ordinal in recorded.tolist():
        previous = ordinal if ordinal > previous else previous + 1
        ordinals.append(previous)
    count = len(start_steps)
    if not count or ordinals[-1] + 1 == count:
        return start_steps, bool(count) and bool((recorded >= 0).any())
    if ordinals[-1] + 1 - count > MAX_MISSING_EPOCHS:
        return start_steps, False
    out = np.empty(ordinals[-1] + 1, np.int64)
    out[ordinals] = start_steps
    known = np.zeros(len(out), bool)
    known[ordinals] = True
    before = int(start_steps[0])
    if first_step is not None:
        before = min(before, int(first_step))
    following = before
    for epoch in range(len(out) - 1, -1, -1):
        if known[epoch]:
            following = int(out[epoch])
        elif epoch < ordinals[0]:
            out[epoch] = before
        else:
            out[epoch] = following
    return out, True


def missing_epochs_note(num_epochs, epochs_with_data):
    """Says which epochs have no data, 1-based as Keras prints them.

    Args:
      num_epochs: int, the number of epochs.
      epochs_with_data: iterable of int, 0-based ordinals with a recorded
        start, batch or evaluation.

    Returns:
      str, or None when every epoch has data.
    """
    missing = sorted(set(range(num_epochs)) - set(epochs_with_data))
    if not missing:
        return None
    ranges, first = [], missing[0]
    for previous, current in zip(missing, missing[1:] + [None]):
        if current != previous + 1:
            shown = str(first + 1)
            if previous != first:
                shown += f"-{previous + 1}"
            ranges.append(shown)
            first = current
    plural = "s" if len(missing) > 1 else ""
    return (
        f"No data for epoch{plural} {', '.join(ranges)}: lost (for example the "
        "run directory was removed during training) or never recorded; the "
        "other epochs keep the numbers the training loop gave them"
    )
