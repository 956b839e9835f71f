"""The Epoch Jump tab in headless Chromium against a real TensorBoard.

The tab exposes `window.__epochjump` (a read-only snapshot of each chart, for
tests only): series labels, non-null point counts, epoch-line x positions and
the x scale range. Table cells carry the served full-precision numbers in
`data-value`.
"""

import math
import os
import re
import shutil
import time

import pytest
from browser_env import ARTIFACTS
from browser_env import DEMO_RUN
from browser_env import REPO
from browser_env import XSS_METRIC
from browser_env import XSS_RUN
from playwright.sync_api import expect

import epochjump
from epochjump.words import sentences

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = DEMO_RUN
WAIT_MS = 30_000
FIELDS = (
    "reported",
    "level_at_end",
    "first_next",
    "jump",
    "lag",
    "progress",
    "boundary_step",
    "first_batch_noise",
    "noise_sd",
    "mode_gap",
    "val",
)


def open_entry(page, base):
    """Opens the tab the way TensorBoard's iframe does; returns its frame."""
    page.goto(base + "/data/plugin_entry.html?name=epochjump")
    return page.main_frame


def wait_for_charts(frame, run, metrics):
    frame.wait_for_function(
        """([run, metrics]) => {
          const state = window.__epochjump;
          if (!state) return false;
          return metrics.every((m) => state.charts.some((c) =>
            c.run === run && c.metric === m &&
            c.nonNull["running mean"] > 0 && c.epochLines.length > 0));
        }""",
        arg=[run, list(metrics)],
        timeout=WAIT_MS,
    )
    wait_for_stable_layout(frame)


def wait_for_stable_layout(frame, quiet_ms=600):
    """Waits until the cards stop moving: views that arrive later (the run
    comparison above the cards) shift them, and a pointer placed before
    would miss its target."""
    deadline = time.monotonic() + WAIT_MS / 1000
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        layout = frame.evaluate(
            """() => [...document.querySelectorAll('[data-testid=metric-card]')]
                 .map((c) => { const r = c.getBoundingClientRect();
                               return [r.top, r.height, r.width]; })"""
        )
        if layout != last:
            last, since = layout, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return
        time.sleep(0.1)
    raise AssertionError("the tab's layout kept moving")


def probe(frame, run, metric):
    return frame.evaluate(
        """([run, metric]) => window.__epochjump.charts.find(
             (c) => c.run === run && c.metric === metric)""",
        [run, metric],
    )


def wait_probe(frame, run, metric, condition_js):
    """Waits until `condition_js` (an expression of `c`, the chart) holds."""
    frame.wait_for_function(
        f"""([run, metric]) => {{
          const c = window.__epochjump.charts.find(
            (c) => c.run === run && c.metric === metric);
          return Boolean(c && ({condition_js}));
        }}""",
        arg=[run, metric],
        timeout=WAIT_MS,
    )
    return probe(frame, run, metric)


def drag_zoom(page, over, start, end):
    """Drags across a chart's `.u-over` from `start` to `end`, fractions of
    its width, at half height: uPlot's zoom."""
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=8)
    page.mouse.up()


def card(frame, run, metric):
    return frame.locator(
        f'[data-testid=metric-card][data-run="{run}"][data-metric="{metric}"]'
    )


