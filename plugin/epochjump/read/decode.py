"""Decodes stored epochjump series into a `RunData`, naming what cannot be used."""

import numpy as np

from epochjump import metadata
from epochjump.read import chunks
from epochjump.read import epoch_numbers
from epochjump.read import run_data


def decode_run(name, series, problems=(), files=None):
    """Decodes the stored series of one run into a `RunData`.

    Data is kept "newest wins", like TensorBoard's handling of restarted runs:
    an epoch start written at wall time `w` for step `s` hides every datum
    written before `w` with a step of `s` or more (a resume from an older
    checkpoint); fit starts and learning rates written just before the epoch
    start of their own step are kept. Data this reader cannot use (a newer
    format, tensors of the wrong type or size) is left out and described in
    `RunData.problems`.

    Args:
      name: str, the run name.
      series: dict from tag to `(plugin_content_bytes, [Datum, ...])`, the
        data in the order it was written.
      problems: iterable of str, problems found while reading the data; they
        come first in `RunData.problems`.
      files: a `file_contents.FileReport` of the run's files, or None when
        they cannot be read one by one (remote runs). Its `left_out` values
        are dropped, and a tag is read with the metadata a readable file gave
        it (TensorBoard keeps a tag's first metadata, maybe a newer one's);
        the report's problems are the caller's to add.

    Returns:
      A `RunData`.
    """
    found = _Problems()
    by_kind = {kind: {} for kind in metadata.ALL_KINDS}
    for tag, (content, data) in series.items():
        if files is not None:
            kept = [d for d in data if (tag, d.step, d.wall_time) not in files.left_out]
            if data and not kept and tag not in files.contents:
                continue  # All from files the report names.
            content, data = files.contents.get(tag, content), kept
        try:
            kind, metric = metadata.parse_plugin_metadata(content)
        except metadata.FormatError as e:
            found.add(tag, str(e))
            continue
        data = _usable(tag, kind, data, found)
        if metric in by_kind[kind]:  # Two tags for one series: merge by time.
            data = sorted(by_kind[kind][metric] + data, key=lambda d: d.wall_time)
        by_kind[kind][metric] = data

    epoch_start_data = by_kind[metadata.EPOCH_START].get(None, [])
    restarts = chunks.Restarts(epoch_start_data)
    recorded_starts = _decode_epoch_starts(epoch_start_data, restarts)
    ordinals = epoch_numbers.recorded_ordinals(
        recorded_starts, by_kind[metadata.EPOCH_INDEX].get(None, []), restarts
    )

    batches = chunks.decode_batches(by_kind, found)
    metric_names = sorted(
        set(by_kind[metadata.RUNNING_MEAN])
        | set(by_kind[metadata.BATCH_VALUE])
        | set(by_kind[metadata.TRAIN_EVAL])
        | set(by_kind[metadata.TRAIN_EVAL_TRAINING_MODE])
        | set(by_kind[metadata.VAL]),
        key=_keras_order,
    )
    if batches is not None:
        steps, wall_times, written_at, values = batches
        keep = chunks.kept(restarts.keep(steps, written_at))
        steps, wall_times = steps[keep], wall_times[keep]
        values = {k: v[keep] for k, v in values.items()}
        # Among surviving duplicates of a step (none in a well-formed run),
        # the one written last wins.
        steps, unique = chunks.last_unique(steps)
        wall_times = wall_times[unique]
        values = {k: v[unique] for k, v in values.items()}
    else:
        steps = np.zeros(0, np.int64)
        wall_times = np.zeros(0, np.float64)
        values = {}
        found.add_run_note(_no_batches_note(by_kind))
    epoch_starts, numbered = epoch_numbers.starts_by_ordinal(
        recorded_starts, ordinals, _first_step(steps, by_kind)
    )
    epochs = run_data.epoch_of(steps, epoch_starts)

    out = {}
    empty = np.full(len(steps), np.nan)
    for metric in metric_names:
        out[metric] = run_data.MetricData(
            name=metric,
            step=steps,
            epoch=epochs,
            wall_time=wall_times,
            batch_value=values.get((metadata.BATCH_VALUE, metric), empty),
            running_mean=values.get((metadata.RUNNING_MEAN, metric), empty),
            train_eval=_decode_evals(
                by_kind[metadata.TRAIN_EVAL].get(metric, []), epoch_starts, restarts
            ),
            val=_decode_evals(
                by_kind[metadata.VAL].get(metric, []), epoch_starts, restarts
            ),
            train_eval_training_mode=_decode_evals(
                by_kind[metadata.TRAIN_EVAL_TRAINING_MODE].get(metric, []),
                epoch_starts,
                restarts,
            ),
        )
    if numbered:
        with_data = set(epochs.tolist()) | set(np.unique(ordinals).tolist())
        for series in out.values():
            with_data |= set(series.val.epoch.tolist())
            with_data |= set(series.train_eval.epoch.tolist())
            with_data |= set(series.train_eval_training_mode.epoch.tolist())
        found.add_run_note(
            epoch_numbers.missing_epochs_note(len(epoch_starts), with_data)
        )
    return run_data.RunData(
        name=name,
        metrics=tuple(metric_names),
        epoch_starts=epoch_starts,
        problems=tuple(problems) + found.messages(),
        _series=out,
        learning_rate=_decode_learning_rate(
            by_kind[metadata.LEARNING_RATE].get(None, []), restarts
        ),
        fit_starts=_decode_fit_starts(
            by_kind[metadata.FIT_START].get(None, []), restarts
        ),
    )


