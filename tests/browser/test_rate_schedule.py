"""A per-step learning-rate schedule in the tab: one labelled bar where the
changes are too close to tell apart, ticks again once zoomed in (a real Keras
fit with `CosineDecay`, real TensorBoard, headless Chromium)."""

import json
import urllib.request

import numpy as np
import pytest
from support.tensorboard_process import serve_tensorboard
from support.tensorboard_process import tensorboard_command
from test_tab import assert_no_console_errors
from test_tab import card
from test_tab import drag_zoom
from test_tab import open_entry
from test_tab import probe
from test_tab import wait_for_charts
from test_tab import wait_probe

import epochjump

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = "cosine"
INITIAL_RATE = 3e-3
DECAY_STEPS = 400


@pytest.fixture(scope="module")
def schedule_logdir(tmp_path_factory):
    import keras
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")[:960]
    y = y[:960]
    schedule = keras.optimizers.schedules.CosineDecay(INITIAL_RATE, DECAY_STEPS)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    root = tmp_path_factory.mktemp("schedule")
    model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(root / RUN)],
    )
    return root


@pytest.fixture(scope="module")
def schedule_url(schedule_logdir):
    command = tensorboard_command(schedule_logdir)

    def ready(base):
        url = base + "/data/plugin/epochjump/runs"
        with urllib.request.urlopen(url, timeout=10) as response:
            return any(r["run"] == RUN for r in json.loads(response.read())["runs"])

    with serve_tensorboard("schedule", command, ready) as base:
        yield base


def cosine(iteration):
    """`CosineDecay(INITIAL_RATE, DECAY_STEPS)` at `iteration`, from its formula."""
    fraction = min(iteration, DECAY_STEPS) / DECAY_STEPS
    return INITIAL_RATE * 0.5 * (1 + np.cos(np.pi * fraction))


def test_per_step_schedule_is_one_bar_then_ticks_when_zoomed(page, schedule_url):
    frame = open_entry(page, schedule_url)
    wait_for_charts(frame, RUN, ["loss", "accuracy"])
    chart = probe(frame, RUN, "loss")
    batches = 3 * 30  # 960 samples in batches of 32, three epochs.
    assert chart["xMax"] == batches
    # The rate changes at every step: steps 2..90, each trained with the
    # rate at iteration step - 1.
    (band,) = chart["lrBands"]
    assert chart["lrMarks"] == []
    assert band["from"] == 2 and band["to"] == batches
    assert band["changes"] == batches - 1
    assert band["first"] == pytest.approx(cosine(1), rel=1e-6)
    assert band["last"] == pytest.approx(cosine(batches - 1), rel=1e-6)
    drag_zoom(page, card(frame, RUN, "loss").locator(".u-over"), 0.40, 0.46)
    zoomed = wait_probe(frame, RUN, "loss", f"c.xMax < {batches}")
    # Zoomed to a few steps, each change is a tick of its own, one per step.
    inside = [s for s in range(2, batches + 1) if zoomed["xMin"] <= s <= zoomed["xMax"]]
    assert inside and zoomed["lrBands"] == []
    assert zoomed["lrMarks"] == inside
    assert_no_console_errors(page)
