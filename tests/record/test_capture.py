"""Batch capture on every Keras 3 backend: every built-in metric exact, an
unhandled custom metric harmless, no per-batch host copy on PyTorch.

`tests/support/capture_checks.py` runs once per backend (Keras picks its
backend at import) and reports each check; each test here asserts one of them.
"""

import os
import subprocess
import sys

import pytest
from support.scripts import require
from support.scripts import script_path

SCRIPT = script_path("capture_checks.py")
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


# The checks of PyTorch's own capture code (capture_checks.py's docstring
# says what each proves): no per-batch host copy, the fused results bit for
# bit Keras's own, their fall-back to Keras's own, a results call from another
# thread, and a model's own get_metrics_result kept.
TORCH_CHECKS = [
    "host_copies",
    "fused_results",
    "fused_fallback",
    "other_thread",
    "own_get_metrics_result",
]


@pytest.mark.slow
@pytest.mark.parametrize("check", TORCH_CHECKS)
def test_torch_capture(check, tmp_path_factory):
    assert_passed("torch", check, tmp_path_factory)
