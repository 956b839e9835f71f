"""The model's level ± stderr at each epoch edge on the tab's chart (a box at
each epoch's end and just after each boundary), the legend and the tooltip
that name it, and the first screen at 1400×900: the answer and the chart
without scrolling (a real TensorBoard on the demo's Keras run, headless
Chromium).

Where the boxes should be is computed here from the run's batches
(`epochjump.explain`, `epoch_ends`) and the chart's scales, and checked on the
canvas's own pixels.
"""

import pytest
from browser_env import DEMO_RUN
from browser_env import open_in_tensorboard
from playwright.sync_api import expect
from test_tab import WAIT_MS
from test_tab import assert_no_console_errors
from test_tab import card
from test_tab import open_entry
from test_tab import probe
from test_tab import wait_for_charts
from test_tab import wait_for_stable_layout
from test_tab import wait_probe

import epochjump
from epochjump.analysis import jumps as jumps_lib

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = DEMO_RUN
LABEL = "model level ± stderr"
# Written out (constants.json: `chart_colors.light.level`, `chart_px.level_box`).
LEVEL_RGB = (0x2E, 0x7D, 0x32)
BOX_WIDTH = 22
SCREEN = {"width": 1400, "height": 900}

# One column of the chart's canvas, from CSS px y0 to y1 of the plot area, as
# [[y, r, g, b], ...]: what is painted, whatever the tab believes it drew.
CANVAS_COLUMN = """([selector, x, y0, y1]) => {
  const card = document.querySelector(selector);
  const canvas = card.querySelector(".u-wrap canvas");
  const over = card.querySelector(".u-over");
  const c = canvas.getBoundingClientRect();
  const o = over.getBoundingClientRect();
  const ratio = canvas.width / c.width;
  const px = Math.round((o.left - c.left + x) * ratio);
  const top = Math.round((o.top - c.top + y0) * ratio);
  const bottom = Math.round((o.top - c.top + y1) * ratio);
  const data = canvas.getContext("2d").getImageData(px, top, 1, bottom - top + 1).data;
  const rows = [];
  for (let i = 0; i < data.length; i += 4) {
    const y = (top + i / 4) / ratio - (o.top - c.top);
    rows.push([y, data[i], data[i + 1], data[i + 2]]);
  }
  return rows;
}"""


@pytest.fixture(scope="module")
def run_data(logdir):
    return epochjump.read_run(logdir / RUN)


def expected_levels(run, metric):
    """Every box the chart should draw, from the run's batches: (side, step,
    level, stderr), at each epoch's last batch and each next epoch's first."""
    ends = [
        ("end", e.last_step, e.level_at_end, e.lag_stderr)
        for e in jumps_lib.epoch_ends(run, metric)
    ]
    afters = [
        ("after", j.first_next_step, j.level_after, j.level_after_stderr)
        for j in epochjump.explain(run, metric)
    ]
    return sorted(ends + afters, key=lambda level: level[1])


def to_pixels(chart, over, step, value):
    """CSS px in the plot area of (step, value), on the chart's linear scales."""
    x = (step - chart["xMin"]) / (chart["xMax"] - chart["xMin"]) * over["width"]
    y = (chart["yMax"] - value) / (chart["yMax"] - chart["yMin"]) * over["height"]
    return x, y


def selector(metric):
    return f'[data-testid=metric-card][data-run="{RUN}"][data-metric="{metric}"]'


def served_text(page, base, metric, side):
    """The `jumps` answer's text for the first epoch's end or the level just
    after the first boundary."""
    answer = page.request.get(
        f"{base}/data/plugin/epochjump/jumps", params={"run": RUN, "metric": metric}
    ).json()
    if side == "end":
        return answer["epoch_ends"][0]["text"]["level_at_end"]
    return answer["boundaries"][0]["level_after_text"]


