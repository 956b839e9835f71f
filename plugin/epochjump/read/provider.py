"""Reads epochjump tags through a TensorBoard data provider (both ingesters)."""

import logging

from tensorboard.data import provider as provider_lib

from epochjump import metadata
from epochjump.read.decode import decode_run
from epochjump.read.run_data import Datum

# Ask the data provider for every stored sample.
_ALL_SAMPLES = 2**31 - 1

logger = logging.getLogger(__name__)


def reload_each_run(multiplexer):
    """Loads every run of a TensorBoard `EventMultiplexer`, one at a time.

    `EventMultiplexer.Reload` stops at the first run that fails to load (a
    record that is not an event raises protobuf's `DecodeError`), leaving the
    runs after it unread; here such a run keeps what was read before the
    failure, and the others load.

    Args:
      multiplexer: a `plugin_event_multiplexer.EventMultiplexer`.

    Returns:
      A dict from the name of each run that failed to load to a message.
    """
    failed = {}
    for name in sorted(multiplexer.Runs()):
        try:
            multiplexer.GetAccumulator(name).Reload()
        except Exception as e:  # noqa: BLE001 - one bad run must not hide others.
            logger.info("Could not read run %r: %r", name, e)
            failed[name] = (
                f"TensorBoard stopped reading this run ({type(e).__name__}: {e}); "
                "the data after that point is missing"
            )
    return failed


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


def load_run(provider, ctx, experiment_id, run, name=None, files=None):
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
      files: a `file_contents.FileReport` of the run's local event files, or
        None; see `decode_run`.

    Returns:
      A `RunData`, or None if the run has no epochjump data.
    """
    listing = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
    if not listing:
        return None
    contents = {} if files is None else files.contents
    problems = []
    data = {}
    while True:
        steps_tags = [
            tag for tag in listing if _unread_steps(tag, listing, data, contents)
        ]
        data.update(_read_tags(provider, ctx, experiment_id, run, steps_tags, problems))
        # Listed again: tags that first appear in the chunks just read.
        relisted = list_runs(provider, ctx, experiment_id, runs=[run]).get(run)
        listing = {**listing, **(relisted or {})}
        if not any(_unread_steps(tag, listing, data, contents) for tag in listing):
            break
    others = sorted(tag for tag in listing if tag not in data)
    data.update(_read_tags(provider, ctx, experiment_id, run, others, problems))
    series = {tag: (listing[tag].plugin_content, data.get(tag, [])) for tag in listing}
    return decode_run(name if name is not None else run, series, problems, files)


def _unread_steps(tag, listing, data, contents):
    if tag in data:
        return False
    try:
        content = contents.get(tag, listing[tag].plugin_content)
        kind, _ = metadata.parse_plugin_metadata(content)
    except metadata.FormatError:
        return False
    return kind == metadata.BATCH_STEPS


def _read_tags(provider, ctx, experiment_id, run, tags, problems):
    """Reads `tags` of `run`; a tag whose data cannot be read is left out and
    named in `problems`, without losing the others."""
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
