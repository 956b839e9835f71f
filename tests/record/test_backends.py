"""EpochJumpCallback is exact on every Keras 3 backend (one process each)."""

import pytest
from support.scripts import require
from support.scripts import run_exact
from support.scripts import script_path

SCRIPT = script_path("backend_exactness.py")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_callback_is_exact_on_backend(tmp_path, backend):
    require(backend)
    run_exact(SCRIPT, tmp_path, env={"KERAS_BACKEND": backend}, timeout=600)


@pytest.mark.slow
def test_callback_is_exact_on_tf_keras(tmp_path):
    require("tf_keras")
    script = script_path("tf_keras_exactness.py")
    run_exact(script, tmp_path / "run", env={"TF_USE_LEGACY_KERAS": "1"}, timeout=600)
