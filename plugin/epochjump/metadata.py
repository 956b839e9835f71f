"""The on-disk contract between epochjump's writer and its readers.

Every epochjump summary carries `SummaryMetadata` with plugin name `epochjump`
and a small JSON `content` naming the format version, the kind of series and
the metric. See `docs/format.md` for the full description.
"""

import enum
import json

from tensorboard.compat.proto import summary_pb2

PLUGIN_NAME = "epochjump"

# Bump when a reader of the previous version could misread new data. Version
# 2 added the kinds `epoch_index`, `train_eval_training_mode`, `learning_rate`
# and `fit_start`; this reader reads versions 1 and 2.
FORMAT_VERSION = 2

# The end of the name of every event file epochjump writes (after
# TensorBoard's `events.out.tfevents.` and the usual parts), which readers
# tell epochjump's files by.
EVENT_FILE_SUFFIX = ".epochjump"


class Kind(str, enum.Enum):
    """The kinds of series: the metadata's `kind`, as written on disk.

    A member is its string (`Kind.VAL == "val"`, formatted as `val`, shown
    as `'val'` in messages), so the strings on disk never change and runs of
    every version still read.
    Batch kinds are written in chunks: one event per flush, whose tensor
    holds one entry per batch; all chunks of one flush share the event step
    (the last batch step in the chunk).
    """

    BATCH_STEPS = "batch_steps"  # int32/int64 [n]: last_step - step for each batch.
    BATCH_TIMES = "batch_times"  # float32/64 [n]: wall time - event wall time (s).
    BATCH_VALUE = "batch_value"  # float32/float64 [n]: value of each batch alone.
    RUNNING_MEAN = "running_mean"  # float32/float64 [n]: what Keras reported.
    # Per-epoch kinds: one scalar event per epoch.
    EPOCH_START = "epoch_start"  # int64 scalar: global step of the first batch.
    EPOCH_INDEX = "epoch_index"  # int64 scalar at an epoch start: its 0-based ordinal.
    TRAIN_EVAL = "train_eval"  # float64 scalar at the epoch's last step.
    # The same subset with the same weights in training mode (dropout active,
    # batch norm on batch statistics); float64 scalar at the epoch's last step.
    TRAIN_EVAL_TRAINING_MODE = "train_eval_training_mode"
    VAL = "val"  # float64 scalar at the epoch's last step.
    # Run-level marks (version 2): one scalar event each.
    LEARNING_RATE = "learning_rate"  # float64: the value in force from the step on.
    FIT_START = "fit_start"  # int64: global step of a fit() call's first batch.

    def __str__(self):
        return self.value

    def __repr__(self):
        return repr(self.value)

    def __format__(self, spec):
        return format(self.value, spec)


# The members by their short names, as the writer and the readers use them.
BATCH_STEPS = Kind.BATCH_STEPS
BATCH_TIMES = Kind.BATCH_TIMES
BATCH_VALUE = Kind.BATCH_VALUE
RUNNING_MEAN = Kind.RUNNING_MEAN
EPOCH_START = Kind.EPOCH_START
EPOCH_INDEX = Kind.EPOCH_INDEX
TRAIN_EVAL = Kind.TRAIN_EVAL
TRAIN_EVAL_TRAINING_MODE = Kind.TRAIN_EVAL_TRAINING_MODE
VAL = Kind.VAL
LEARNING_RATE = Kind.LEARNING_RATE
FIT_START = Kind.FIT_START

BATCH_KINDS = (BATCH_STEPS, BATCH_TIMES)
METRIC_BATCH_KINDS = (BATCH_VALUE, RUNNING_MEAN)
EVAL_KINDS = (TRAIN_EVAL, TRAIN_EVAL_TRAINING_MODE, VAL)
MARK_KINDS = (LEARNING_RATE, FIT_START)
ALL_KINDS = tuple(Kind)
# Each kind is written with the version that introduced it, so a reader of
# version 1 still reads the version-1 kinds of a newer run and reports only
# the newer kinds as "newer format".
_INTRODUCED_IN = {
    EPOCH_INDEX: 2,
    TRAIN_EVAL_TRAINING_MODE: 2,
    LEARNING_RATE: 2,
    FIT_START: 2,
}


def version_of(kind):
    """Returns the format version written for `kind` (the one introducing it)."""
    return min(_INTRODUCED_IN.get(kind, 1), FORMAT_VERSION)


class FormatError(ValueError):
    """Raised when epochjump data cannot be understood by this reader."""


def tag_for(kind, metric=None):
    """Returns the summary tag used for a kind of series.

    Args:
      kind: a `Kind`, or its string.
      metric: str, the metric name for per-metric kinds, else None.
    """
    if metric is None:
        return f"epochjump/{kind}"
    return f"epochjump/{kind}/{metric}"


def create_summary_metadata(kind, metric=None):
    """Creates the `SummaryMetadata` for one epochjump series.

    Args:
      kind: a `Kind`, or its string.
      metric: str, the metric name for per-metric kinds, else None.

    Returns:
      A `summary_pb2.SummaryMetadata` proto.
    """
    if kind not in ALL_KINDS:
        raise ValueError(f"Unknown epochjump series kind. Received: kind={kind!r}")
    kind = Kind(kind)
    content = {"version": version_of(kind), "kind": kind.value}
    if metric is not None:
        content["metric"] = metric
    return summary_pb2.SummaryMetadata(
        display_name=metric or kind,
        summary_description=f"epochjump {kind}",
        data_class=summary_pb2.DATA_CLASS_TENSOR,
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps(content, sort_keys=True).encode("utf-8"),
        ),
    )


def parse_plugin_metadata(content):
    """Parses the plugin `content` of an epochjump summary.

    Args:
      content: bytes, `SummaryMetadata.plugin_data.content`.

    Returns:
      A `(kind, metric)` tuple: a `Kind`, and the metric name (None for
      run-level kinds).

    Raises:
      FormatError: if the content is not epochjump metadata this version of
        epochjump can read (for example data written by a newer version).
    """
    try:
        parsed = json.loads(bytes(content).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError) as e:
        raise FormatError(
            f"Unreadable epochjump metadata {content[:80]!r}: {e}"
        ) from None
    if not isinstance(parsed, dict):
        raise FormatError(f"Unreadable epochjump metadata {content[:80]!r}")
    version = parsed.get("version")
    if not isinstance(version, int) or version < 1:
        raise FormatError(f"Missing or invalid format version: {version!r}")
    if version > FORMAT_VERSION:
        raise FormatError(
            f"Data written in epochjump format version {version}; this "
            f"epochjump reads up to version {FORMAT_VERSION}. Upgrade epochjump."
        )
    try:
        kind = Kind(parsed.get("kind"))
    except (ValueError, TypeError):
        raise FormatError(
            f"Unknown epochjump series kind: {parsed.get('kind')!r}"
        ) from None
    metric = parsed.get("metric")
    needs_metric = kind in METRIC_BATCH_KINDS or kind in EVAL_KINDS
    if needs_metric != isinstance(metric, str):
        raise FormatError(f"Bad metric {metric!r} for series kind {kind!r}")
    return kind, metric
