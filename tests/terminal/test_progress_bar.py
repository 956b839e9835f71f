"""epochjump.ProgressBar: Keras's bar with the model's level, on every backend."""

import contextlib
import io
import os
import warnings

import keras
import numpy as np
import pytest
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits
from support.progress_output import epoch_blocks
from support.scripts import require
from support.scripts import run_exact
from support.scripts import script_path

import epochjump
from epochjump.record import batch_feed
from epochjump.terminal import progress_text

SCRIPT = script_path("progress_bar_fits.py")


def _run_script(tmp_path, mode, env):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    run_exact(SCRIPT, mode, tmp_path, env={**env, "TMPDIR": str(tmp)})
    assert os.listdir(tmp_path / "cwd") == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_printed_numbers_match_history_and_explain(tmp_path, backend):
    require(backend)
    _run_script(tmp_path, "keras", {"KERAS_BACKEND": backend})


@pytest.mark.slow
def test_printed_numbers_match_on_tf_keras(tmp_path):
    require("tf_keras")
    _run_script(tmp_path, "tf_keras", {"TF_USE_LEGACY_KERAS": "1"})


@pytest.mark.slow
def test_printed_numbers_are_global_under_mirrored_strategy(tmp_path):
    _run_script(tmp_path, "distribute", {"KERAS_BACKEND": "tensorflow"})


def _fit(model, x, y, callbacks, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(
            x, y, batch_size=32, shuffle=False, callbacks=callbacks, **kwargs
        ).history
    return history, out.getvalue()


def test_feed_gives_every_subscriber_every_row():
    x, y = digits(200)
    model = dense_model()

    class Reader(keras.callbacks.Callback):
        """Reads its subscription at every batch (or only at the end)."""

        def __init__(self, often):
            super().__init__()
            self.often, self.steps, self.running = often, [], []

        def on_train_begin(self, logs=None):
            self.feed = batch_feed.subscribe(self.model, self)

        def _read(self):
            steps, _, running, lost = self.feed.read()
            assert lost == 0
            if len(steps):  # Before the first step, no metric is known.
                self.steps.extend(steps.tolist())
                self.running.extend(running["loss"].tolist())

        def on_train_batch_begin(self, batch, logs=None):
            if self.often:
                self._read()

        def on_train_end(self, logs=None):
            self._read()
            self.feed.close()

    often, rarely, logs = Reader(True), Reader(False), KerasLogRecorder()
    _fit(model, x, y, [often, rarely, logs], epochs=2, verbose=0)
    assert often.steps == rarely.steps == list(range(1, 15))
    expected = np.array([b["loss"] for b in logs.batch_logs], np.float32)
    np.testing.assert_array_equal(np.array(often.running, np.float32), expected)
    np.testing.assert_array_equal(np.array(rarely.running, np.float32), expected)


def test_replaces_keras_bar_and_follows_verbose():
    x, y = digits(200)
    model = dense_model()
    bar = epochjump.ProgressBar()
    assert isinstance(bar, keras.callbacks.ProgbarLogger)
    history, text = _fit(model, x, y, [bar], epochs=2, verbose=1)
    assert text.count("Epoch 1/2") == 1 and text.count("Epoch 2/2") == 1
    blocks = epoch_blocks(text)
    assert [b.epoch for b in blocks] == [1, 2]
    assert blocks[1].final["loss"] == f"{history['loss'][1]:.4f}"
    _, silent = _fit(model, x, y, [epochjump.ProgressBar()], epochs=1, verbose=0)
    assert silent == ""


def test_history_unchanged_and_a_failing_bar_does_not_stop_training(monkeypatch):
    x, y = digits(200)
    plain, _ = _fit(dense_model(), x, y, [], epochs=2, verbose=0)
    from epochjump.terminal import epoch_levels

    def broken(self):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(epoch_levels.LevelTracker, "epoch_ends", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history, text = _fit(
            dense_model(), x, y, [epochjump.ProgressBar()], epochs=2, verbose=1
        )
    assert history == plain
    assert "broken on purpose" in " ".join(str(w.message) for w in caught)
    assert "is the average over epoch" not in text


def test_arguments_are_checked():
    for kwargs, shown in (
        ({"half_life": 0}, "half_life=0"),
        ({"half_life": True}, "half_life=True"),
        ({"summary": "all"}, "summary='all'"),
        ({"keras_package": "keras2"}, "keras_package='keras2'"),
    ):
        with pytest.raises(ValueError, match=shown):
            epochjump.ProgressBar(**kwargs)


def test_resolves_to_the_bar_of_the_models_keras():
    require("tf_keras")
    import tf_keras

    bar = epochjump.ProgressBar(keras_package="tf_keras")
    assert isinstance(bar, tf_keras.callbacks.ProgbarLogger)
    assert not isinstance(bar, keras.callbacks.ProgbarLogger)
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([tf_keras.Input((64,)), tf_keras.layers.Dense(10)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="keras_package='tf_keras'"):
        model.fit(
            np.zeros((4, 64)),
            np.zeros((4, 10)),
            callbacks=[epochjump.ProgressBar(keras_package="keras")],
            verbose=0,
        )


def test_live_levels_go_beside_their_metric_only():
    line = (
        "\r\x1b[1m 3/44\x1b[0m 0s 4ms/step - accuracy: 0.1582 - loss: 2.2906"
        " - val_loss: 2.0000"
    )
    shown = progress_text.with_live_levels(line, {"loss": 2.61684, "accuracy": 1e-4})
    assert shown.endswith(
        "- accuracy: 0.1582 (now 1.0000e-04) - loss: 2.2906 (now 2.6168)"
        " - val_loss: 2.0000"
    )
    assert progress_text.visible_width(shown) == len(
        " 3/44 0s 4ms/step - accuracy: 0.1582 (now 1.0000e-04) - loss: 2.2906"
        " (now 2.6168) - val_loss: 2.0000"
    )


def test_only_the_chief_prints(monkeypatch):
    from epochjump.terminal import progress_mixin

    x, y = digits(200)
    model = dense_model()
    # A non-chief worker of a multi-worker strategy, as `is_chief` sees it.
    monkeypatch.setattr(progress_mixin, "is_chief", lambda model: False)
    _, text = _fit(model, x, y, [epochjump.ProgressBar()], epochs=2, verbose=1)
    assert text == ""
    assert "_epochjump_recorder" not in model.__dict__
