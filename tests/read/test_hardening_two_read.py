"""Issue 13, reader side: a record that is not an event, files of two format
versions in one run, and another plugin's summaries under epochjump's tags
each become a named problem of their run; every other datum is read."""

import os
import struct
import subprocess
import sys

import pytest
from support.written_runs import loss
from support.written_runs import write_chunked_run
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

import epochjump
from epochjump import metadata
from epochjump.read.event_files import masked_crc32c

PLUGIN_DIR = os.path.dirname(os.path.dirname(epochjump.__file__))
NOT_AN_EVENT = b"\xff\xff\xff\xff not a protocol buffer"


def append_record(path, data):
    """Appends one TFRecord with a valid frame and checksums around `data`."""
    header = struct.pack("<Q", len(data))
    record = header + struct.pack("<I", masked_crc32c(header))
    record += data + struct.pack("<I", masked_crc32c(data))
    offset = path.stat().st_size
    with open(path, "ab") as f:
        f.write(record)
    return offset


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=PLUGIN_DIR, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "epochjump.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def not_an_event_problem(name, offset):
    return (
        f"{name}: the record at byte {offset} is intact but its bytes are not a "
        "TensorBoard event (Error parsing message with type 'tensorboard.Event': "
        "Wire format was corrupt); TensorBoard stops reading this run there, so "
        "the data from there on is missing"
    )


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


def write_versions(run_dir, monkeypatch, newer_first):
    """A run of a file this epochjump reads (steps 1-4) and one of a future
    version 3 (steps 5-8), the file names setting the order TensorBoard reads
    them in."""
    write_chunked_run(run_dir.parent / "v1", chunks=1)
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)  # A future writer.
    with epochjump.Writer(run_dir.parent / "v2") as writer:
        writer.start_epoch(5)
        for step in range(5, 9):
            writer.log_batch(step, {"loss": loss(step)}, {"loss": loss(step)})
        writer.log_eval("val", 8, {"loss": 0.125})
    monkeypatch.undo()
    run_dir.mkdir()
    names = {"v1": "events.out.tfevents.1.b.epochjump"}
    names["v2"] = f"events.out.tfevents.{0 if newer_first else 2}.b.epochjump"
    for version, name in names.items():
        (written,) = (run_dir.parent / version).iterdir()
        written.rename(run_dir / name)
        (run_dir.parent / version).rmdir()
    return names["v2"]


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


def write_foreign(path, tag, step, value):
    """Another plugin's (scalars) summary under `tag`, in its own file."""
    writer = EventFileWriter(str(path), filename_suffix=".other")
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        tensor=tensor_util.make_tensor_proto(value),
        metadata=scalar_metadata.create_summary_metadata(tag, ""),
    )
    writer.add_event(event_pb2.Event(step=step, wall_time=1e9 + step, summary=summary))
    writer.close()
    (written,) = [p for p in path.iterdir() if p.name.endswith(".other")]
    return written


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
