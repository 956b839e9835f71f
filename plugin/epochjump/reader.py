"""Reads epochjump series back from TensorBoard event data into numpy arrays.

`read_run(path)` reads a run directory from disk; `load_run(...)` reads one run
through a TensorBoard data provider (what the plugin uses). Both decode the same
way, so the CLI, notebooks and the TensorBoard tab show the same numbers.
"""

import dataclasses
import os

import numpy as np

from epochjump import event_files
from epochjump import metadata

# Ask the data provider for every stored sample.
_ALL_SAMPLES = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class EvalSeries:
    """Evaluations recorded once per epoch (`train_eval` or `val`).

    Attributes:
      step: int64 array, global step at the end of the evaluated epoch.
      epoch: int64 array, 0-based epoch ordinal within the run.
      wall_time: float64 array, seconds since the epoch (Unix time).
      value: float64 array, the evaluated value.
    """

    step: np.ndarray
    epoch: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray

    def __len__(self):
        return len(self.step)


@dataclasses.dataclass(frozen=True)
class MetricData:
    """Everything recorded for one metric, one entry per recorded batch.

    Attributes:
      name: str, the metric name as Keras logs it (e.g. "accuracy").
      step: int64 array, global step after the batch (1 for a fresh model).
      epoch: int64 array, 0-based epoch ordinal within the run.
      wall_time: float64 array, when the batch finished (Unix time).
      batch_value: float64 array, the metric of that batch alone.
      running_mean: float64 array, what Keras reported at that batch.
      train_eval: `EvalSeries`, post-epoch inference-mode evaluations of the
        fixed training subset (empty when not recorded).
      val: `EvalSeries`, validation values (empty when not recorded).
    """

    name: str
    step: np.ndarray
    epoch: np.ndarray
    wall_time: np.ndarray
    batch_value: np.ndarray
    running_mean: np.ndarray
    train_eval: EvalSeries
    val: EvalSeries

    def __len__(self):
        return len(self.step)


@dataclasses.dataclass(frozen=True)
class RunData:
    """One run's epochjump data.

    Attributes:
      name: str, the run name (directory relative to the logdir, or the path).
      metrics: tuple of metric names, without the `val_` prefix.
      epoch_starts: int64 array, global step of each epoch's first batch.
      problems: tuple of str, data that could not be read, per tag.
    """

    name: str
    metrics: tuple
    epoch_starts: np.ndarray
    problems: tuple
    _series: dict = dataclasses.field(repr=False)

    def __getitem__(self, metric):
        try:
            return self._series[metric]
        except KeyError:
            raise KeyError(
                f"No metric {metric!r} in run {self.name!r}; "
                f"it has {list(self.metrics)}"
            ) from None

    def __contains__(self, metric):
        return metric in self._series

    @property
    def num_batches(self):
        """Number of recorded batches (the same for every metric)."""
        return max((len(s) for s in self._series.values()), default=0)

    @property
    def has_train_eval(self):
        return any(len(s.train_eval) for s in self._series.values())

    @property
    def has_val(self):
        return any(len(s.val) for s in self._series.values())


@dataclasses.dataclass(frozen=True)
class Datum:
    """One stored event of a tag: step, wall time and tensor value."""

    step: int
    wall_time: float
    value: np.ndarray


def read_run(path):
    """Reads the epochjump data of one run directory.

    Args:
      path: str or os.PathLike, the run directory (the `log_dir` given to the
        callback or writer), local or any path TensorBoard can read.

    Returns:
      A `RunData`. Its `problems` also name event files that end in an
      incomplete record or hold a corrupt one (local directories).

    Raises:
      FileNotFoundError: if `path` does not exist.
      ValueError: if `path` holds no epochjump data; the message says what
        it holds instead.
    """
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    path = os.fspath(path)
    local = event_files.is_local(path)
    if local and not os.path.isdir(path):
        raise FileNotFoundError(f"No such run directory: {path!r}")
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={metadata.PLUGIN_NAME: 0}
    )
    multiplexer.AddRun(path, name=".")
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, path)
    run = load_run(provider, context.RequestContext(), "", ".", name=path)
    file_problems = event_files.FileChecker().problems(path) if local else []
    if run is None:
        raise ValueError(_no_data_message(path, file_problems))
    if file_problems:
        run = dataclasses.replace(run, problems=run.problems + tuple(file_problems))
    return run


