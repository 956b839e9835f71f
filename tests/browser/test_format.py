"""Names with bidi or invisible characters in the tab (real TensorBoard,
headless Chromium) are shown with escapes, never as another name."""

import json
import os
import sys
import urllib.request

import pytest
from browser_env import serve_tensorboard

import epochjump

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BIDI_RUN = "run\u202egnp.exe"  # Displays as "runexe.png".
BIDI_METRIC = "acc\u200e\u2067x"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    root = tmp_path_factory.mktemp("bidi")
    with epochjump.Writer(root / BIDI_RUN) as writer:
        for step in range(1, 9):
            if step in (1, 5):
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": 1.0 / step, BIDI_METRIC: step / 10})
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(root),
        "--load_fast=false",
    ]
    env = dict(
        os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(epochjump.__file__))
    )

    def ready(base):
        with urllib.request.urlopen(base + "/data/plugin/epochjump/runs") as answer:
            return [r["run"] for r in json.loads(answer.read())["runs"]] == [BIDI_RUN]

    with serve_tensorboard("bidi", command, ready, env) as base:
        yield base


def test_bidi_names_are_shown_escaped_in_the_tab(page, url):
    page.goto(url + "/data/plugin_entry.html?name=epochjump")
    frame = page.main_frame
    frame.wait_for_selector("[data-testid=metric-card]", timeout=WAIT_MS)
    listed = frame.locator("[data-testid=run-item] .ej-run-name").all_inner_texts()
    assert listed == ["run\\u202egnp.exe"]
    titles = frame.locator(".ej-card-title").all_inner_texts()
    assert "acc\\u200e\\u2067x" in titles and "loss" in titles
    chips = frame.locator(".ej-run-chip .ej-run-name").all_inner_texts()
    assert set(chips) == {"run\\u202egnp.exe"}
    # The data keeps the exact name: the card is found by it.
    card = frame.locator("[data-testid=metric-card]").first
    assert card.get_attribute("data-run") == BIDI_RUN
    assert list(page.console_errors) == []
