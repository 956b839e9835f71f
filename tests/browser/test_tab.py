"""The Epoch Jump tab in headless Chromium against a real TensorBoard.

The tab exposes `window.__epochjump` (a read-only snapshot of each chart, for
tests only): series labels, non-null point counts, epoch-line x positions and
the x scale range. Table cells carry their column's key in `data-field`.
"""

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
from browser_env import open_in_tensorboard
from playwright.sync_api import expect

import epochjump
from epochjump.analysis import jumps
from epochjump.words import sentences
from epochjump.words import table

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = DEMO_RUN
WAIT_MS = 30_000
# Under the table while no row is picked.
HINT = "Click a row for what happened at that boundary, in words."


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


def open_comparison(frame):
    """Opens the runs' comparison (closed until asked for); returns it."""
    section = frame.locator("[data-testid=compare]")
    section.wait_for(state="visible", timeout=WAIT_MS)
    if section.get_attribute("open") is None:
        section.locator(":scope > summary").click()
    return section


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


def assert_no_console_errors(page):
    assert list(page.console_errors) == []


@pytest.fixture(scope="module")
def run_data(logdir):
    return epochjump.read_run(logdir / RUN)


def open_charts(page, base, run_data):
    """Opens the tab (`open_entry`) and waits for the charts of `run_data`."""
    frame = open_entry(page, base)
    wait_for_charts(frame, RUN, run_data.metrics)
    return frame


def test_tab_inside_tensorboard(page, tensorboard_url, run_data):
    frame = open_in_tensorboard(page, tensorboard_url, WAIT_MS)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
    expected = [int(s) for s in run_data.epoch_starts]
    assert len(expected) == 3
    for metric in run_data.metrics:
        chart = probe(frame, RUN, metric)
        assert chart["xAxis"] == "step"
        assert chart["epochLines"] == expected
    assert_no_console_errors(page)


def cell_texts(row):
    """A table row's cells as shown, by column key; an error stacked under
    its value ("0.6869\n± 0.0329") read back as one line."""
    cells = row.locator("td")
    return {
        cells.nth(i).get_attribute("data-field"): " ".join(
            cells.nth(i).inner_text().split()
        )
        for i in range(cells.count())
    }


def test_table_shows_the_served_cells(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
    for metric in run_data.metrics:
        explanation = jumps.explained(run_data, metric)
        found, ends = explanation.jumps, explanation.epoch_ends
        assert len(found) == 2 and len(ends) == 3
        box = card(frame, RUN, metric)
        headers = box.locator("[data-testid=jump-table] th")
        assert headers.all_inner_texts() == [c.label for c in table.COLUMNS]
        # The rest of the split shows with "More columns".
        more = box.locator("th.ej-detail")
        assert more.all_inner_texts() == [c.label for c in table.COLUMNS if c.more]
        assert not any(h.is_visible() for h in more.all())
        box.locator("[data-testid=table-details]").click()
        assert all(h.is_visible() for h in more.all())
        rows = box.locator("[data-testid=jump-row], [data-testid=epoch-row]")
        assert rows.count() == len(ends)
        for row, end, text in zip(rows.all(), ends, table.rows_text(explanation)):
            assert row.get_attribute("data-epoch") == str(end.epoch)
            assert cell_texts(row) == text
        # Those strings, checked here against the run's numbers as Keras prints them.
        for row, jump in zip(rows.all(), found):
            shown = cell_texts(row)
            assert shown["printed"] == f"{jump.reported:.4f}"
            assert shown["level_at_end"] == (
                f"{jump.level_at_end:.4f} ± {jump.lag_stderr:.4f}"
            )
            assert shown["jump"] == f"{jump.jump:+.4f}"
            assert shown["lag"] == f"{jump.lag:+.4f} ± {jump.lag_stderr:.4f}"
            assert shown["step"] == (
                f"{jump.boundary_step:+.4f} ± {jump.boundary_step_stderr:.4f}"
            )
        assert rows.last.get_attribute("data-testid") == "epoch-row"
        assert cell_texts(rows.last)["jump"] == "-"
    assert_no_console_errors(page)


def assert_shows_only(sentence, words, i):
    """The words box shows the words of boundary `i` and of no other."""
    expect(sentence).to_contain_text(words[i])  # retries: words follow clicks
    shown = sentence.inner_text()
    assert all(w not in shown for k, w in enumerate(words) if k != i)


def test_boundary_words_only_for_the_selected_row(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
    for metric in run_data.metrics:
        found = epochjump.explain(run_data, metric)
        box = card(frame, RUN, metric)
        rows = box.locator("[data-testid=jump-row]")
        sentence = box.locator("[data-testid=sentence]")
        words = [sentences.boundary_detail(j) for j in found]
        # No row picked yet: a hint, no boundary's words anywhere on the card.
        expect(sentence).to_have_text(HINT)
        assert all(w not in box.inner_text() for w in words)
        rows.nth(1).click()
        assert_shows_only(sentence, words, 1)
        assert rows.nth(1).get_attribute("aria-selected") == "true"
        # Pointing at another row does not swap the words.
        rows.nth(0).hover()
        page.wait_for_timeout(200)
        assert_shows_only(sentence, words, 1)
        rows.nth(0).click()
        assert_shows_only(sentence, words, 0)
        # A second click on the picked row puts it back.
        rows.nth(0).click()
        expect(sentence).to_have_text(HINT)
        assert rows.nth(0).get_attribute("aria-selected") == "false"
    assert_no_console_errors(page)


def test_zoom_requests_range_and_reset(page, tensorboard_url, run_data):
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
    frame = open_charts(page, tensorboard_url, run_data)
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
