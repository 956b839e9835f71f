"""epochjump.Writer in plain PyTorch and tf.GradientTape loops (docs/examples)."""

import importlib.util
import os

import numpy as np
import pytest

import epochjump

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(EXAMPLES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras_style_running_means(values, sizes, epoch_of_batch):
    """Sample-weighted mean since each epoch began, computed independently."""
    means = np.empty(len(values))
    total = weight = 0.0
    for i, (value, size) in enumerate(zip(values, sizes)):
        if i == 0 or epoch_of_batch[i] != epoch_of_batch[i - 1]:
            total = weight = 0.0
        total += value * size
        weight += size
        means[i] = total / weight
    return means


def check_run(run, metric, steps, values, sizes, batches_per_epoch):
    series = run[metric]
    assert series.step.tolist() == steps
    np.testing.assert_array_equal(series.batch_value, values)
    epochs = [i // batches_per_epoch for i in range(len(steps))]
    assert series.epoch.tolist() == epochs
    np.testing.assert_allclose(
        series.running_mean,
        keras_style_running_means(values, sizes, epochs),
        rtol=1e-12,
    )


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="no torch")
def test_pytorch_loop(tmp_path):
    recorded = load_example("torch_loop").train(str(tmp_path / "run"))
    run = epochjump.read_run(tmp_path / "run")
    steps = [r[0] for r in recorded]
    sizes = [r[3] for r in recorded]
    check_run(run, "loss", steps, [r[1] for r in recorded], sizes, 32)
    check_run(run, "accuracy", steps, [r[2] for r in recorded], sizes, 32)
    assert run.epoch_starts.tolist() == [1, 33, 65]
    assert len(run["loss"].train_eval) == len(run["loss"].val) == 3
    assert len(epochjump.explain(run, "accuracy")) == 2


def test_gradient_tape_loop(tmp_path):
    recorded = load_example("gradient_tape_loop").train(str(tmp_path / "run"))
    run = epochjump.read_run(tmp_path / "run")
    check_run(
        run,
        "loss",
        [r[0] for r in recorded],
        [r[1] for r in recorded],
        [r[2] for r in recorded],
        32,
    )
