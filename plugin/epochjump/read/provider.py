"""Reads epochjump tags through a TensorBoard data provider (both ingesters)."""

from tensorboard.data import provider as provider_lib

from epochjump import metadata
from epochjump.read.decode import decode_run
from epochjump.read.run_data import Datum

# Ask the data provider for every stored sample.
_ALL_SAMPLES = 2**31 - 1


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
    return provider.list_tensors(
        ctx,
        experiment_id=experiment_id,
        plugin_name=metadata.PLUGIN_NAME,
        run_tag_filter=provider_lib.RunTagFilter(runs=runs),
    )


def load_run(
    provider, ctx, experiment_id, run, name=None, files=None, listing=None, read=None
):
    """Reads one run's epochjump data through a TensorBoard data provider.

    Batch chunks are all or nothing: a chunk's `batch_steps` value is the last
    of its event, and TensorBoard ingests an event's values in order, so the
    steps are read first and every value of their chunks is there when the
    other tags are read (all in one request). Data that cannot be read becomes
    a problem of the run, not an error.

    Args:
      provider: a TensorBoard `DataProvider`.
      ctx: a `tensorboard.context.RequestContext`.
      experiment_id: str.
      run: str, the run name as the provider knows it.
      name: str, the name to give the returned run (default `run`).
      files: a `file_contents.FileReport` of the run's local event files, or
        None; see `decode_run`.
      listing: the run's tags (dict from tag to `TensorTimeSeries`) listed
        just before, or None to list them here.
      read: the run's outline (`read_outlines`) read after `listing` was,
        or None; its tags are not read again.

    Returns:
      A `RunData`, or None if the run has no epochjump data.
    """
    if listing is None:
        listing = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
    if not listing:
        return None
    contents = {} if files is None else files.contents
    data, problems = ({}, []) if read is None else (dict(read[0]), list(read[1]))
    while True:
        steps_tags = [
            tag for tag in listing if _unread_steps(tag, listing, data, contents)
        ]
        data.update(_read_tags(provider, ctx, experiment_id, run, steps_tags, problems))
        # Problems of the last read of the other tags only: they may be read twice.
        other_problems = []
        others = _read_others(
            provider, ctx, experiment_id, run, listing, data, other_problems
        )
        if all(tag in listing for tag in others):
            break
        # Tags that first appear in the chunks just read: listed again, and
        # their steps (if any) read before the other tags again.
        relisted = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
        listing = {**listing, **(relisted or {})}
        if not any(_unread_steps(tag, listing, data, contents) for tag in listing):
            break
    problems.extend(other_problems)
    for tag, values in others.items():
        if tag in listing and tag not in data:
            data[tag] = values
    series = {tag: (listing[tag].plugin_content, data.get(tag, [])) for tag in listing}
    return decode_run(name if name is not None else run, series, problems, files)


def read_outlines(provider, ctx, experiment_id, listings, files=None):
    """Reads what the `runs` answer needs of many runs, in one request.

    Reads each run's batch steps, epoch starts and evaluations, not its batch
    values or times (most of the data). `decode_outline` makes a `RunData` of
    them; `load_run` reads the rest of a run later.

    Args:
      provider: a TensorBoard `DataProvider`.
      ctx: a `tensorboard.context.RequestContext`.
      experiment_id: str.
      listings: dict from run name to its tags (dict from tag to
        `TensorTimeSeries`) listed just before, as `list_runs` returns them.
      files: dict from run name to its `file_contents.FileReport` (local
        runs), or None.

    Returns:
      A dict from run name to `(data, problems)`: a dict from tag to a list
      of `Datum` and a list of str, for every run with tags.
    """
    files = files or {}
    wanted = {
        run: _outline_tags(tags, _contents(files.get(run)))
        for run, tags in listings.items()
        if tags
    }
    return _read_runs(provider, ctx, experiment_id, wanted)


def decode_outline(run, listing, outline, files=None):
    """Decodes an outline (`read_outlines`) into a `RunData`.

    The `RunData` has the run's exact metrics, epoch starts, steps, epochs
    and evaluations, NaN batch values and times, and the problems of the
    listing and of the data read.

    Args:
      run: str, the run name.
      listing: the run's tags (dict from tag to `TensorTimeSeries`).
      outline: `(data, problems)`, the run's entry of `read_outlines`.
      files: the run's `file_contents.FileReport`, or None; see `decode_run`.

    Returns:
      A `RunData`.
    """
    data, problems = outline
    series = {tag: (listing[tag].plugin_content, data.get(tag, [])) for tag in listing}
    if files is not None:
        # A tag not read that no readable file wrote holds only values
        # `decode_run` would leave out (newer format, another plugin's).
        for tag in listing:
            if tag not in data and tag not in files.contents:
                del series[tag]
    return decode_run(run, series, problems, files)