def no_data_problem(run_dir):
    """Why a local run directory listed by TensorBoard has no epochjump data.

    Args:
      run_dir: str, a local directory.

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


def _no_data_message(path, file_problems):
    names = event_files.event_file_names(path) if event_files.is_local(path) else []
    if not event_files.is_local(path):
        why = "none of its event files holds any"
    elif any(n.endswith(event_files.SUFFIX) for n in names):
        why = "; ".join([no_data_problem(path)] + file_problems)
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


def list_runs(provider, ctx, experiment_id, runs=None):
    """Lists the runs that hold epochjump data, without reading values.

    Args:
      provider: a TensorBoard `DataProvider`.
      ctx: a `tensorboard.context.RequestContext`.
      experiment_id: str.
      runs: optional list of run names to list; default all.

    Returns:
      A dict from run name to a dict from tag to `TensorTimeSeries`.
    """
    from tensorboard.data import provider as provider_lib

    return provider.list_tensors(
        ctx,
        experiment_id=experiment_id,
        plugin_name=metadata.PLUGIN_NAME,
        run_tag_filter=provider_lib.RunTagFilter(runs=runs),
    )


def load_run(provider, ctx, experiment_id, run, name=None):
    """Reads one run's epochjump data through a TensorBoard data provider.

    Batch chunks are all or nothing: a chunk's `batch_steps` value is the last
    of its event, and TensorBoard ingests an event's values in order, so the
    steps are read first and every value of their chunks is there when the
    other tags are read. Data that cannot be read becomes a problem of the
    run, not an error.

    Args:
      provider: a TensorBoard `DataProvider`.
      ctx: a `tensorboard.context.RequestContext`.
      experiment_id: str.
      run: str, the run name as the provider knows it.
      name: str, the name to give the returned run (default `run`).

    Returns:
      A `RunData`, or None if the run has no epochjump data.
    """
    listing = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
    if not listing:
        return None
    problems = []
    data = {}
    while True:
        steps_tags = [tag for tag in listing if _unread_steps(tag, listing, data)]
        data.update(_read_tags(provider, ctx, experiment_id, run, steps_tags, problems))
        # Listed again: tags that first appear in the chunks just read.
        relisted = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
        listing = {**listing, **(relisted or {})}
        if not any(_unread_steps(tag, listing, data) for tag in listing):
            break
    others = sorted(tag for tag in listing if tag not in data)
    data.update(_read_tags(provider, ctx, experiment_id, run, others, problems))
    series = {tag: (listing[tag].plugin_content, data.get(tag, [])) for tag in listing}
    return decode_run(name if name is not None else run, series, problems)


def _unread_steps(tag, listing, data):
    if tag in data:
        return False
    try:
        kind, _ = metadata.parse_plugin_metadata(listing[tag].plugin_content)
    except metadata.FormatError:
        return False
    return kind == metadata.BATCH_STEPS


def _read_tags(provider, ctx, experiment_id, run, tags, problems):
    """Reads `tags` of `run`; a tag whose data cannot be read is left out and
    named in `problems`, without losing the others."""
    from tensorboard.data import provider as provider_lib

    if not tags:
        return {}
    try:
        read = provider.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=_ALL_SAMPLES,
            run_tag_filter=provider_lib.RunTagFilter(runs=[run], tags=tags),
        ).get(run, {})
    except Exception as e:  # noqa: BLE001 - one bad tag must not hide the run.
        if len(tags) == 1:
            problems.append(f"{tags[0]}: could not be read ({type(e).__name__}: {e})")
            return {tags[0]: []}
        data = {}
        for tag in tags:
            data.update(_read_tags(provider, ctx, experiment_id, run, [tag], problems))
        return data
    return {
        tag: [Datum(d.step, d.wall_time, d.numpy) for d in read.get(tag, [])]
        for tag in tags
    }


def decode_run(name, series, problems=()):
    """Decodes the stored series of one run into a `RunData`.

    Data is kept "newest wins", like TensorBoard's handling of restarted runs:
    an epoch start written at wall time `w` for step `s` hides every datum
    written before `w` with a step of `s` or more (a resume from an older
    checkpoint). Data this reader cannot use (a newer format, tensors of the
    wrong type or size) is left out and described in `RunData.problems`.

    Args:
      name: str, the run name.
      series: dict from tag to `(plugin_content_bytes, [Datum, ...])`, the
        data in the order it was written.
      problems: iterable of str, problems found while reading the data; they
        come first in `RunData.problems`.

    Returns:
      A `RunData`.
    """
    found = _Problems()
    by_kind = {kind: {} for kind in metadata.ALL_KINDS}
    for tag, (content, data) in series.items():
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
    restarts = _Restarts(epoch_start_data)
    epoch_starts = _decode_epoch_starts(epoch_start_data, restarts)

    batches = _decode_batches(by_kind, found)
    metric_names = sorted(
        set(by_kind[metadata.RUNNING_MEAN])
        | set(by_kind[metadata.BATCH_VALUE])
        | set(by_kind[metadata.TRAIN_EVAL])
        | set(by_kind[metadata.VAL]),
        key=_keras_order,
    )
    if batches is not None:
        steps, wall_times, written_at, values = batches
        keep = restarts.keep(steps, written_at)
        steps, wall_times = steps[keep], wall_times[keep]
        values = {k: v[keep] for k, v in values.items()}
        # Among surviving duplicates of a step (none in a well-formed run),
        # the one written last wins.
        steps, unique = _last_unique(steps)
        wall_times = wall_times[unique]
        values = {k: v[unique] for k, v in values.items()}
    else:
        steps = np.zeros(0, np.int64)
        wall_times = np.zeros(0, np.float64)
        values = {}
        found.add_run_note(_no_batches_note(by_kind))
    epochs = epoch_of(steps, epoch_starts)

    out = {}
    empty = np.full(len(steps), np.nan)
    for metric in metric_names:
        out[metric] = MetricData(
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
        )
    return RunData(
        name=name,
        metrics=tuple(metric_names),
        epoch_starts=epoch_starts,
        problems=tuple(problems) + found.messages(),
        _series=out,
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


_SCALAR_KINDS = (metadata.EPOCH_START,) + metadata.EVAL_KINDS


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
        usable.append(Datum(datum.step, datum.wall_time, value))
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
    if kind == metadata.EPOCH_START:
        start = float(array[0])
        if not (np.isfinite(start) and start == int(start)):
            return f"epoch start {start!r} is not a whole number"
        return array.astype(np.int64)
    if kind == metadata.BATCH_STEPS:
        if array.dtype.kind == "f":
            return "step offsets are not integers"
        if array.size and array.min() < 0:
            return "step offsets are negative"
        return array.astype(np.int64)
    return array.astype(np.float64)


def epoch_of(steps, epoch_starts):
    """Returns the 0-based epoch ordinal of each step.

    Args:
      steps: int64 array of global steps.
      epoch_starts: ascending int64 array, the first step of each epoch.

    Returns:
      An int64 array; steps before the first epoch start count as epoch 0.
    """
    epochs = np.searchsorted(epoch_starts, steps, side="right") - 1
    return np.maximum(epochs, 0).astype(np.int64)


def _keras_order(metric):
    # "loss" first, then the order Keras uses for the rest: alphabetical is
    # the only stable order the files give, so use it.
    return (metric != "loss", metric)


class _Restarts:
    """The "newest wins" rule, from the epoch starts in the order written."""

    def __init__(self, epoch_start_data):
        if not epoch_start_data:
            self._walls = np.zeros(0)
            self._cutoffs = np.zeros(0, np.int64)
            return
        walls = np.array([d.wall_time for d in epoch_start_data], np.float64)
        steps = np.array([_scalar_int(d) for d in epoch_start_data], np.int64)
        order = np.argsort(walls, kind="stable")
        self._walls = walls[order]
        # cutoff[i]: the smallest step of any restart written at or after
        # walls[i]; data older than walls[i] must have a smaller step.
        self._cutoffs = np.minimum.accumulate(steps[order][::-1])[::-1]

    def keep(self, steps, wall_times):
        """Returns a boolean mask of the data not hidden by a later restart."""
        if len(self._walls) == 0:
            return np.ones(len(steps), bool)
        index = np.searchsorted(self._walls, wall_times, side="right")
        cutoffs = np.append(self._cutoffs, np.iinfo(np.int64).max)[index]
        return steps < cutoffs


def _scalar_int(datum):
    return int(np.asarray(datum.value).reshape(-1)[0])


def _decode_epoch_starts(data, restarts):
    if not data:
        return np.zeros(0, np.int64)
    steps = np.array([_scalar_int(d) for d in data], np.int64)
    walls = np.array([d.wall_time for d in data], np.float64)
    # An epoch start is hidden only by starts written strictly after it.
    return np.unique(steps[restarts.keep(steps, walls)])


def _decode_batches(by_kind, found):
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


def _last_unique(steps):
    """Sorts by step, keeping the last occurrence of each step.

    Returns:
      `(sorted_unique_steps, indices_into_steps)`.
    """
    reversed_steps = steps[::-1]
    unique, first_in_reversed = np.unique(reversed_steps, return_index=True)
    indices = len(steps) - 1 - first_in_reversed
    return unique, indices


def _decode_evals(data, epoch_starts, restarts):
    if not data:
        empty_i = np.zeros(0, np.int64)
        empty_f = np.zeros(0, np.float64)
        return EvalSeries(empty_i, empty_i, empty_f, empty_f)
    steps = np.array([d.step for d in data], np.int64)
    walls = np.array([d.wall_time for d in data], np.float64)
    values = np.array(
        [float(np.asarray(d.value).reshape(-1)[0]) for d in data], np.float64
    )
    keep = restarts.keep(steps, walls)
    steps, walls, values = steps[keep], walls[keep], values[keep]
    steps, unique = _last_unique(steps)
    walls, values = walls[unique], values[unique]
    # An evaluation at an epoch's last step belongs to that epoch, which
    # started strictly before it.
    epochs = epoch_of(steps, epoch_starts)
    return EvalSeries(steps, epochs, walls, values)


def find_runs(logdir):
    """Lists the directories under `logdir` (itself included) holding event files.

    Args:
      logdir: str or os.PathLike, a local directory.

    Returns:
      A sorted list of directory paths.
    """
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"No such directory: {logdir!r}")
    found = []
    for root, dirs, files in os.walk(logdir):
        dirs.sort()
        if any(f.startswith("events.out.tfevents.") for f in files):
            found.append(root)
    return sorted(found)
