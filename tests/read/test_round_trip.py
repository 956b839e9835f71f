"""epochjump.Writer and epochjump.read_run: round trips, format, bad input."""

import json
import math
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader

import epochjump
from epochjump import metadata


def write_three_epochs(path, values_per_epoch=5):
    """Returns the exact values written: {metric: [per-batch values]}."""
    written = {"loss": [], "acc": []}
    with epochjump.Writer(path) as writer:
        step = 0
        for epoch in range(3):
            writer.start_epoch(step + 1)
            for b in range(values_per_epoch):
                step += 1
                loss, acc = 1.0 / step, 0.1 * b + epoch / 7
                written["loss"].append(loss)
                written["acc"].append(acc)
                writer.log_batch(step, {"loss": loss, "acc": acc}, weight=b + 1)
            writer.log_eval("val", step, {"loss": 0.5 + epoch, "acc": 0.25})
            writer.log_eval("train_eval", step, {"loss": 0.125 * epoch})
    return written


def test_round_trip_is_exact(tmp_path):
    written = write_three_epochs(tmp_path / "run")
    run = epochjump.read_run(tmp_path / "run")
    assert run.metrics == ("loss", "acc")
    assert run.epoch_starts.tolist() == [1, 6, 11]
    for metric in ("loss", "acc"):
        series = run[metric]
        assert series.batch_value.tolist() == written[metric]  # float64 kept.
        assert series.step.tolist() == list(range(1, 16))
        assert series.epoch.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert run["loss"].val.value.tolist() == [0.5, 1.5, 2.5]
    assert run["loss"].val.step.tolist() == [5, 10, 15]
    assert run["loss"].train_eval.value.tolist() == [0.0, 0.125, 0.25]
    assert len(run["acc"].train_eval) == 0


def test_writer_computes_keras_style_running_means(tmp_path):
    written = write_three_epochs(tmp_path / "run")
    run = epochjump.read_run(tmp_path / "run")
    weights = np.tile(np.arange(1, 6, dtype=np.float64), 3)
    for metric in ("loss", "acc"):
        values = np.array(written[metric]).reshape(3, 5)
        w = weights.reshape(3, 5)
        expected = (np.cumsum(values * w, axis=1) / np.cumsum(w, axis=1)).ravel()
        np.testing.assert_allclose(run[metric].running_mean, expected, rtol=1e-15)


def test_wall_times_are_per_batch(tmp_path):
    with epochjump.Writer(tmp_path / "run") as writer:
        writer.start_epoch(1)
        for step, wall in ((1, 1000.0), (2, 1000.5), (3, 1002.25)):
            writer.log_batch(step, {"loss": 1.0}, {"loss": 1.0}, wall_time=wall)
    run = epochjump.read_run(tmp_path / "run")
    np.testing.assert_allclose(run["loss"].wall_time, [1000.0, 1000.5, 1002.25])


def test_non_finite_values_survive(tmp_path):
    values = [math.nan, math.inf, -math.inf, 1.5]
    with epochjump.Writer(tmp_path / "run") as writer:
        for step, value in enumerate(values, 1):
            writer.log_batch(step, {"loss": value}, {"loss": value})
        writer.log_eval("val", 4, {"loss": math.inf})
    series = epochjump.read_run(tmp_path / "run")["loss"]
    np.testing.assert_array_equal(series.batch_value, values)
    np.testing.assert_array_equal(series.running_mean, values)
    assert series.val.value.tolist() == [math.inf]


def test_float32_values_are_stored_in_four_bytes(tmp_path):
    n = 20000
    values = np.random.default_rng(0).random(n, dtype=np.float32)
    with epochjump.Writer(tmp_path / "run") as writer:
        writer.start_epoch(1)
        writer.log_batches(np.arange(1, n + 1), {"loss": values}, {"loss": values})
    size = sum(f.stat().st_size for f in (tmp_path / "run").iterdir())
    assert size / (2 * n) <= 8.1  # 4 per value + (4 step + 4 time) / 2 series.
    run = epochjump.read_run(tmp_path / "run")
    np.testing.assert_array_equal(run["loss"].batch_value, values)