def _no_batches_note(by_kind):
    if any(by_kind[kind] for kind in metadata.METRIC_BATCH_KINDS):
        return (
            "Batch values are recorded without their steps (batch_steps), so "
            "they cannot be placed"
        )
    if any(by_kind[kind] for kind in metadata.EVAL_KINDS):
        return (
            "No batches recorded, only evaluations (val, train_eval): there "
            "is no epoch boundary to explain"
        )
    return None


class _Problems:
    """Problems of a run; one message per kind of problem, naming its tags."""

    def __init__(self):
        self._subjects = {}  # message -> tags, in the order found
        self._notes = []

    def add(self, subject, message):
        subjects = self._subjects.setdefault(message, [])
        if subject not in subjects:
            subjects.append(subject)

    def add_run_note(self, message):
        if message:
            self._notes.append(message)

    def messages(self):
        out = []
        for message, subjects in self._subjects.items():
            subjects = sorted(subjects)
            shown = ", ".join(subjects[:3])
            if len(subjects) > 3:
                shown += f" and {len(subjects) - 3} more"
            out.append(f"{shown}: {message}")
        return tuple(out + self._notes)


_SCALAR_KINDS = (
    (metadata.EPOCH_START, metadata.EPOCH_INDEX)
    + metadata.EVAL_KINDS
    + metadata.MARK_KINDS
)
_STEP_KINDS = (metadata.EPOCH_START, metadata.FIT_START)


def _usable(tag, kind, data, found):
    """The data of one tag with values as this reader needs them (int64 or
    float64, flat); values it cannot use are left out and reported."""
    usable, bad, reason = [], 0, None
    for datum in data:
        value = _clean(kind, datum.value)
        if isinstance(value, str):
            bad += 1
            reason = reason or f"at step {datum.step}, {value}"
            continue
        usable.append(run_data.Datum(datum.step, datum.wall_time, value))
    if bad:
        found.add(tag, f"{bad} of {len(data)} values left out ({reason})")
    return usable


def _clean(kind, value):
    """`value` as an int64/float64 array, or a str saying why it cannot be."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        return f"{array.dtype} values are not numbers"
    array = array.reshape(-1)
    if kind in _SCALAR_KINDS and array.size != 1:
        return f"expected 1 value, got {array.size}"
    if kind in _STEP_KINDS:
        start = float(array[0])
        if not (np.isfinite(start) and start == int(start)):
            return f"{kind} {start!r} is not a whole number"
        return array.astype(np.int64)
    if kind == metadata.EPOCH_INDEX:
        ordinal = float(array[0])
        if not (np.isfinite(ordinal) and ordinal == int(ordinal) and ordinal >= 0):
            return f"epoch index {ordinal!r} is not a whole number >= 0"
        return array.astype(np.int64)
    if kind == metadata.BATCH_STEPS:
        if array.dtype.kind == "f":
            return "step offsets are not integers"
        if array.size and array.min() < 0:
            return "step offsets are negative"
        return array.astype(np.int64)
    return array.astype(np.float64)


def _keras_order(metric):
    # "loss" first, then the order Keras uses for the rest: alphabetical is
    # the only stable order the files give, so use it.
    return (metric != "loss", metric)


def _first_step(steps, by_kind):
    """The smallest step of any batch or evaluation, or None."""
    firsts = [int(steps.min())] if len(steps) else []
    for kind in metadata.EVAL_KINDS:
        firsts += [min(d.step for d in data) for data in by_kind[kind].values() if data]
    return min(firsts, default=None)


def _decode_epoch_starts(data, restarts):
    if not data:
        return np.zeros(0, np.int64)
    steps = np.array([chunks.scalar_int(d) for d in data], np.int64)
    walls = np.array([d.wall_time for d in data], np.float64)
    # An epoch start is hidden only by starts written strictly after it.
    return np.unique(steps[restarts.keep(steps, walls)])


def _decode_evals(data, epoch_starts, restarts):
    if not data:
        return run_data.empty_evals()
    steps = np.array([d.step for d in data], np.int64)
    walls = np.array([d.wall_time for d in data], np.float64)
    values = np.array(
        [float(np.asarray(d.value).reshape(-1)[0]) for d in data], np.float64
    )
    keep = chunks.kept(restarts.keep(steps, walls))
    steps, walls, values = steps[keep], walls[keep], values[keep]
    steps, unique = chunks.last_unique(steps)
    walls, values = walls[unique], values[unique]
    # An evaluation at an epoch's last step belongs to that epoch, which
    # started strictly before it.
    epochs = run_data.epoch_of(steps, epoch_starts)
    return run_data.EvalSeries(steps, epochs, walls, values)


def _decode_marks(data, restarts):
    """Steps and values of a run-level mark, "newest wins", sorted by step."""
    steps = np.array([d.step for d in data], np.int64)
    walls = np.array([d.wall_time for d in data], np.float64)
    values = np.array([np.asarray(d.value).reshape(-1)[0] for d in data])
    # A mark is written for the step about to run, possibly just before that
    # step's epoch start: a restart at its own step does not hide it.
    keep = restarts.keep(steps, walls, keep_at_restart_step=True)
    steps, walls, values = steps[keep], walls[keep], values[keep]
    steps, unique = chunks.last_unique(steps)
    return steps, values[unique]


def _decode_fit_starts(data, restarts):
    if not data:
        return np.zeros(0, np.int64)
    steps, _ = _decode_marks(data, restarts)
    return steps


def _decode_learning_rate(data, restarts):
    if not data:
        return run_data.LearningRate()
    steps, values = _decode_marks(data, restarts)
    values = values.astype(np.float64)
    # One entry per change: a new session logs the rate it starts with again.
    changed = np.ones(len(values), bool)
    changed[1:] = (values[1:] != values[:-1]) & ~(
        np.isnan(values[1:]) & np.isnan(values[:-1])
    )
    return run_data.LearningRate(steps[changed], values[changed])
