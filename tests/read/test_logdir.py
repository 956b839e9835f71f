"""`read_run` (and the CLI over it) never break on a teammate's log folder.

Truncated, corrupt, newer-format, foreign, empty, validation-only and
malformed runs, a record that is not an event, files of two format versions
in one run, and another plugin's summaries under epochjump's tags each give a
per-run problem, and every other datum and run is read. Batch chunks are all
or nothing even while TensorBoard is still ingesting them."""

import itertools
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from support.written_runs import NOT_AN_EVENT
from support.written_runs import PER_CHUNK
from support.written_runs import append_record
from support.written_runs import loss
from support.written_runs import not_an_event_problem
from support.written_runs import records
from support.written_runs import write_chunked_run
from support.written_runs import write_foreign
from support.written_runs import write_malformed_run
from support.written_runs import write_scalars
from support.written_runs import write_versions
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.data import provider as provider_lib
from tensorboard.util import tensor_util

import epochjump
from epochjump import cli
from epochjump import metadata
from epochjump.read import provider as provider_io


def assert_steps(run, last_step):
    series = run["loss"]
    assert series.step.tolist() == list(range(1, last_step + 1))
    assert series.batch_value.tolist() == [loss(s) for s in series.step.tolist()]


def damage_record(tmp_path, index, damage):
    """Writes a chunked run, damages its record `index` with `damage(data,
    offset, size)` (returning the file's new bytes) and reads the run back.

    Returns:
      (the event file, the record's offset and size, the file's new length,
      the run read back).
    """
    event_file = write_chunked_run(tmp_path / "run")
    offset, size = records(event_file)[index]
    damaged = damage(bytearray(event_file.read_bytes()), offset, size)
    event_file.write_bytes(bytes(damaged))
    return event_file, offset, size, len(damaged), epochjump.read_run(tmp_path / "run")


def assert_read_before(run, steps, problem):
    """The run holds its first `steps` batches (both epoch starts among
    them) and names one problem, `problem`."""
    assert_steps(run, steps)
    assert run.epoch_starts.tolist() == [1, 5]
    assert run.problems == (problem,)


