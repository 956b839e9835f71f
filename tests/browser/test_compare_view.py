"""The tab's comparison of runs and its "why is validation better" note, in
headless Chromium against a real TensorBoard (both ingesters).

The session logdir holds the demo's Keras run and the HTML-named run; both
record `loss`, so the tab compares them.
"""

import pytest
from browser_env import DEMO_RUN
from browser_env import XSS_RUN

import epochjump
from epochjump import answers
from epochjump.analysis import validation_gap
from epochjump.words import sentences

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


def open_entry(page, base):
    page.goto(base + "/data/plugin_entry.html?name=epochjump")
    return page.main_frame


def same(a, b):
    return a == pytest.approx(b, rel=1e-12, abs=1e-15) or (a != a and b != b)


def value_of(cell):
    return float(cell.get_attribute("data-value"))


def test_two_runs_side_by_side(page, tensorboard_url, logdir):
    runs = [epochjump.read_run(logdir / DEMO_RUN), epochjump.read_run(logdir / XSS_RUN)]
    with page.expect_request(
        lambda r: "/compare?" in r.url and "metric=loss" in r.url, timeout=WAIT_MS
    ) as request:
        frame = open_entry(page, tensorboard_url)
    assert request.value.url.count("&run=") == 2
    section = frame.locator("[data-testid=compare]")
    section.wait_for(state="visible", timeout=WAIT_MS)
    # Only loss is shared; accuracy is the demo run's alone.
    blocks = section.locator("[data-testid=compare-metric]")
    assert blocks.count() == 1
    assert blocks.first.get_attribute("data-metric") == "loss"
    answer = answers.compare_answer(runs, "loss")
    names = (DEMO_RUN, XSS_RUN)
    for entry, name in zip(answer["runs"], names):
        selector = f'[data-testid=compare-run][data-run="{name}"]'
        row = blocks.first.locator(selector)
        for field in ("mean_jump", "lag_share", "mean_progress", "mean_mode_gap"):
            cell = row.locator(f'[data-field="{field}"]')
            assert same(value_of(cell), entry["summary"][field]), (name, field)
        for boundary in entry["boundaries"]:
            row = blocks.first.locator(
                f'[data-testid=compare-row][data-run="{name}"]'
                f'[data-epoch="{boundary["epoch"]}"]'
            )
            for field in ("jump", "lag", "lag_share", "progress", "mode_gap"):
                cell = row.locator(f'[data-field="{field}"]')
                assert same(value_of(cell), boundary[field]), (name, field)
    # The HTML-named run's name is text, not markup.
    assert blocks.first.locator("img[src=x]").count() == 0
    # One run left: nothing to compare.
    frame.fill("[data-testid=run-filter]", f"^{DEMO_RUN}$")
    section.wait_for(state="hidden", timeout=WAIT_MS)
    assert list(page.console_errors) == []


def test_why_validation_beats_training(page, tensorboard_url, logdir):
    run = epochjump.read_run(logdir / DEMO_RUN)
    frame = open_entry(page, tensorboard_url)
    for metric in run.metrics:
        gaps = [g for g in validation_gap.validation_gaps(run, metric) if g.val_better]
        card = frame.locator(
            f'[data-testid=metric-card][data-run="{DEMO_RUN}"][data-metric="{metric}"]'
        )
        note = card.locator("[data-testid=val-note]")
        if not gaps:
            note.wait_for(state="hidden", timeout=WAIT_MS)
            continue
        note.wait_for(state="visible", timeout=WAIT_MS)
        rows = note.locator("[data-testid=val-row]")
        assert [rows.nth(i).get_attribute("data-epoch") for i in range(len(gaps))] == [
            str(g.epoch) for g in gaps
        ]
        for i, gap in enumerate(gaps):
            for field in ("reported", "val", "val_gap", "lag", "mode_gap"):
                cell = rows.nth(i).locator(f'[data-field="{field}"]')
                assert same(value_of(cell), getattr(gap, field)), (metric, field)
        # The jump table marks val where it beats what Keras printed.
        marked = card.locator("[data-testid=jump-row] .ej-val-better")
        boundaries = {j.epoch for j in epochjump.explain(run, metric)}
        assert marked.count() == len({g.epoch for g in gaps} & boundaries)
        rows.nth(len(gaps) - 1).click()
        sentence = note.locator("[data-testid=val-sentence]")
        assert sentence.inner_text() == sentences.validation_sentence(gaps[-1])
    assert list(page.console_errors) == []