_OUTLINE_KINDS = (
    metadata.BATCH_STEPS,
    metadata.EPOCH_START,
    metadata.EPOCH_INDEX,
) + metadata.EVAL_KINDS


def _contents(files):
    return {} if files is None else files.contents


def _outline_tags(tags, contents):
    """The tags of one run that outlines read: steps first, then sorted."""
    kinds = {tag: _kind(tag, tags, contents) for tag in tags}
    steps = [tag for tag in tags if kinds[tag] == metadata.BATCH_STEPS]
    others = sorted(
        tag
        for tag in tags
        if kinds[tag] in _OUTLINE_KINDS and kinds[tag] != metadata.BATCH_STEPS
    )
    return steps + others


def _read_runs(provider, ctx, experiment_id, wanted):
    """Reads `wanted` (run -> tags) in one request; on an error, run by run.

    Returns:
      A dict from run to `(data, problems)`.
    """
    tags = sorted({tag for run_tags in wanted.values() for tag in run_tags})
    read = None
    if tags:
        try:
            read = _read_all(provider, ctx, experiment_id, list(wanted), tags)
        except Exception:  # noqa: BLE001 - read again run by run, naming the bad tag.
            read = None
    out = {}
    for run, run_tags in wanted.items():
        problems = []
        if read is None and run_tags:
            data = _read_tags(provider, ctx, experiment_id, run, run_tags, problems)
        else:
            by_tag = (read or {}).get(run, {})
            data = {tag: _data(by_tag.get(tag, [])) for tag in run_tags}
        out[run] = (data, problems)
    return out


def _kind(tag, listing, contents):
    """A tag's kind, from the metadata a readable file gave it if known."""
    try:
        content = contents.get(tag, listing[tag].plugin_content)
        return metadata.parse_plugin_metadata(content)[0]
    except metadata.FormatError:
        return None


def _unread_steps(tag, listing, data, contents):
    return tag not in data and _kind(tag, listing, contents) == metadata.BATCH_STEPS


def _read_others(provider, ctx, experiment_id, run, listing, data, problems):
    """Reads every tag of `run` in one request (also tags not listed yet),
    but the ones in `data`; on an error, tag by tag."""
    try:
        read = _read_all(provider, ctx, experiment_id, [run]).get(run, {})
    except Exception:  # noqa: BLE001 - read again tag by tag, naming the bad one.
        others = sorted(tag for tag in listing if tag not in data)
        return _read_tags(provider, ctx, experiment_id, run, others, problems)
    return {tag: _data(values) for tag, values in read.items() if tag not in data}


def _read_tags(provider, ctx, experiment_id, run, tags, problems):
    """Reads `tags` of `run`; a tag whose data cannot be read is left out and
    named in `problems`, without losing the others."""
    if not tags:
        return {}
    try:
        read = _read_all(provider, ctx, experiment_id, [run], tags).get(run, {})
    except Exception as e:  # noqa: BLE001 - one bad tag must not hide the run.
        if len(tags) == 1:
            problems.append(f"{tags[0]}: could not be read ({type(e).__name__}: {e})")
            return {tags[0]: []}
        data = {}
        for tag in tags:
            data.update(_read_tags(provider, ctx, experiment_id, run, [tag], problems))
        return data
    return {tag: _data(read.get(tag, [])) for tag in tags}


def _read_all(provider, ctx, experiment_id, runs, tags=None):
    """Every datum of `tags` (default: all of epochjump's) of `runs`, in one
    `read_tensors` request, not downsampled."""
    return provider.read_tensors(
        ctx,
        experiment_id=experiment_id,
        plugin_name=metadata.PLUGIN_NAME,
        downsample=_ALL_SAMPLES,
        run_tag_filter=provider_lib.RunTagFilter(runs=runs, tags=tags),
    )


def _data(tensor_data):
    return [Datum(d.step, d.wall_time, d.numpy) for d in tensor_data]
