"""Batch capture on every Keras 3 backend: every built-in metric exact, an
unhandled custom metric harmless, no per-batch host copy on PyTorch.

`capture_checks.py` runs once per backend (Keras picks its backend at import)
and reports each check; each test here asserts one of them.
"""

import os
import subprocess
import sys

import pytest
from support.scripts import require

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "capture_checks.py")
BACKENDS = ["tensorflow", "jax", "torch"]
TASKS = ["binary", "sparse", "one_hot", "regression"]
_reports = {}


def report(backend, tmp_path_factory):
    """`{check: "PASS ..." or "FAIL ..."}` of the script run on `backend`."""
    require(backend)
    if backend not in _reports:
        result = subprocess.run(
            [sys.executable, SCRIPT, str(tmp_path_factory.mktemp(backend))],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
            timeout=900,
        )
        lines = {}
        for line in result.stdout.splitlines():
            if line.startswith(("PASS ", "FAIL ")):
                lines[line.split()[1].rstrip(":")] = line
            elif lines and line.startswith("    "):
                lines[list(lines)[-1]] += "\n" + line
        _reports[backend] = (lines, result.stderr[-4000:])
    return _reports[backend]


def assert_passed(backend, check, tmp_path_factory):
    lines, stderr = report(backend, tmp_path_factory)
    assert check in lines, f"{check} did not run on {backend}:\n{stderr}"
    assert lines[check].startswith("PASS"), lines[check]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_builtin_metric_is_exact(backend, task, tmp_path_factory):
    assert_passed(backend, f"metrics_{task}", tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_unhandled_custom_metric_is_running_mean_only(backend, tmp_path_factory):
    assert_passed(backend, "custom_metric", tmp_path_factory)


@pytest.mark.slow
def test_no_per_batch_host_copy_on_torch(tmp_path_factory):
    assert_passed("torch", "host_copies", tmp_path_factory)


@pytest.mark.slow
def test_fused_running_means_are_keras_own_on_torch(tmp_path_factory):
    assert_passed("torch", "fused_results", tmp_path_factory)


@pytest.mark.slow
def test_fused_results_fail_over_to_keras_own_on_torch(tmp_path_factory):
    assert_passed("torch", "fused_fallback", tmp_path_factory)


@pytest.mark.slow
def test_results_asked_from_another_thread_leave_the_row_alone(tmp_path_factory):
    assert_passed("torch", "other_thread", tmp_path_factory)


@pytest.mark.slow
def test_a_models_own_get_metrics_result_is_kept_on_torch(tmp_path_factory):
    assert_passed("torch", "own_get_metrics_result", tmp_path_factory)
