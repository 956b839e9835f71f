"""EpochJumpCallback is exact on every Keras 3 backend (one process each)."""

import importlib.util
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "backend_exactness.py"
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_callback_is_exact_on_backend(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{backend} is not installed; `make test` installs it")
        pytest.skip(f"{backend} is not installed; `make test` installs it")
    result = subprocess.run(
        [sys.executable, SCRIPT, str(tmp_path)],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exact")


@pytest.mark.slow
def test_callback_is_exact_on_tf_keras(tmp_path):
    if importlib.util.find_spec("tf_keras") is None:
        if os.environ.get("CI"):
            pytest.fail("tf_keras is not installed; `make test` installs it")
        pytest.skip("tf_keras is not installed; `make test` installs it")
    script = os.path.join(os.path.dirname(SCRIPT), "tf_keras_exactness.py")
    result = subprocess.run(
        [sys.executable, script, str(tmp_path / "run")],
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exact")
