"""epochjump.explain and the `epochjump` command."""

import math
import subprocess
import sys

import numpy as np
import pytest
from support.written_runs import write_epochs

import epochjump
from epochjump import cli
from epochjump.analysis import jumps as jumps_lib


@pytest.fixture
def known_run(tmp_path):
    """Two epochs of 20 batches whose numbers are easy to check by hand."""
    path = tmp_path / "known"

    def batch_metrics(epoch, batch):
        return {"accuracy": epoch + batch / 20}  # Rises through each epoch.

    def evals(epoch, last):
        evaluated = {
            "train_eval": {"accuracy": epoch + 1.5},
            "train_eval_training_mode": {"accuracy": epoch + 1.25},
        }
        if epoch != 1:
            evaluated["val"] = {"accuracy": epoch + 0.75}
        return evaluated

    write_epochs(path, 3, 20, batch_metrics, evals)
    return epochjump.read_run(path)


def test_explain_matches_a_hand_computation(known_run):
    jumps = epochjump.explain(known_run, "accuracy")
    assert [j.epoch for j in jumps] == [0, 1]
    for j, epoch in zip(jumps, (0, 1)):
        values = [epoch + b / 20 for b in range(20)]
        reported = sum(values) / 20  # Equal weights: the plain epoch mean.
        # Noiseless values on a line: the fitted line is that line, its
        # widest window wins, and it reproduces the last value (to the
        # rounding of the fit's sums).
        level = values[-1]
        first_next = epoch + 1.0
        assert j.reported == pytest.approx(reported, abs=1e-15)
        assert j.level_at_end == pytest.approx(level, abs=1e-12)
        assert j.level_batches == 20
        assert j.lag_stderr == 0 and j.noise_sd == 0
        # The next epoch's line starts at its first value (to fit rounding).
        assert j.level_after == pytest.approx(first_next, abs=1e-12)
        assert j.level_after_stderr == 0
        assert j.boundary_step == pytest.approx(first_next - level, abs=1e-12)
        assert j.boundary_step_stderr == 0
        assert j.first_batch_noise == pytest.approx(0, abs=1e-12)
        assert j.progress == j.boundary_step + j.first_batch_noise
        assert j.first_next == first_next
        assert j.jump == pytest.approx(first_next - reported, abs=1e-15)
        assert j.lag == pytest.approx(level - reported, abs=1e-12)
        assert j.progress == pytest.approx(first_next - level, abs=1e-12)
        assert j.jump == pytest.approx(j.lag + j.progress, abs=1e-15)
        assert j.train_eval == epoch + 1.5
        assert j.train_eval_training_mode == epoch + 1.25
        # Same subset, same weights: inference mode minus training mode.
        assert j.mode_gap == (epoch + 1.5) - (epoch + 1.25)
        assert j.last_step == 20 * (epoch + 1)
        assert j.first_next_step == 20 * (epoch + 1) + 1
    assert jumps[0].val == 0.75
    assert math.isnan(jumps[1].val)


def test_records_carry_numbers_only(known_run):
    (first, _) = epochjump.explain(known_run, "accuracy")
    record = first.as_dict()
    assert record["lag_share"] == pytest.approx(0.475 / 0.525)
    assert not any(isinstance(v, str) for k, v in record.items() if k != "metric")
    assert not hasattr(first, "sentence")


def test_explained_computes_the_ends_once_for_the_jumps(known_run):
    explanation = jumps_lib.explained(known_run, "accuracy")
    # repr: the last epoch's NaN fields compare unequal to themselves.
    assert repr(explanation.epoch_ends) == repr(
        jumps_lib.epoch_ends(known_run, "accuracy")
    )
    assert repr(explanation.jumps) == repr(epochjump.explain(known_run, "accuracy"))


def test_explain_rejects_unknown_metric_and_bad_fraction(known_run):
    with pytest.raises(KeyError, match="'nope'"):
        epochjump.explain(known_run, "nope")
    with pytest.raises(ValueError, match="level_fraction"):
        epochjump.explain(known_run, "accuracy", level_fraction=0)


def test_cli_explain_errors_name_the_bad_value(tmp_path, capsys):
    assert cli.main(["explain", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_then_explain_end_to_end(tmp_path):
    logdir = tmp_path / "logs"
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "epochjump.cli",
            "demo",
            "--no-serve",
            "--epochs",
            "3",
            "--logdir",
            str(logdir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "is the average over epoch 1; the model ended it at" in demo.stdout
    explain = subprocess.run(
        [sys.executable, "-m", "epochjump.cli", "explain", str(logdir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert explain.returncode == 0, explain.stderr[-2000:]
    lines = explain.stdout.splitlines()
    assert any(line.startswith("accuracy ") for line in lines)
    assert any(line.startswith("loss ") for line in lines)
    run = epochjump.read_run(logdir / "digits_dropout")
    assert len(run.epoch_starts) == 3 and run.has_train_eval and run.has_val
    for metric in run.metrics:
        for j in epochjump.explain(run, metric):
            assert j.jump == pytest.approx(j.lag + j.progress, abs=1e-12)
            np.testing.assert_equal(np.isfinite([j.train_eval, j.val]), True)
