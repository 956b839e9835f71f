"""The tab's words and marks on the demo run: shares in 0–100%, ±, headline
first, learning-rate marks, and a 900-px-wide window without cut-off tables.

The demo (tests/browser/conftest.py trains it for 3 epochs) halves its
learning rate from the second epoch on, so the chart has one change to mark.
"""

import re

import pytest
from browser_env import DEMO_RUN
from test_tab import WAIT_MS
from test_tab import assert_no_console_errors
from test_tab import card
from test_tab import open_charts
from test_tab import open_comparison
from test_tab import probe
from test_tab import wait_for_stable_layout
from test_tab import wait_probe

import epochjump
from epochjump import demo
from epochjump.analysis import jumps
from epochjump.words import answer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = DEMO_RUN
SHARE = re.compile(r"(−|-)?(\d+(?:\.\d+)?)\s*%")


@pytest.fixture(scope="module")
def run_data(logdir):
    return epochjump.read_run(logdir / RUN)


def page_text(frame):
    return frame.evaluate("() => document.body.innerText")


def assert_shares_in_range(text):
    shares = SHARE.findall(text)
    assert shares, "no share shown at all"
    for sign, number in shares:
        assert not sign and 0 <= float(number) <= 100, (sign, number)


def test_no_share_outside_0_to_100_and_errors_shown(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
    # The comparison (the HTML-named run shares "loss") and the val notes.
    open_comparison(frame)
    frame.locator("[data-testid=compare-row]").first.wait_for(timeout=WAIT_MS)
    frame.locator("[data-testid=val-row]").first.wait_for(timeout=WAIT_MS)
    for details in frame.locator("[data-testid=table-details]").all():
        details.click()
    text = page_text(frame)
    assert_shares_in_range(text)
    assert "±" in text
    for metric in run_data.metrics:
        found = epochjump.explain(run_data, metric)
        shown = card(frame, RUN, metric).inner_text()
        assert f"± {found[0].lag_stderr:.4f}" in shown
    assert_no_console_errors(page)


def test_headline_comes_first(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
    for metric in run_data.metrics:
        box = card(frame, RUN, metric)
        headline = box.locator("[data-testid=headline]")
        lines = headline.locator("[data-testid=answer-line]").all_inner_texts()
        assert lines == answer.answer_lines(jumps.explained(run_data, metric))
        assert 1 <= len(lines) <= 3
        # Above the chart, with no paragraph between them.
        top = headline.bounding_box()["y"]
        chart_top = box.locator(".u-over").bounding_box()["y"]
        assert top < chart_top
        assert box.locator("[data-testid=summary-paragraph]").count() == 0
        # The table ends with the last epoch, with its validation.
        last = box.locator("[data-testid=epoch-row]")
        assert last.get_attribute("data-epoch") == "2"
        end = jumps.epoch_ends(run_data, metric)[-1]
        val = last.locator('[data-field="val"]')
        assert val.inner_text() == f"{end.val:.4f}"
    assert_no_console_errors(page)


def test_learning_rate_change_is_marked(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
    change = int(run_data.epoch_starts[1])  # decay from epoch 3 // 2 = 1 on
    assert list(run_data.learning_rate.step) == [1, change]
    for metric in run_data.metrics:
        chart = wait_probe(frame, RUN, metric, "c.lrMarks.length > 0")
        assert chart["lrMarks"] == [change]
        assert chart["lrValues"] == pytest.approx([demo.LEARNING_RATE / 2])
        assert chart["fitMarks"] == []  # One fit: nothing new starts.
    frame.select_option("[data-testid=x-axis-select]", "epoch")
    chart = wait_probe(frame, RUN, "loss", "c.xAxis === 'epoch' && c.lrMarks.length")
    assert chart["lrMarks"] == [1.0]
    # The tooltip gives the learning rate in force at the hovered batch.
    over = card(frame, RUN, "loss").locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    rate = card(frame, RUN, "loss").locator("[data-testid=tooltip-rate]")
    rate.wait_for(state="visible", timeout=WAIT_MS)
    assert rate.inner_text().split()[-1] == "0.0005"
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    frame.wait_for_function(
        """(selector) => {
          const r = document.querySelector(selector);
          return r && r.innerText.trim().endsWith("0.001");
        }""",
        arg=f'[data-metric="loss"][data-run="{RUN}"] [data-testid=tooltip-rate]',
        timeout=WAIT_MS,
    )
    assert_no_console_errors(page)


def test_900_px_window_cuts_no_table(page, tensorboard_url, run_data):
    page.set_viewport_size({"width": 900, "height": 1000})
    frame = open_charts(page, tensorboard_url, run_data)
    open_comparison(frame)
    frame.locator("[data-testid=compare-row]").first.wait_for(timeout=WAIT_MS)
    frame.locator("[data-testid=val-row]").first.wait_for(timeout=WAIT_MS)
    wait_for_stable_layout(frame)
    wraps = frame.evaluate(
        """() => [...document.querySelectorAll('.ej-table-wrap')]
             .filter((w) => w.offsetParent !== null)
             .map((w) => [w.querySelector('table').dataset.testid,
                          w.scrollWidth, w.clientWidth])"""
    )
    assert {name for name, _, _ in wraps} >= {
        "jump-table",
        "val-table",
        "compare-summary",
        "compare-boundaries",
    }
    for name, scroll, client in wraps:
        assert scroll <= client, (name, scroll, client)
    for metric in run_data.metrics:
        box = card(frame, RUN, metric)
        headline = box.locator("[data-testid=headline]").bounding_box()
        assert headline["width"] > 0 and headline["x"] + headline["width"] <= 900
        # The jump table's columns that matter, in view without scrolling.
        for field in ("printed", "jump", "lag", "val"):
            cell = box.locator(f'[data-testid=jump-row] [data-field="{field}"]').first
            right = cell.bounding_box()["x"] + cell.bounding_box()["width"]
            assert right <= 900, (metric, field, right)
    assert probe(frame, RUN, "loss")["lrMarks"]
    assert_no_console_errors(page)