def parse_cell(text):
    """Reads a displayed number back: '−0.0443', '+0.2198', 'NaN', '—'; of a
    cell with its error under it ('0.9312\n± 0.0041'), the value."""
    text = text.strip().splitlines()[0].strip()
    text = text.replace("\u2212", "-").replace("+", "")
    if text in ("—", "NaN"):
        return math.nan
    if text.endswith("∞"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


def same_number(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=1e-12, abs=1e-15)


def shown_as(text, value):
    """True if `text` shows `value` as Keras prints it: 4 decimals (in
    scientific notation at or below 1e-3)."""
    shown = parse_cell(text)
    if not math.isfinite(value) or not math.isfinite(shown):
        return same_number(shown, value)
    first = text.strip().splitlines()[0]
    if abs(value) > 1e-3:
        return re.fullmatch(r"[−+]?\d+\.\d{4}", first) and abs(shown - value) <= 5e-5
    mantissa = re.fullmatch(r"[−+]?\d\.\d{4}e[+-]\d{2}", first)
    return mantissa and abs(shown - value) <= 5e-5 * abs(value) + 1e-300


def assert_no_console_errors(page):
    assert list(page.console_errors) == []


@pytest.fixture(scope="module")
def run_data(logdir):
    return epochjump.read_run(logdir / RUN)


def test_tab_inside_tensorboard(page, tensorboard_url, run_data):
    page.goto(tensorboard_url + "/#epochjump")
    deadline = time.monotonic() + WAIT_MS / 1000
    frame = None
    while frame is None:
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        assert frame is not None or time.monotonic() < deadline, "no plugin iframe"
        page.wait_for_timeout(200)
    wait_for_charts(frame, RUN, run_data.metrics)
    for metric in run_data.metrics:
        assert card(frame, RUN, metric).count() == 1
        assert card(frame, RUN, metric).locator("h3").inner_text() == metric
    # The run filter is a regex; keep the screenshot to the Keras run.
    frame.fill("[data-testid=run-filter]", f"^{RUN}$")
    frame.locator("[data-testid=metric-card]").nth(len(run_data.metrics)).wait_for(
        state="detached", timeout=WAIT_MS
    )
    assert frame.locator("[data-testid=metric-card]").count() == len(run_data.metrics)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "epochjump-tab.png"
    page.screenshot(path=str(shot))
    if os.environ.get("EPOCHJUMP_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "screenshot.png")
    assert_no_console_errors(page)


def test_chart_draws_every_series(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    for metric in run_data.metrics:
        chart = probe(frame, RUN, metric)
        for label in ("running mean", "batch value", "train_eval", "val"):
            assert label in chart["labels"]
            assert chart["nonNull"][label] > 0, (metric, label, chart["nonNull"])
        assert chart["nonNull"]["running mean"] == len(run_data[metric])
        assert chart["nonNull"]["train_eval"] == len(run_data[metric].train_eval)
        # The demo evaluates its training subset in training mode too.
        training_mode = run_data[metric].train_eval_training_mode
        assert len(training_mode) == len(run_data[metric].train_eval)
        assert chart["nonNull"]["train_eval (training mode)"] == len(training_mode)
        assert chart["nonNull"]["val"] == len(run_data[metric].val)
    assert_no_console_errors(page)


def test_epoch_lines_at_epoch_starts(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    expected = [int(s) for s in run_data.epoch_starts]
    assert len(expected) == 3
    for metric in run_data.metrics:
        chart = probe(frame, RUN, metric)
        assert chart["xAxis"] == "step"
        assert chart["epochLines"] == expected
    assert_no_console_errors(page)


def test_table_shows_explain_numbers(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    for metric in run_data.metrics:
        jumps = epochjump.explain(run_data, metric)
        assert len(jumps) == 2
        # The rest of the split shows with "More columns".
        card(frame, RUN, metric).locator("[data-testid=table-details]").click()
        rows = card(frame, RUN, metric).locator("[data-testid=jump-row]")
        assert rows.count() == len(jumps)
        for i, jump in enumerate(jumps):
            row = rows.nth(i)
            assert row.get_attribute("data-epoch") == str(jump.epoch)
            for field in FIELDS:
                cell = row.locator(f'[data-field="{field}"]')
                expected = getattr(jump, field)
                served = float(cell.get_attribute("data-value"))
                assert same_number(served, expected), (metric, field)
                text = cell.inner_text()
                assert shown_as(text, expected), (metric, field, text, expected)
            for field, stderr in (
                ("lag", jump.lag_stderr),
                ("level_at_end", jump.lag_stderr),
                ("boundary_step", jump.boundary_step_stderr),
            ):
                cell = row.locator(f'[data-field="{field}"]')
                assert float(cell.get_attribute("data-stderr")) == stderr
                err = cell.inner_text().splitlines()[1].strip()
                assert err == f"± {stderr:.4f}", (metric, field, err)
        sentence = card(frame, RUN, metric).locator("[data-testid=sentence]")
        # expect() retries: the sentence box follows pointer events.
        rows.nth(1).click()
        expect(sentence).to_contain_text(sentences.boundary_detail(jumps[1]))
        rows.nth(0).hover()
        expect(sentence).to_contain_text(sentences.boundary_detail(jumps[0]))
        frame.locator("h1").hover()
        expect(sentence).to_contain_text(sentences.boundary_detail(jumps[1]))
    assert_no_console_errors(page)


def test_zoom_requests_range_and_reset(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = run_data.metrics[-1]
    full = probe(frame, RUN, metric)
    over = card(frame, RUN, metric).locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    with page.expect_request(
        lambda r: "/series?" in r.url and "start=" in r.url and "end=" in r.url,
        timeout=WAIT_MS,
    ) as request:
        page.mouse.move(box["x"] + box["width"] * 0.3, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
        page.mouse.up()
    match = re.search(r"start=(\d+)&end=(\d+)", request.value.url)
    assert match, request.value.url
    start, end = int(match[1]), int(match[2])
    assert full["xMin"] < start < end < full["xMax"]
    zoomed = wait_probe(
        frame, RUN, metric, f"c.xMin > {full['xMin']} && c.xMax < {full['xMax']}"
    )
    assert start <= zoomed["xMin"] + 1 and zoomed["xMax"] - 1 <= end
    card(frame, RUN, metric).locator("[data-testid=reset-zoom]").click()
    wait_probe(
        frame, RUN, metric, f"c.xMin === {full['xMin']} && c.xMax === {full['xMax']}"
    )
    # Double-click resets too.
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    wait_probe(frame, RUN, metric, f"c.xMax < {full['xMax']}")
    over.dblclick()
    wait_probe(
        frame, RUN, metric, f"c.xMin === {full['xMin']} && c.xMax === {full['xMax']}"
    )
    assert_no_console_errors(page)


def test_tooltip_shows_values_on_hover(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = run_data.metrics[0]
    over = card(frame, RUN, metric).locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
    tooltip = card(frame, RUN, metric).locator("[data-testid=tooltip]")
    tooltip.wait_for(state="visible", timeout=WAIT_MS)
    text = tooltip.inner_text()
    assert re.search(r"step \d+ · epoch [123]", text), text
    assert "running mean" in text and "batch value" in text
    assert re.search(r"\d\.\d{2,}", text), text
    assert_no_console_errors(page)


def test_x_axis_epoch_and_log_scale(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = "loss"
    frame.select_option("[data-testid=x-axis-select]", "epoch")
    chart = wait_probe(frame, RUN, metric, "c.xAxis === 'epoch' && c.epochLines.length")
    assert chart["epochLines"] == [0, 1, 2]
    assert chart["xMax"] == pytest.approx(3.0)
    assert chart["nonNull"]["train_eval"] == 3
    frame.select_option("[data-testid=x-axis-select]", "relative")
    chart = wait_probe(frame, RUN, metric, "c.xAxis === 'relative'")
    assert chart["xMin"] == pytest.approx(0.0, abs=1e-6)
    assert chart["nonNull"]["val"] == 3
    frame.select_option("[data-testid=x-axis-select]", "step")
    wait_probe(frame, RUN, metric, "c.xAxis === 'step'")

    frame.check("[data-testid=log-toggle]")
    chart = wait_probe(frame, RUN, metric, "c.logY")
    assert chart["nonNull"]["running mean"] == len(run_data[metric])
    frame.uncheck("[data-testid=log-toggle]")
    wait_probe(frame, RUN, metric, "!c.logY")
    assert_no_console_errors(page)


def test_html_run_names_render_as_text(page, tensorboard_url):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, XSS_RUN, ["loss", XSS_METRIC])
    names = frame.locator(".ej-run-name").all_inner_texts()
    assert XSS_RUN in names
    titles = frame.locator("[data-testid=metric-card] h3").all_inner_texts()
    assert XSS_METRIC in titles
    assert frame.locator("img[src=x]").count() == 0
    assert frame.locator("svg[onload]").count() == 0
    page.wait_for_timeout(500)
    assert frame.evaluate("typeof window.__xss") == "undefined"
    assert_no_console_errors(page)


def test_empty_state_shows_the_callback(page, empty_tensorboard_url):
    frame = open_entry(page, empty_tensorboard_url)
    empty = frame.locator("[data-testid=empty-state]")
    empty.wait_for(state="visible", timeout=WAIT_MS)
    text = empty.inner_text()
    assert "import epochjump" in text
    assert "epochjump.EpochJumpCallback(" in text
    assert "callbacks=[cb]" in text
    assert "tensorboard --logdir logs" in text
    assert frame.locator("[data-testid=metric-card]").count() == 0
    warning = frame.locator(".ej-notices [data-testid=notice]")
    assert "--samples_per_plugin=epochjump=5" in warning.inner_text()
    assert_no_console_errors(page)


def test_download_links(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = run_data.metrics[-1]
    links = card(frame, RUN, metric)
    csv_url = frame.evaluate(
        "(a) => a.href", links.locator("[data-testid=download-csv]").element_handle()
    )
    assert csv_url == (
        f"{tensorboard_url}/data/plugin/epochjump/download"
        f"?run={RUN}&metric={metric}&format=csv"
    )
    response = page.request.get(csv_url)
    assert response.ok
    assert (
        response.text().splitlines()[0]
        == "step,epoch,wall_time,batch_value,running_mean"
    )
    assert len(response.text().splitlines()) == 1 + len(run_data[metric])
    json_url = frame.evaluate(
        "(a) => a.href", links.locator("[data-testid=download-json]").element_handle()
    )
    assert page.request.get(json_url).json()["metric"] == metric
    assert_no_console_errors(page)


def test_chart_follows_the_width(page, tensorboard_url, run_data):
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    canvas = card(frame, RUN, "loss").locator("canvas")
    wide = canvas.bounding_box()["width"]
    page.set_viewport_size({"width": 700, "height": 900})
    # Wait on this card's own canvas: charts resize one after another.
    selector = f'[data-testid=metric-card][data-run="{RUN}"][data-metric="loss"]'
    frame.wait_for_function(
        """([selector, wide]) => {
          const card = document.querySelector(selector);
          const canvas = card && card.querySelector("canvas");
          if (!canvas) return false;
          const width = canvas.getBoundingClientRect().width;
          return width < wide - 200 &&
            width <= card.getBoundingClientRect().width;
        }""",
        arg=[selector, wide],
        timeout=WAIT_MS,
    )
    card_box = card(frame, RUN, "loss").bounding_box()
    assert canvas.bounding_box()["width"] <= card_box["width"]
    assert_no_console_errors(page)


def test_live_refresh_keeps_zoom(page, tensorboard_url, run_data):
    page.clock.install()
    frame = open_entry(page, tensorboard_url)
    wait_for_charts(frame, RUN, run_data.metrics)
    metric = run_data.metrics[0]
    full = probe(frame, RUN, metric)
    drag_zoom(page, card(frame, RUN, metric).locator(".u-over"), 0.4, 0.7)
    zoomed = wait_probe(frame, RUN, metric, f"c.xMax < {full['xMax']}")
    with page.expect_request(
        lambda r: "/series?" in r.url and f"run={RUN}&metric={metric}&" in r.url,
        timeout=WAIT_MS,
    ) as request:
        page.clock.fast_forward(31_000)
    assert "start=" in request.value.url and "end=" in request.value.url
    request.value.response()
    page.wait_for_timeout(300)
    after = probe(frame, RUN, metric)
    assert (after["xMin"], after["xMax"]) == (zoomed["xMin"], zoomed["xMax"])
    assert_no_console_errors(page)
