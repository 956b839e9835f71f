"""epochjump.transformers.EpochJumpCallback on a real, tiny Trainer fit (CPU)."""

import importlib
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # Nothing is downloaded.

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from support.framework_runs import explain_output
from support.framework_runs import train_with_failing_writes  # noqa: E402

import epochjump  # noqa: E402

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `make test` installs transformers: missing there, collecting this file fails.
import_or_skip = (
    importlib.import_module if os.environ.get("CI") else pytest.importorskip
)
torch = import_or_skip("torch")
transformers = import_or_skip("transformers")

from support.trainer_fits import ACCUMULATION  # noqa: E402
from support.trainer_fits import EPOCHS  # noqa: E402
from support.trainer_fits import STEPS  # noqa: E402
from support.trainer_fits import train  # noqa: E402

from epochjump.transformers import EpochJumpCallback  # noqa: E402
from epochjump.words import sentences  # noqa: E402


class Logs(transformers.TrainerCallback):
    """What the Trainer logs: its `loss` averages, learning rates, evaluations."""

    def __init__(self):
        self.logged = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logged.append((state.global_step, dict(logs)))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("transformers")
    logs = Logs()
    trainer = train(tmp_path, [EpochJumpCallback(tmp_path / "run"), logs])
    return tmp_path / "run", trainer, logs.logged, epochjump.read_run(tmp_path / "run")


def logged(entries, key):
    return [(step, logs[key]) for step, logs in entries if key in logs]


@pytest.mark.slow
def test_step_losses_are_the_losses_computed(recorded):
    _, trainer, _, run = recorded
    # Trainer divides each micro-batch's loss by the accumulation steps and
    # adds them up in float32: the step's loss.
    expected = {}
    for step, loss in trainer.micro_batch_losses:
        part = np.float32(loss) / np.float32(ACCUMULATION)
        expected[step] = expected[step] + part if step in expected else part
    assert len(trainer.micro_batch_losses) == EPOCHS * STEPS * ACCUMULATION
    loss = run["loss"]
    assert run.metrics == ("loss",)
    assert loss.step.tolist() == list(range(1, EPOCHS * STEPS + 1))
    np.testing.assert_array_equal(loss.batch_value, [expected[s] for s in loss.step])
    assert run.epoch_starts.tolist() == [1, 1 + STEPS, 1 + 2 * STEPS]
    # Keras-style running mean: each epoch's mean of its step losses so far.
    for epoch in range(EPOCHS):
        values = loss.batch_value[epoch * STEPS : (epoch + 1) * STEPS]
        np.testing.assert_allclose(
            loss.running_mean[epoch * STEPS : (epoch + 1) * STEPS],
            np.cumsum(values) / np.arange(1, STEPS + 1),
            rtol=1e-12,
        )
    assert "training_step" not in trainer.__dict__  # The wrapper is gone.


@pytest.mark.slow
def test_logged_averages_are_rebuilt_from_the_steps(recorded):
    _, _, entries, run = recorded
    averages = logged(entries, "loss")
    assert [s for s, _ in averages] == list(range(5, EPOCHS * STEPS + 1, 5))
    values, previous = run["loss"].batch_value, 0
    for step, average in averages:
        np.testing.assert_allclose(values[previous:step].mean(), average, rtol=1e-6)
        previous = step
    # The rate each logged step trained with is the one recorded in force there.
    rates = run.learning_rate
    for step, rate in logged(entries, "learning_rate"):
        in_force = rates.value[np.searchsorted(rates.step, step, side="right") - 1]
        assert in_force == rate
    assert rates.step[0] == 1 and len(rates.step) > EPOCHS  # linear decay


@pytest.mark.slow
def test_evaluations_are_recorded_at_epoch_ends(recorded):
    _, _, entries, run = recorded
    evaluations = logged(entries, "eval_loss")
    val = run["loss"].val
    assert (
        val.step.tolist()
        == [s for s, _ in evaluations]
        == [STEPS, 2 * STEPS, 3 * STEPS]
    )
    np.testing.assert_array_equal(val.value, [v for _, v in evaluations])


@pytest.mark.slow
def test_seeing_the_data_again_is_a_real_drop(recorded):
    log_dir, _, _, run = recorded
    jumps = epochjump.explain(run, "loss")
    assert len(jumps) == EPOCHS - 1
    for jump in jumps:
        # The model's own level falls across the boundary, by over 2 errors.
        assert jump.boundary_step + 2 * jump.boundary_step_stderr < 0, jump
        assert "real step across the boundary" in sentences.boundary_detail(jump)
    out = explain_output(log_dir)
    assert out.startswith(f"loss {jumps[0].reported:.4f} is the average over epoch 1")
    assert f"{jumps[0].boundary_step:+.4f}" in out


@pytest.mark.slow
def test_training_is_unchanged(recorded, tmp_path):
    _, with_callback, _, _ = recorded
    plain = train(tmp_path, [])
    assert plain.micro_batch_losses == with_callback.micro_batch_losses
    for a, b in zip(plain.model.parameters(), with_callback.model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_steps_before_a_crash_are_written_at_exit(tmp_path):
    crash_at = STEPS + 5  # mid-epoch 2, after epoch 1's flush
    script = os.path.join(TESTS, "support", "trainer_crash.py")
    result = subprocess.run(
        [sys.executable, script, str(tmp_path / "run"), str(crash_at)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0 and "crashed at step" in result.stderr
    run = epochjump.read_run(tmp_path / "run")
    assert run["loss"].step.tolist() == list(range(1, crash_at))
    assert run.epoch_starts.tolist() == [1, 1 + STEPS]


@pytest.mark.slow
def test_failures_only_warn(tmp_path, monkeypatch):
    trainer = train_with_failing_writes(
        monkeypatch,
        lambda: train(
            tmp_path,
            [EpochJumpCallback(tmp_path / "run")],
            max_steps=4,
            eval_strategy="no",
        ),
    )
    assert trainer.state.global_step == 4
