"""What each event file of a run says about epochjump's tags, file by file.

TensorBoard merges a run's files and keeps only the first `SummaryMetadata`
of each tag, so it cannot tell which file wrote a value: data of a newer
format version in a later file is read as the older one, and another
plugin's summary under an `epochjump/...` tag is taken for epochjump data.
Reading each file's own metadata tells, per value, who wrote it and in which
format version, whatever the order of the files. Read with their values,
the files also give the run's series as TensorBoard's Python ingester lists
them (`run_series`), for readers that do without TensorBoard's ingester (and
so without TensorFlow).
"""

import dataclasses
import json

import numpy as np
from google.protobuf import message as protobuf_message
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from epochjump import metadata
from epochjump.read.run_data import Datum

_TAG_PREFIX = metadata.PLUGIN_NAME + "/"


@dataclasses.dataclass(frozen=True)
class FileReport:
    """What a run's event files say, for the reader.

    Attributes:
      problems: tuple of str, one per damaged file or unusable part of one.
      left_out: frozenset of `(tag, step, wall_time)`, values TensorBoard
        files under epochjump's tags that this reader must not use: written in
        a newer format version, or by another plugin.
      contents: dict from tag to the epochjump `plugin_data.content` a
        readable file wrote for it (the one TensorBoard kept may be newer).
      has_data: bool, whether the files hold epochjump values this reader
        can use (whatever TensorBoard loaded of them).
      series: dict from tag to `(plugin_content, [Datum, ...])` as
        `run_series` gives it, or None when the values were not kept.
    """

    problems: tuple = ()
    left_out: frozenset = frozenset()
    contents: dict = dataclasses.field(default_factory=dict)
    has_data: bool = False
    series: dict = None


class FileContents:
    """The epochjump-relevant contents of one event file, read record by record.

    Args:
      keep_values: bool, default False. True also keeps each tag's first
        metadata in the file and every value, for `run_series`.
    """

    def __init__(self, keep_values=False):
        self.keep_values = keep_values
        self.first_metadata = {}  # tag -> its first SummaryMetadata here
        self.values = []  # (tag, step, wall_time, Summary.Value), in order
        self.owner = {}  # tag -> (plugin name, version or None), latest in file
        self.first_owner = {}  # tag -> plugin name of its first summary here
        self.contents = {}  # tag -> first readable epochjump content here
        self.newer = {}  # version -> count of values
        self.foreign = {}  # plugin name -> set of tags
        self.left_out = set()
        self.has_epochjump_data = set()  # tags with readable epochjump values

    def add(self, record):
        """Takes in one record's bytes.

        Returns:
          None, or a str saying why the record is not a TensorBoard event.
        """
        try:
            event = event_pb2.Event.FromString(record)
        except protobuf_message.DecodeError as e:
            return f"its bytes are not a TensorBoard event ({e})"
        if not event.HasField("summary"):
            return None
        for value in event.summary.value:
            self._add_value(event, value)
            if self.keep_values:
                self._keep(event, value)
        return None

    def _keep(self, event, value):
        if value.HasField("metadata"):
            self.first_metadata.setdefault(value.tag, value.metadata)
        if value.WhichOneof("value") in ("tensor", "simple_value"):
            self.values.append((value.tag, event.step, event.wall_time, value))

    def _add_value(self, event, value):
        tag = value.tag
        if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
            plugin = value.metadata.plugin_data.plugin_name
            version = None
            if plugin == metadata.PLUGIN_NAME:
                version = _version(value.metadata.plugin_data.content)
            elif not tag.startswith(_TAG_PREFIX):
                return  # Another plugin's own tag: none of our business.
            self.owner[tag] = (plugin, version)
            self.first_owner.setdefault(tag, plugin)
            readable = version is None or version <= metadata.FORMAT_VERSION
            if plugin == metadata.PLUGIN_NAME and readable:
                self.contents.setdefault(tag, value.metadata.plugin_data.content)
        elif value.WhichOneof("value") == "simple_value" and tag.startswith(
            _TAG_PREFIX
        ):
            # TensorBoard files legacy scalars under its scalars plugin.
            self.owner[tag] = ("scalars", None)
            self.first_owner.setdefault(tag, "scalars")
        plugin, version = self.owner.get(tag, (None, None))
        if plugin is None:
            return  # No metadata in this file: TensorBoard's first one rules.
        key = (tag, event.step, event.wall_time)
        if plugin != metadata.PLUGIN_NAME:
            self.foreign.setdefault(plugin, set()).add(tag)
            self.left_out.add(key)
        elif version is not None and version > metadata.FORMAT_VERSION:
            self.newer[version] = self.newer.get(version, 0) + 1
            self.left_out.add(key)
        else:
            self.has_epochjump_data.add(tag)


