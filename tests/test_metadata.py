"""epochjump.metadata: the series kinds are a typed enum over the strings on disk."""

import json
import os
import re

import pytest

import epochjump
from epochjump import metadata

# The format's strings (docs/format.md), the version that introduced each,
# and whether a metric goes with it: written out, not read from the module.
ON_DISK = [
    ("batch_steps", 1, False),
    ("batch_times", 1, False),
    ("batch_value", 1, True),
    ("running_mean", 1, True),
    ("epoch_start", 1, False),
    ("epoch_index", 2, False),
    ("train_eval", 1, True),
    ("train_eval_training_mode", 2, True),
    ("val", 1, True),
    ("learning_rate", 2, False),
    ("fit_start", 2, False),
]


@pytest.mark.parametrize("name, version, per_metric", ON_DISK)
def test_each_kind_is_written_as_its_string_and_read_back_as_its_member(
    name, version, per_metric
):
    metric = "accuracy" if per_metric else None
    content = metadata.create_summary_metadata(name, metric).plugin_data.content
    expected = {"kind": name, "version": version}
    if per_metric:
        expected["metric"] = metric
    assert json.loads(content) == expected
    kind, read_metric = metadata.parse_plugin_metadata(content)
    assert isinstance(kind, metadata.Kind)
    assert (kind, str(kind), f"{kind}", read_metric) == (name, name, name, metric)
    assert metadata.tag_for(kind, metric) == "/".join(
        ["epochjump", name] + ([metric] if per_metric else [])
    )


def test_the_enum_has_exactly_the_kinds_on_disk():
    assert [kind.value for kind in metadata.Kind] == [name for name, _, _ in ON_DISK]
    assert metadata.ALL_KINDS == tuple(metadata.Kind)


def test_messages_show_kinds_as_their_strings(tmp_path):
    message = (
        "`kind` must be one of ('train_eval', 'train_eval_training_mode', 'val'). "
        "Received: kind='gradient'"
    )
    with epochjump.Writer(tmp_path / "run") as writer:
        with pytest.raises(ValueError, match=re.escape(message)):
            writer.log_eval("gradient", 1, {"loss": 0.5})


def test_version_1_data_still_reads():
    content = b'{"kind": "train_eval", "metric": "loss", "version": 1}'
    assert metadata.parse_plugin_metadata(content) == (metadata.Kind.TRAIN_EVAL, "loss")


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"kind": "gradient", "version": 2}', "kind: 'gradient'"),
        (b'{"kind": ["val"], "version": 1}', r"kind: \['val'\]"),
        (b'{"kind": "val", "metric": "acc", "version": 3}', "format version 3"),
        (b'{"kind": "val", "metric": "acc", "version": 0}', "version: 0"),
        (b'{"kind": "val", "version": 1}', "Bad metric None"),
    ],
)
def test_unreadable_metadata_is_a_format_error_naming_the_value(content, message):
    with pytest.raises(metadata.FormatError, match=message):
        metadata.parse_plugin_metadata(content)


def test_an_unknown_kind_is_refused_when_writing():
    with pytest.raises(ValueError, match="kind='gradient'"):
        metadata.create_summary_metadata("gradient")


def test_event_files_end_with_the_suffix(tmp_path):
    with epochjump.Writer(tmp_path / "run") as writer:
        writer.start_epoch(1)
        writer.log_batch(1, {"loss": 0.5})
    names = os.listdir(tmp_path / "run")
    assert names and all(name.endswith(".epochjump") for name in names)
    assert metadata.EVENT_FILE_SUFFIX == ".epochjump"
