"""The training-mode evaluation is exact and leaves `History` untouched, on
every Keras 3 backend (one process each: Keras picks its backend at import)."""

import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_script(script, tmp_path, env):
    result = subprocess.run(
        [sys.executable, os.path.join(HERE, script), str(tmp_path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exact")


def require(module):
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed; `make test` installs it")
        pytest.skip(f"{module} is not installed; `make test` installs it")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_training_mode_is_exact_and_history_untouched(tmp_path, backend):
    require(backend)
    run_script("training_mode_exactness.py", tmp_path, {"KERAS_BACKEND": backend})


@pytest.mark.slow
def test_training_mode_is_exact_and_history_untouched_on_tf_keras(tmp_path):
    require("tf_keras")
    run_script("tf_keras_training_mode.py", tmp_path, {"TF_USE_LEGACY_KERAS": "1"})
