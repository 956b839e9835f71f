"""The training-mode evaluation is exact and leaves `History` untouched, on
every Keras 3 backend (one process each: Keras picks its backend at import)."""

import pytest
from support.scripts import require
from support.scripts import run_exact
from support.scripts import script_path


def run_script(script, tmp_path, env):
    run_exact(script_path(script), tmp_path, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_training_mode_is_exact_and_history_untouched(tmp_path, backend):
    require(backend)
    run_script("training_mode_exactness.py", tmp_path, {"KERAS_BACKEND": backend})


@pytest.mark.slow
def test_training_mode_is_exact_and_history_untouched_on_tf_keras(tmp_path):
    require("tf_keras")
    run_script("tf_keras_training_mode.py", tmp_path, {"TF_USE_LEGACY_KERAS": "1"})


def test_own_test_step_gets_no_training_mode_evaluation(tmp_path):
    import keras
    import numpy as np
    from support.keras_fits import digits

    import epochjump

    class OwnTestStep(keras.Sequential):
        def test_step(self, data):
            return super().test_step(data)

    keras.utils.set_random_seed(0)
    model = OwnTestStep([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = digits(64)
    with pytest.warns(RuntimeWarning, match="its own test_step"):
        model.fit(
            x,
            y,
            epochs=2,
            verbose=0,
            callbacks=[
                epochjump.EpochJumpCallback(tmp_path / "run", train_eval_data=(x, y))
            ],
        )
    run = epochjump.read_run(tmp_path / "run")
    assert len(run["loss"].train_eval) == 2
    assert np.all(np.isfinite(run["loss"].train_eval.value))
    assert len(run["loss"].train_eval_training_mode) == 0


@pytest.mark.slow
def test_replicated_model_keeps_history_and_skips_training_mode(tmp_path):
    require("tensorflow")
    run_script("distribute_training_mode.py", tmp_path / "run", {})