def test_truncated_last_record_reads_what_came_before(tmp_path):
    # The last record is chunk 9-12; cut it in half.
    event_file, offset, size, cut, run = damage_record(
        tmp_path, -1, lambda data, offset, size: data[: offset + size // 2]
    )
    problem = (
        f"{event_file.name}: incomplete last record ({cut - offset} bytes from "
        f"byte {offset}): the file is still being written, or its writer "
        "stopped mid-write; the data before it is shown"
    )
    assert_read_before(run, 8, problem)


def flip_middle_byte(data, offset, size):
    data[offset + size // 2] ^= 0xFF
    return data


def test_corrupt_record_is_named_with_its_offset(tmp_path):
    # Record 4 is chunk 5-8.
    event_file, offset, _, length, run = damage_record(tmp_path, 4, flip_middle_byte)
    problem = (
        f"{event_file.name}: corrupt record at byte {offset} (its data checksum "
        f"does not match); data in the {length - offset} bytes from there on "
        "may be missing"
    )
    # TensorBoard's Python ingester stops at the corrupt record for good.
    assert_read_before(run, 4, problem)


def test_newer_format_is_one_message_per_run(tmp_path, monkeypatch):
    write_chunked_run(tmp_path / "mixed", chunks=1)
    # A future epochjump writing every kind in format version 3.
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)
    write_chunked_run(tmp_path / "newer", chunks=1)
    with epochjump.Writer(tmp_path / "mixed") as writer:
        writer.log_eval("val", 4, {"f1": 0.5})
    monkeypatch.undo()

    newer = epochjump.read_run(tmp_path / "newer")
    assert newer.metrics == () and newer.num_batches == 0
    (newer_file,) = (tmp_path / "newer").iterdir()
    assert newer.problems == (
        f"{newer_file.name}: holds data written in epochjump format version 3; "
        "this epochjump reads up to version 2, so that data is left out. "
        "Upgrade epochjump.",
    )

    mixed = epochjump.read_run(tmp_path / "mixed")
    assert_steps(mixed, 4)
    assert mixed.metrics == ("loss",)
    second = sorted(p.name for p in (tmp_path / "mixed").iterdir())[1]
    assert mixed.problems == (
        f"{second}: holds data written in epochjump format version 3; this "
        "epochjump reads up to version 2, so that data is left out. Upgrade "
        "epochjump.",
    )


def test_other_tools_files_are_ignored_or_named(tmp_path):
    write_scalars(tmp_path / "keras_only")
    write_chunked_run(tmp_path / "mixed", chunks=1)
    write_scalars(tmp_path / "mixed")

    mixed = epochjump.read_run(tmp_path / "mixed")
    assert_steps(mixed, 4)
    assert mixed.problems == ()
    with pytest.raises(ValueError) as raised:
        epochjump.read_run(tmp_path / "keras_only")
    assert str(raised.value) == (
        f"No epochjump data in {str(tmp_path / 'keras_only')!r}: its 1 event "
        "files hold other tools' data only (such as Keras's TensorBoard "
        "callback). Pass the run directory given to EpochJumpCallback or "
        "epochjump.Writer."
    )


def test_empty_runs_say_so(tmp_path):
    (tmp_path / "no_files").mkdir()
    writer = epochjump.Writer(tmp_path / "opened")
    writer.open()  # What the callback does at on_train_begin.
    writer.close()

    with pytest.raises(ValueError, match="it holds no TensorBoard event files"):
        epochjump.read_run(tmp_path / "no_files")
    with pytest.raises(ValueError) as raised:
        epochjump.read_run(tmp_path / "opened")
    assert "No epochjump data yet: its epochjump event files hold none" in str(
        raised.value
    )
    assert str(tmp_path / "opened") in str(raised.value)
    # A URL is listed like a directory: one that holds no objects is missing.
    with pytest.raises(FileNotFoundError, match="'memory://nothing'"):
        epochjump.read_run("memory://nothing")


def test_validation_only_run_says_there_is_nothing_to_explain(tmp_path):
    with epochjump.Writer(tmp_path / "val_only") as writer:
        writer.log_eval("val", 10, {"loss": 0.25})
        writer.log_eval("val", 20, {"loss": 0.125})

    run = epochjump.read_run(tmp_path / "val_only")

    assert run.metrics == ("loss",) and run.num_batches == 0
    assert run["loss"].val.value.tolist() == [0.25, 0.125]
    assert run.problems == (
        "No batches recorded, only evaluations (val, train_eval): there is no "
        "epoch boundary to explain",
    )
    assert epochjump.explain(run, "loss") == []


def test_malformed_series_are_left_out_and_named(tmp_path):
    write_malformed_run(tmp_path / "bad")

    run = epochjump.read_run(tmp_path / "bad")

    assert run.metrics == ("loss", "acc")
    assert run["loss"].step.tolist() == [1, 2, 3]
    assert run["loss"].batch_value.tolist() == [3.0, 2.0, 1.0]
    assert run["loss"].running_mean.tolist() == [3.0, 2.5, 2.0]
    assert np.isnan(run["acc"].batch_value).all()
    assert len(run["loss"].val) == 0 and len(run.epoch_starts) == 0
    problems = "\n".join(run.problems)
    for expected in (
        "epochjump/running_mean/acc: could not be read (",
        "epochjump/epoch_start: 1 of 1 values left out (at step 1, object values "
        "are not numbers)",
        "epochjump/val/loss: 1 of 1 values left out (at step 3, expected 1 value, "
        "got 2)",
        "epochjump/batch_value/acc: chunks whose number of values differs from "
        "their number of batches are read as NaN",
        "epochjump/mystery: Unreadable epochjump metadata",
    ):
        assert expected in problems, (expected, run.problems)
    assert len(run.problems) == 5


def test_cli_explains_good_runs_and_names_the_problems_of_the_others(
    tmp_path, capsys, monkeypatch
):
    write_chunked_run(tmp_path / "good")
    event_file = write_chunked_run(tmp_path / "truncated")
    event_file.write_bytes(event_file.read_bytes()[:-10])
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)  # A future writer.
    write_chunked_run(tmp_path / "newer", chunks=1)
    monkeypatch.undo()
    with epochjump.Writer(tmp_path / "val_only") as writer:
        writer.log_eval("val", 10, {"loss": 0.25})

    assert cli.main(["explain", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    blocks = ("\n\n" + out).split("\n\nRun ")[1:]
    by_run = {block.split(":", 1)[0]: block for block in blocks}
    names = ("good", "newer", "truncated", "val_only")
    # Runs are named as TensorBoard names them, relative to the logdir.
    assert set(by_run) == set(names)
    good = by_run["good"]
    assert "problem:" not in good and "is the average over epoch 1;" in good
    assert "problem: events.out.tfevents." in by_run["truncated"]
    assert "incomplete last record" in by_run["truncated"]
    assert "version 3" in by_run["newer"]
    assert "problem: No batches recorded" in by_run["val_only"]

    assert cli.main(["explain", str(tmp_path / "truncated")]) == 0
    assert "incomplete last record" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert cli.main(["explain", str(tmp_path / "empty")]) == 2
    assert "holds no TensorBoard event files" in capsys.readouterr().err


class IngestingProvider:
    """A data provider over one run whose event file TensorBoard is still
    ingesting: values become visible in file order, `speed` more after each
    call and each tag a request reads (TensorBoard's ingester thread runs
    between a request's reads)."""

    def __init__(self, event_file, visible, speed=1):
        self.values = []  # (tag, plugin_content, step, wall_time, array)
        content = {}
        for event in event_file_loader.EventFileLoader(str(event_file)).Load():
            for value in event.summary.value:
                if value.HasField("metadata"):
                    content[value.tag] = value.metadata.plugin_data.content
                array = tensor_util.make_ndarray(value.tensor)
                self.values.append(
                    (value.tag, content[value.tag], event.step, event.wall_time, array)
                )
        self.visible = visible
        self.speed = speed

    def _ingest_one(self):
        self.visible = min(self.visible + self.speed, len(self.values))

    def _tags(self):
        tags = {}
        for tag, content, step, wall_time, _ in self.values[: self.visible]:
            tags.setdefault(tag, (content, []))[1].append((step, wall_time))
        return tags

    def list_tensors(self, ctx, *, experiment_id, plugin_name, run_tag_filter=None):
        listing = {
            tag: provider_lib.TensorTimeSeries(
                max_step=max(s for s, _ in points),
                max_wall_time=max(w for _, w in points),
                plugin_content=content,
                description="",
                display_name="",
            )
            for tag, (content, points) in self._tags().items()
        }
        self._ingest_one()
        return {"run": listing} if listing else {}

    def read_tensors(
        self, ctx, *, experiment_id, plugin_name, downsample, run_tag_filter
    ):
        out = {}
        for tag in self._tags():  # TensorBoard reads tags in first-seen order.
            if tag in run_tag_filter.tags:
                out[tag] = [
                    provider_lib.TensorDatum(step, wall_time, array)
                    for t, _, step, wall_time, array in self.values[: self.visible]
                    if t == tag
                ]
                self._ingest_one()
        return {"run": out}


def test_chunks_are_all_or_nothing_while_being_ingested(tmp_path):
    event_file = write_chunked_run(tmp_path / "run", chunks=3)
    total = len(IngestingProvider(event_file, 0).values)
    seen = set()
    for visible, speed in itertools.product(range(total + 1), range(1, 7)):
        provider = IngestingProvider(event_file, visible, speed)
        run = provider_io.load_run(provider, None, "", "run")
        if run is None:
            continue
        series = run["loss"] if "loss" in run else None
        steps = [] if series is None else series.step.tolist()
        # Whole chunks only, each with the values written.
        assert len(steps) % PER_CHUNK == 0, (visible, speed, steps)
        assert steps == list(range(1, len(steps) + 1))
        assert series is None or series.batch_value.tolist() == [loss(s) for s in steps]
        assert series is None or not np.isnan(series.running_mean).any()
        # An epoch with a batch of a later epoch visible is complete.
        if len(steps) > PER_CHUNK:
            assert run.epoch_starts.tolist()[:2] == [1, 5]
        seen.add(len(steps))
    assert seen == {0, 4, 8, 12}


def test_nan_is_data_not_a_missing_value(tmp_path):
    with epochjump.Writer(tmp_path / "run") as writer:
        writer.start_epoch(1)
        for step, value in enumerate([math.nan, math.inf, 0.5], 1):
            writer.log_batch(step, {"loss": value}, {"loss": value})
    run = epochjump.read_run(tmp_path / "run")
    np.testing.assert_array_equal(run["loss"].batch_value, [math.nan, math.inf, 0.5])
    assert run.problems == ()


def test_fast_checksum_matches_tensorboards():
    import random

    from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

    from epochjump.read import event_files

    rng = random.Random(0)
    for size in (0, 1, 7, 8, 12, 100, 4096):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert event_files.masked_crc32c(data) == pywrap_tensorflow.masked_crc32c(data)


PLUGIN_DIR = os.path.dirname(os.path.dirname(epochjump.__file__))


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=PLUGIN_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "epochjump.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_a_record_that_is_not_an_event_is_its_runs_problem(tmp_path):
    write_chunked_run(tmp_path / "a_good")
    bad = write_chunked_run(tmp_path / "bad", chunks=2)
    offset = append_record(bad, NOT_AN_EVENT)
    write_chunked_run(tmp_path / "z_good")

    run = epochjump.read_run(tmp_path / "bad")
    assert run["loss"].step.tolist() == list(range(1, 9))
    assert run["loss"].batch_value.tolist() == [loss(s) for s in range(1, 9)]
    assert run.problems == (not_an_event_problem(bad.name, offset),)

    explained = run_cli("explain", str(tmp_path))
    assert explained.returncode == 0, explained.stderr
    assert "Traceback" not in explained.stderr
    blocks = ("\n\n" + explained.stdout).split("\n\nRun ")[1:]
    by_run = {block.split(":", 1)[0]: block for block in blocks}
    assert set(by_run) == {"a_good", "bad", "z_good"}
    assert f"problem: {not_an_event_problem(bad.name, offset)}" in by_run["bad"]
    for good in ("a_good", "z_good"):
        assert "problem" not in by_run[good]
        assert "is the average over epoch 1;" in by_run[good]

    for selection in ([], ["--run", "good"]):
        out = tmp_path / f"export{len(selection)}.html"
        exported = run_cli("export", str(tmp_path), "-o", str(out), *selection)
        assert exported.returncode == 0, exported.stderr
        assert "Traceback" not in exported.stderr
        html = out.read_text()
        assert "a_good" in html and "z_good" in html
    assert f"run bad: problem: {not_an_event_problem(bad.name, offset)}" in (
        run_cli("export", str(tmp_path), "-o", str(tmp_path / "x.html")).stderr
    )


@pytest.mark.parametrize("newer_first", [False, True])
def test_newer_format_file_is_left_out_in_either_order(
    tmp_path, monkeypatch, newer_first
):
    newer = write_versions(tmp_path / "run", monkeypatch, newer_first)

    run = epochjump.read_run(tmp_path / "run")

    assert run["loss"].step.tolist() == [1, 2, 3, 4]
    assert run["loss"].batch_value.tolist() == [loss(s) for s in range(1, 5)]
    assert run.epoch_starts.tolist() == [1]
    assert len(run["loss"].val) == 0
    assert run.problems == (
        f"{newer}: holds data written in epochjump format version 3; this "
        "epochjump reads up to version 2, so that data is left out. Upgrade "
        "epochjump.",
    )


@pytest.mark.parametrize("foreign_first", [False, True])
def test_another_plugins_summary_does_not_take_an_epochjump_tag(
    tmp_path, foreign_first
):
    ours = write_chunked_run(tmp_path / "run")
    foreign = write_foreign(tmp_path / "run", "epochjump/epoch_start", 3, 3)
    name = f"events.out.tfevents.{'0' if foreign_first else '9'}.other"
    foreign = foreign.rename(foreign.with_name(name))
    assert (foreign.name < ours.name) == foreign_first

    run = epochjump.read_run(tmp_path / "run")

    assert run["loss"].step.tolist() == list(range(1, 13))
    if foreign_first:
        # TensorBoard files the tag under the scalars plugin: the epoch
        # starts cannot be read, and the run says so.
        assert run.epoch_starts.tolist() == []
        assert run.problems == (
            f"{foreign.name}: summaries of another plugin ('scalars') use "
            "epochjump's tags (epochjump/epoch_start); they are not epochjump "
            "data and are left out",
            "epochjump/epoch_start: TensorBoard files this tag under another "
            f"plugin ('scalars'), whose summary in {foreign.name} came first, so "
            "its epochjump data cannot be shown",
        )
    else:
        assert run.epoch_starts.tolist() == [1, 5]
        assert run.problems == (
            f"{foreign.name}: summaries of another plugin ('scalars') use "
            "epochjump's tags (epochjump/epoch_start); they are not epochjump "
            "data and are left out",
        )