def _version(content):
    try:
        version = json.loads(bytes(content).decode("utf-8")).get("version")
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
        return None  # The reader names unreadable metadata itself.
    return version if isinstance(version, int) else None


def run_series(files):
    """A run's epochjump series, as TensorBoard's Python ingester lists them.

    A tag belongs to the plugin of its first metadata in the run (the first
    file that has one); epochjump's tensor tags are listed with every value
    written under them, in the order written. `decode.decode_run` then
    leaves out what a `FileReport` says to.

    Args:
      files: list of `FileContents` read with `keep_values`, in name order.

    Returns:
      `(series, problems)`: a dict from tag to `(plugin_content, [Datum,
      ...])`, and a list of str naming the tags whose tensors cannot be read
      (their values are left out).
    """
    first = {}
    for found in files:
        for tag, summary_metadata in found.first_metadata.items():
            first.setdefault(tag, summary_metadata)
    listed = {
        tag: m.plugin_data.content
        for tag, m in first.items()
        if m.plugin_data.plugin_name == metadata.PLUGIN_NAME
        and m.data_class == summary_pb2.DATA_CLASS_TENSOR
    }
    data = {tag: [] for tag in listed}
    unreadable = {}
    for found in files:
        for tag, step, wall_time, value in found.values:
            if tag not in data or tag in unreadable:
                continue
            try:
                data[tag].append(Datum(step, wall_time, _array(value)))
            except Exception as e:  # noqa: BLE001 - one bad tag must not hide the run.
                unreadable[tag] = f"{tag}: could not be read ({type(e).__name__}: {e})"
                data[tag] = []
    series = {tag: (content, data[tag]) for tag, content in listed.items()}
    return series, list(unreadable.values())


def _array(value):
    if value.WhichOneof("value") == "simple_value":
        return np.float32(value.simple_value)  # As TensorBoard migrates it.
    return tensor_util.make_ndarray(value.tensor)


def run_report(files, problems, series=None):
    """Combines the files of one run, in the order TensorBoard reads them.

    Args:
      files: list of `(file name, FileContents)`, sorted by name.
      problems: list of str, the framing problems found, in file order.
      series: the run's series (`run_series`), or None.

    Returns:
      A `FileReport`.
    """
    problems = list(problems)
    left_out, contents, first_plugin, with_data = set(), {}, {}, set()
    for name, found in files:
        for version in sorted(found.newer):
            problems.append(
                f"{name}: holds data written in epochjump format version "
                f"{version}; this epochjump reads up to version "
                f"{metadata.FORMAT_VERSION}, so that data is left out. Upgrade "
                "epochjump."
            )
        for plugin in sorted(found.foreign):
            problems.append(
                f"{name}: summaries of another plugin ({plugin!r}) use "
                f"epochjump's tags ({_listed(found.foreign[plugin])}); they are "
                "not epochjump data and are left out"
            )
        left_out |= found.left_out
        for tag, content in found.contents.items():
            contents.setdefault(tag, content)
        for tag, plugin in found.first_owner.items():
            first_plugin.setdefault(tag, (plugin, name))
        with_data |= found.has_epochjump_data
    for tag in sorted(with_data):
        plugin, name = first_plugin.get(tag, (metadata.PLUGIN_NAME, None))
        if plugin != metadata.PLUGIN_NAME:
            problems.append(
                f"{tag}: TensorBoard files this tag under another plugin "
                f"({plugin!r}), whose summary in {name} came first, so its "
                "epochjump data cannot be shown"
            )
    return FileReport(
        tuple(problems), frozenset(left_out), contents, bool(with_data), series
    )


def _listed(tags):
    tags = sorted(tags)
    shown = ", ".join(tags[:3])
    return shown + (f" and {len(tags) - 3} more" if len(tags) > 3 else "")
