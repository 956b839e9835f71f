"""Format version 2 (training-mode evaluations, learning rates, fit starts):
what is written, how it reads back, and version-1 runs still read."""

import json
import math
import time

import numpy as np
import pytest
from support.written_runs import summary_event
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

import epochjump
from epochjump import metadata
from epochjump.analysis import validation_gap
from epochjump.words import sentences


def written_versions(run_dir):
    """{tag: version} from the raw event files, parsed here."""
    versions = {}
    for path in run_dir.iterdir():
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "epochjump":
                    content = json.loads(value.metadata.plugin_data.content)
                    versions[value.tag] = content["version"]
    return versions


def write_version_1_run(path):
    """Two epochs as epochjump 0.x (format version 1) wrote them, built from
    protos by hand: epoch starts, one chunk per epoch, train_eval and val."""
    make = tensor_util.make_tensor_proto

    def value(kind, metric, tensor):
        meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_TENSOR)
        meta.plugin_data.plugin_name = "epochjump"
        content = {"version": 1, "kind": kind}
        if metric:
            content["metric"] = metric
        meta.plugin_data.content = json.dumps(content).encode()
        tag = f"epochjump/{kind}" + (f"/{metric}" if metric else "")
        return summary_pb2.Summary.Value(tag=tag, tensor=make(tensor), metadata=meta)

    writer = EventFileWriter(str(path), filename_suffix=".epochjump")
    wall = 1000.0
    for epoch in range(2):
        first, last = 4 * epoch + 1, 4 * epoch + 4
        values = [1.0 - 0.1 * s for s in range(first, last + 1)]
        means = np.cumsum(values) / np.arange(1, 5)
        chunk = [
            value("batch_times", None, np.zeros(4, np.float32)),
            value("batch_value", "loss", np.array(values, np.float32)),
            value("running_mean", "loss", means.astype(np.float32)),
            value("batch_steps", None, np.arange(3, -1, -1, dtype=np.int32)),
        ]
        events = [
            ([value("epoch_start", None, np.int64(first))], first),
            (chunk, last),
            ([value("train_eval", "loss", np.float64(0.5 - epoch / 10))], last),
            ([value("val", "loss", np.float64(0.6 - epoch / 10))], last),
        ]
        for values_, step in events:
            wall += 1
            event = summary_event(step, wall, [])
            event.summary.value.extend(values_)
            writer.add_event(event)
    writer.close()


def test_version_1_run_reads_with_the_new_fields_empty(tmp_path):
    write_version_1_run(tmp_path / "v1")
    assert set(written_versions(tmp_path / "v1").values()) == {1}
    run = epochjump.read_run(tmp_path / "v1")
    assert run.problems == ()
    assert run.metrics == ("loss",)
    assert run.epoch_starts.tolist() == [1, 5]
    assert run["loss"].step.tolist() == list(range(1, 9))
    assert run["loss"].train_eval.value.tolist() == [0.5, 0.4]
    assert len(run["loss"].train_eval_training_mode) == 0
    assert len(run.learning_rate) == 0 and run.fit_starts.tolist() == []
    assert not run.has_train_eval_training_mode
    (jump,) = epochjump.explain(run, "loss")
    assert jump.train_eval == 0.5
    for field in (
        "train_eval_training_mode",
        "mode_gap",
        "learning_rate_before",
        "learning_rate_after",
    ):
        assert math.isnan(getattr(jump, field)), field
    assert "nan" not in sentences.boundary_detail(jump).lower()
    gaps = validation_gap.validation_gaps(run, "loss")
    assert [g.epoch for g in gaps] == [0, 1]
    for gap in gaps:
        assert math.isnan(gap.mode_gap) and math.isnan(gap.subset_gap)
        assert gap.generalisation_gap == pytest.approx(0.1)
        assert "nan" not in sentences.validation_sentence(gap).lower()


def test_a_writer_of_version_1_is_read_too(tmp_path, monkeypatch):
    monkeypatch.setattr(metadata, "FORMAT_VERSION", 1)
    with epochjump.Writer(tmp_path / "old") as writer:
        writer.start_epoch(1)
        writer.log_batch(1, {"loss": 0.5})
        writer.log_eval("train_eval", 1, {"loss": 0.25})
    monkeypatch.undo()
    assert set(written_versions(tmp_path / "old").values()) == {1}
    run = epochjump.read_run(tmp_path / "old")
    assert run.problems == () and run["loss"].train_eval.value.tolist() == [0.25]


def write_version_2_run(path):
    with epochjump.Writer(path) as writer:
        writer.start_fit(1)
        writer.start_epoch(1)
        writer.log_learning_rate(1, 0.1)
        for step in (1, 2, 3):
            writer.log_batch(step, {"loss": 1.0 / step})
        writer.log_eval("train_eval", 3, {"loss": 0.3})
        writer.log_eval("train_eval_training_mode", 3, {"loss": 0.4})