def test_events_carry_versioned_metadata(tmp_path):
    write_three_epochs(tmp_path / "run")
    (event_file,) = os.listdir(tmp_path / "run")
    contents = {}
    for event in event_file_loader.EventFileLoader(
        str(tmp_path / "run" / event_file)
    ).Load():
        for value in event.summary.value:
            if value.HasField("metadata"):
                assert value.metadata.plugin_data.plugin_name == "epochjump"
                contents[value.tag] = json.loads(value.metadata.plugin_data.content)
    assert contents["epochjump/batch_value/loss"] == {
        "version": 1,
        "kind": "batch_value",
        "metric": "loss",
    }
    assert contents["epochjump/epoch_start"] == {"version": 1, "kind": "epoch_start"}
    # Metadata is written once per tag per file, not with every chunk.
    assert len(contents) == len(set(contents))


def test_newer_format_version_is_a_problem_not_a_crash():
    content = json.dumps({"version": 99, "kind": "batch_value", "metric": "x"})
    with pytest.raises(metadata.FormatError, match="version 99"):
        metadata.parse_plugin_metadata(content.encode())
    from epochjump.read.decode import decode_run
    from epochjump.read.run_data import Datum

    good = metadata.create_summary_metadata("epoch_start").plugin_data.content
    run = decode_run(
        "r",
        {
            "epochjump/batch_value/x": (content.encode(), []),
            "epochjump/epoch_start": (good, [Datum(1, 0.0, np.array(1))]),
        },
    )
    assert run.epoch_starts.tolist() == [1]
    assert "version 99" in run.problems[0]


def test_resume_from_an_older_checkpoint_keeps_the_newest_data(tmp_path):
    path = tmp_path / "run"
    with epochjump.Writer(path) as writer:  # Epochs at steps 1-4 and 5-8.
        for step in range(1, 9):
            if step in (1, 5):
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": 1.0}, {"loss": 1.0}, wall_time=100 + step)
        writer.log_eval("val", 8, {"loss": 1.0})
    with epochjump.Writer(path) as writer:  # Resumed from the step-4 checkpoint.
        writer.start_epoch(5)
        for step in range(5, 7):
            writer.log_batch(step, {"loss": 2.0}, {"loss": 2.0})
    series = epochjump.read_run(path)["loss"]
    assert series.step.tolist() == [1, 2, 3, 4, 5, 6]
    assert series.batch_value.tolist() == [1.0] * 4 + [2.0] * 2
    assert len(series.val) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda w: w.log_batch(-1, {"loss": 1.0}), "step=-1"),
        (lambda w: w.log_batch(1.5, {"loss": 1.0}), "step=1.5"),
        (lambda w: w.log_batch(1, {"loss": "high"}), "'high'"),
        (lambda w: w.log_batch(1, {}), "non-empty dict"),
        (lambda w: w.log_batch(1, {"val_loss": 1.0}), "val_loss"),
        (lambda w: w.log_batch(1, {"loss": 1.0}, weight=0), "weight=0"),
        (lambda w: w.log_eval("test", 1, {"loss": 1.0}), "kind='test'"),
        (lambda w: w.start_epoch("1"), "step='1'"),
    ],
)
def test_bad_input_is_named_and_loses_no_data(tmp_path, call, message):
    writer = epochjump.Writer(tmp_path / "run")
    writer.log_batch(1, {"loss": 0.5}, {"loss": 0.5})
    with pytest.raises(ValueError, match=message):
        call(writer)
    writer.close()
    series = epochjump.read_run(tmp_path / "run")["loss"]
    assert series.batch_value.tolist() == [0.5]


def test_missing_directory_and_empty_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such"):
        epochjump.read_run(tmp_path / "no_such")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No epochjump data"):
        epochjump.read_run(tmp_path / "empty")


def test_writer_is_usable_without_tensorflow(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "import epochjump\n"
        f"w = epochjump.Writer({str(tmp_path / 'run')!r})\n"
        "w.start_epoch(1); w.log_batch(1, {'loss': 0.25}); w.close()\n"
        f"print(epochjump.read_run({str(tmp_path / 'run')!r})['loss'].batch_value)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 0, out.stderr
    assert "0.25" in out.stdout