def test_level_boxes_at_each_epoch_edge(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    for metric in run_data.metrics:
        expected = expected_levels(run_data, metric)
        assert len(expected) == 5  # 3 epoch ends, 2 boundaries
        chart = wait_probe(frame, RUN, metric, f"c.levels.length === {len(expected)}")
        over = card(frame, RUN, metric).locator(".u-over").bounding_box()
        drawn = sorted(chart["levels"], key=lambda level: level["step"])
        for (side, step, level, stderr), box in zip(expected, drawn):
            assert (box["side"], box["step"]) == (side, step)
            x, y = to_pixels(chart, over, step, level)
            _, top = to_pixels(chart, over, step, level + stderr)
            _, bottom = to_pixels(chart, over, step, level - stderr)
            assert bottom - top > 1, (metric, step, "the ± must show")
            left, right = (x - BOX_WIDTH, x) if side == "end" else (x, x + BOX_WIDTH)
            for key, want in (
                ("left", left),
                ("right", right),
                ("y", y),
                ("top", top),
                ("bottom", bottom),
            ):
                assert box[key] == pytest.approx(want, abs=0.5), (metric, step, key)
            # On the canvas: the level's line, in the level's colour, at y
            # (a column away from the boundary's bracket and markers).
            column = x - 0.75 * BOX_WIDTH if side == "end" else x + 0.75 * BOX_WIDTH
            pixels = frame.evaluate(
                CANVAS_COLUMN, [selector(metric), column, y - 4, y + 4]
            )
            solid = [
                row[0]
                for row in pixels
                if all(abs(a - b) <= 1 for a, b in zip(row[1:], LEVEL_RGB))
            ]
            # Rows of pixels in the level's colour, centred within 1.5 px of y.
            assert solid and all(abs(row + 0.5 - y) <= 1.5 for row in solid), (
                metric,
                step,
                y,
                pixels,
            )
    assert_no_console_errors(page)


def test_legend_and_tooltip_name_the_level(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = "accuracy"
    box = card(frame, RUN, metric)
    # The chart's legend has the level's entry, in its colour; the line
    # under it says what the boxes are.
    entry = box.locator(".u-legend .u-series", has_text=LABEL)
    assert entry.count() == 1
    marker = entry.locator(".u-marker")
    assert marker.evaluate("(m) => getComputedStyle(m).borderTopColor") == (
        "rgb({}, {}, {})".format(*LEVEL_RGB)
    )
    legend = box.locator("[data-testid=legend-line]").inner_text()
    assert "green box: the model's level ± one standard error" in legend
    chart = wait_probe(frame, RUN, metric, "c.levels.length === 5")
    over_locator = box.locator(".u-over")
    over_locator.scroll_into_view_if_needed()
    over = over_locator.bounding_box()
    tooltip = box.locator("[data-testid=tooltip-level]")
    ends = jumps_lib.epoch_ends(run_data, metric)
    found = epochjump.explain(run_data, metric)
    for side, step, level, stderr, name in (
        ("end", ends[0].last_step, ends[0].level_at_end, ends[0].lag_stderr, "end"),
        (
            "after",
            found[0].first_next_step,
            found[0].level_after,
            found[0].level_after_stderr,
            "start",
        ),
    ):
        text = served_text(page, tensorboard_url, metric, side)
        assert text == f"{level:.4f} ± {stderr:.4f}"
        x, y = to_pixels(chart, over, step, level)
        middle = x - BOX_WIDTH / 2 if side == "end" else x + BOX_WIDTH / 2
        page.mouse.move(over["x"] + middle, over["y"] + y)
        epoch = 1 if side == "end" else 2
        # expect() retries: the tooltip follows the pointer.
        expect(tooltip.locator("span").nth(1)).to_have_text(
            f"{LABEL}, {name} of epoch {epoch}"
        )
        assert tooltip.count() == 1
        assert tooltip.locator("span").nth(2).inner_text() == text
    # Away from the boxes, the tooltip names no level.
    page.mouse.move(over["x"] + over["width"] * 0.3, over["y"] + over["height"] / 2)
    box.locator("[data-testid=tooltip]").wait_for(state="visible", timeout=WAIT_MS)
    expect(tooltip).to_have_count(0)
    # Off in the legend, off on the chart and in the tooltip.
    entry.click()
    wait_probe(frame, RUN, metric, "c.levels.length === 0")
    assert_no_console_errors(page)


def first_screen_boxes(frame, metric_card):
    """The card's answer (at most 3 lines), chart and legend, each inside the
    first screen."""
    wait_for_stable_layout(frame)
    assert 1 <= metric_card.locator("[data-testid=answer-line]").count() <= 3
    for part in ("[data-testid=headline]", ".u-wrap", ".u-legend"):
        found = metric_card.locator(part).bounding_box()
        assert found["y"] >= 0 and found["y"] + found["height"] <= SCREEN["height"], (
            part
        )
        assert found["x"] >= 0 and found["x"] + found["width"] <= SCREEN["width"], part


def test_first_screen_shows_the_answer_and_the_chart(page, tensorboard_url, run_data):
    page.set_viewport_size(SCREEN)
    # Inside TensorBoard, under its own bar, as a user opens the tab.
    frame = open_in_tensorboard(page, tensorboard_url, WAIT_MS)
    wait_for_charts(frame, RUN, run_data.metrics)
    # Every run selected (the comparison, closed, sits above the cards).
    frame.locator("[data-testid=compare]").wait_for(state="visible", timeout=WAIT_MS)
    first_screen_boxes(frame, frame.locator("[data-testid=metric-card]").first)
    # The demo run alone.
    frame.fill("[data-testid=run-filter]", f"^{RUN}$")
    frame.locator("[data-testid=compare]").wait_for(state="hidden", timeout=WAIT_MS)
    first = frame.locator("[data-testid=metric-card]").first
    assert first.get_attribute("data-run") == RUN
    first_screen_boxes(frame, first)
    assert probe(frame, RUN, first.get_attribute("data-metric"))["levels"]
    assert_no_console_errors(page)