def test_new_kinds_are_written_as_version_2_and_old_ones_as_1(tmp_path):
    write_version_2_run(tmp_path / "v2")
    versions = written_versions(tmp_path / "v2")
    new = {
        "epochjump/fit_start",
        "epochjump/learning_rate",
        "epochjump/train_eval_training_mode/loss",
    }
    assert {tag for tag, v in versions.items() if v == 2} == new
    assert {v for tag, v in versions.items() if tag not in new} == {1}
    run = epochjump.read_run(tmp_path / "v2")
    assert run.problems == ()
    assert run["loss"].train_eval_training_mode.value.tolist() == [0.4]
    assert run["loss"].train_eval_training_mode.epoch.tolist() == [0]
    assert run.fit_starts.tolist() == [1]
    assert run.learning_rate.step.tolist() == [1]
    assert run.learning_rate.value.tolist() == [0.1]


def test_a_version_1_reader_reads_the_old_kinds_of_a_new_run(tmp_path, monkeypatch):
    write_version_2_run(tmp_path / "v2")
    monkeypatch.setattr(metadata, "FORMAT_VERSION", 1)
    run = epochjump.read_run(tmp_path / "v2")
    assert run["loss"].step.tolist() == [1, 2, 3]
    assert run["loss"].train_eval.value.tolist() == [0.3]
    assert len(run["loss"].train_eval_training_mode) == 0
    assert len(run.learning_rate) == 0 and len(run.fit_starts) == 0
    (written,) = (tmp_path / "v2").iterdir()
    assert run.problems == (
        f"{written.name}: holds data written in epochjump format version 2; "
        "this epochjump reads up to version 1, so that data is left out. "
        "Upgrade epochjump.",
    )


def test_marks_follow_newest_wins_on_a_resume(tmp_path):
    path = tmp_path / "resumed"
    with epochjump.Writer(path) as writer:
        writer.start_fit(1)
        writer.start_epoch(1)
        writer.log_learning_rate(1, 0.1)
        writer.log_learning_rate(4, 0.1)  # Unchanged: not written.
        writer.log_learning_rate(6, 0.05)
        writer.log_learning_rate(9, 0.01)
        for step in range(1, 11):
            writer.log_batch(step, {"loss": 1.0})
    time.sleep(0.01)
    # Resumed from a checkpoint at step 5; the fit start is written before
    # its epoch start, as the Keras callback does.
    with epochjump.Writer(path) as writer:
        writer.start_fit(6)
        writer.start_epoch(6)
        writer.log_learning_rate(6, 0.1)
        for step in range(6, 9):
            writer.log_batch(step, {"loss": 2.0})
    run = epochjump.read_run(path)
    assert run.fit_starts.tolist() == [1, 6]
    # 0.05 at 6 and 0.01 at 9 belong to the abandoned timeline; 0.1 at 6
    # repeats the rate in force, so one entry remains.
    assert run.learning_rate.step.tolist() == [1]
    assert run.learning_rate.value.tolist() == [0.1]
    assert run.learning_rate.at([0, 1, 8]).tolist()[1:] == [0.1, 0.1]
    assert math.isnan(run.learning_rate.at([0])[0])
    assert run["loss"].running_mean.tolist() == [1.0] * 5 + [2.0] * 3


def test_unchanged_learning_rates_are_not_written_again(tmp_path):
    with epochjump.Writer(tmp_path / "dedupe") as writer:
        for step, rate in [(1, 0.1), (2, 0.1), (3, 0.2), (4, 0.2), (5, 0.1)]:
            writer.log_learning_rate(step, rate)
        writer.log_learning_rate(6, float("nan"))
        writer.log_learning_rate(7, float("nan"))
    rates = [
        (event.step, tensor_util.make_ndarray(value.tensor).item())
        for path in (tmp_path / "dedupe").iterdir()
        for event in EventFileLoader(str(path)).Load()
        for value in event.summary.value
        if value.tag == "epochjump/learning_rate"
    ]
    assert rates[:3] == [(1, 0.1), (3, 0.2), (5, 0.1)]
    assert len(rates) == 4 and rates[3][0] == 6 and math.isnan(rates[3][1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda w: w.log_learning_rate(-1, 0.1), "step=-1"),
        (lambda w: w.log_learning_rate(1.5, 0.1), "step=1.5"),
        (lambda w: w.log_learning_rate(1, "fast"), "'fast'"),
        (lambda w: w.log_learning_rate(1, None), "None"),
        (lambda w: w.start_fit(True), "step=True"),
        (lambda w: w.start_fit("1"), "step='1'"),
        (lambda w: w.log_eval("train_eval_training", 1, {"loss": 1.0}), "kind="),
    ],
)
def test_bad_marks_are_refused_naming_the_value(tmp_path, call, match):
    with epochjump.Writer(tmp_path / "bad") as writer:
        with pytest.raises(ValueError, match=match):
            call(writer)
        writer.log_learning_rate(1, 0.1)  # Still usable afterwards.
    assert epochjump.read_run(tmp_path / "bad").learning_rate.value.tolist() == [0.1]
