"""The HTML report of `epochjump export`, opened from disk in headless Chromium,
offline, with every request but the file itself failing the test.

The logdir is the session's (the demo's Keras run with dropout, batch 16, and
the HTML-named run), copied, plus a Keras run with batch 64 and no dropout,
and a run whose name holds `</script>`.
"""

import re
import shutil

import pytest
from browser_env import ARTIFACTS
from browser_env import DEMO_RUN
from browser_env import XSS_METRIC
from browser_env import XSS_RUN
from test_tab import cell_texts
from test_tab import drag_zoom

import epochjump
from epochjump import answers
from epochjump import cli
from epochjump.analysis import jumps
from epochjump.analysis import validation_gap
from epochjump.words import answer
from epochjump.words import sentences
from epochjump.words import table

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000
BATCH64_RUN = "digits_batch64"
SCRIPT_RUN = "y</script><script>window.__pwned=1</script>"


def fit_batch64(run_dir):
    """The demo's data and model without dropout, in batches of 64."""
    import keras
    import numpy as np
    from sklearn.datasets import load_digits
    from support.keras_fits import dense_model

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    model = dense_model(hidden_units=128, optimizer=keras.optimizers.Adam(1e-3))
    model.fit(
        x[:1400],
        y[:1400],
        batch_size=64,
        epochs=3,
        validation_data=(x[1400:], y[1400:]),
        callbacks=[
            epochjump.EpochJumpCallback(run_dir, train_eval_data=(x[:512], y[:512]))
        ],
        verbose=0,
    )


@pytest.fixture(scope="module")
def report_logdir(logdir, tmp_path_factory):
    root = tmp_path_factory.mktemp("report_logs") / "logs"
    shutil.copytree(logdir, root)
    fit_batch64(root / BATCH64_RUN)
    with epochjump.Writer(root.joinpath(*SCRIPT_RUN.split("/"))) as writer:
        for step in range(1, 9):
            if step in (1, 5):
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": 1.0 / step})
    return root


@pytest.fixture(scope="module")
def report(report_logdir, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["export", str(report_logdir), "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def runs(report_logdir):
    return {
        name: epochjump.read_run(report_logdir / name)
        for name in (DEMO_RUN, BATCH64_RUN)
    }


@pytest.fixture
def offline_page(browser, report):
    """A page that can reach nothing: offline, and every request but the
    report file itself is recorded and aborted."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    context.set_offline(True)
    url = report.as_uri()
    other_requests = []

    def refuse(route):
        if route.request.url == url:
            route.continue_()
        else:
            other_requests.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    errors = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    yield page
    assert other_requests == []
    assert requests == [url], requests
    assert errors == []
    context.close()


def wait_for_charts(page, expected):
    """Waits until every (run, metric) chart has drawn all its batches."""
    page.wait_for_function(
        """(expected) => {
          const state = window.__epochjump;
          return Boolean(state) && expected.every(([run, metric, n]) =>
            state.charts.some((c) => c.run === run && c.metric === metric &&
              c.nonNull["running mean"] === n && c.epochLines.length > 0));
        }""",
        arg=expected,
        timeout=WAIT_MS,
    )


def probe(page, run, metric):
    return page.evaluate(
        "([run, metric]) => window.__epochjump.charts.find("
        "(c) => c.run === run && c.metric === metric)",
        [run, metric],
    )


def card(page, run, metric):
    return page.locator(
        f'[data-testid=metric-card][data-run="{css(run)}"][data-metric="{css(metric)}"]'
    )


def css(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def value_of(cell):
    return float(cell.get_attribute("data-value"))


def same(a, b):
    return a == pytest.approx(b, rel=1e-12, abs=1e-15) or (a != a and b != b)


def test_report_draws_every_chart_offline(offline_page, runs):
    page = offline_page
    expected = [
        [name, metric, len(run[metric])]
        for name, run in runs.items()
        for metric in run.metrics
    ]
    expected.append([XSS_RUN, XSS_METRIC, 16])
    expected.append([SCRIPT_RUN, "loss", 8])
    wait_for_charts(page, expected)
    for name, run in runs.items():
        for metric in run.metrics:
            chart = probe(page, name, metric)
            assert chart["epochLines"] == [int(s) for s in run.epoch_starts]
            assert chart["nonNull"]["train_eval"] == len(run[metric].train_eval)
            assert chart["nonNull"]["train_eval (training mode)"] == len(
                run[metric].train_eval_training_mode
            )
            assert chart["nonNull"]["val"] == len(run[metric].val)
            explanation = jumps.explained(run, metric)
            assert chart["brackets"] == len(explanation.jumps)
            # The model's level: a box at each epoch's end and after each boundary.
            assert sorted(level["step"] for level in chart["levels"]) == sorted(
                [end.last_step for end in explanation.epoch_ends]
                + [jump.first_next_step for jump in explanation.jumps]
            )
            rows = card(page, name, metric).locator(
                "[data-testid=jump-row], [data-testid=epoch-row]"
            )
            assert rows.count() == len(explanation.epoch_ends)
            for row, text in zip(rows.all(), table.rows_text(explanation)):
                assert cell_texts(row) == text, name
    # A report: no download links, no server to ask.
    assert page.locator("[data-testid=download-csv]").count() == 0
    assert "A report exported by epochjump" in page.locator(".ej-notices").inner_text()
    # Names that are HTML, or end a script, stay text.
    assert page.locator(f'[data-testid=run-item][data-run="{css(SCRIPT_RUN)}"]').count()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("typeof window.__xss") == "undefined"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "epochjump-report.png"), full_page=True)


def test_report_compares_runs_side_by_side(offline_page, runs):
    page = offline_page
    section = page.locator("[data-testid=compare]")
    section.wait_for(state="visible", timeout=WAIT_MS)
    block = section.locator('[data-testid=compare-metric][data-metric="accuracy"]')
    answer = answers.compare_answer([runs[DEMO_RUN], runs[BATCH64_RUN]], "accuracy")
    for entry, name in zip(answer["runs"], (DEMO_RUN, BATCH64_RUN)):
        row = block.locator(f'[data-testid=compare-run][data-run="{name}"]')
        for field in ("mean_jump", "lag_share", "mean_progress", "mean_mode_gap"):
            cell = row.locator(f'[data-field="{field}"]')
            assert same(value_of(cell), entry["summary"][field]), (name, field)
        for boundary in entry["boundaries"]:
            row = block.locator(
                f'[data-testid=compare-row][data-run="{name}"]'
                f'[data-epoch="{boundary["epoch"]}"]'
            )
            assert row.locator("[data-testid=jump-bar]").count() == 1
            for field in ("jump", "lag", "lag_share", "progress", "mode_gap"):
                cell = row.locator(f'[data-field="{field}"]')
                assert same(value_of(cell), boundary[field]), (name, field)
    # Dropout: a bigger mode gap than the run without it.
    dropout, plain = (e["summary"]["mean_mode_gap"] for e in answer["runs"])
    assert dropout > plain
    # Loss is shared by all four runs.
    loss_rows = section.locator(
        '[data-testid=compare-metric][data-metric="loss"] [data-testid=compare-run]'
    )
    assert loss_rows.count() == 4


def test_report_explains_why_validation_beats_training(offline_page, runs):
    page = offline_page
    run = runs[DEMO_RUN]
    gaps = [g for g in validation_gap.validation_gaps(run, "accuracy") if g.val_better]
    assert gaps, "dropout makes validation beat the running mean in the demo"
    note = card(page, DEMO_RUN, "accuracy").locator("[data-testid=val-note]")
    note.wait_for(state="visible", timeout=WAIT_MS)
    rows = note.locator("[data-testid=val-row]")
    assert rows.count() == len(gaps)
    for i, gap in enumerate(gaps):
        assert rows.nth(i).get_attribute("data-epoch") == str(gap.epoch)
        for field in ("val_gap", "lag", "mode_gap", "generalisation_gap"):
            cell = rows.nth(i).locator(f'[data-field="{field}"]')
            assert same(value_of(cell), getattr(gap, field)), field
    rows.nth(0).hover()
    sentence = note.locator("[data-testid=val-sentence]")
    assert sentence.inner_text() == sentences.validation_sentence(gaps[0])


def test_report_zooms_on_embedded_data(offline_page, runs):
    page = offline_page
    metric = "accuracy"
    n = len(runs[DEMO_RUN][metric])
    wait_for_charts(page, [[DEMO_RUN, metric, n]])
    full = probe(page, DEMO_RUN, metric)
    drag_zoom(page, card(page, DEMO_RUN, metric).locator(".u-over"), 0.3, 0.6)
    page.wait_for_function(
        """([run, metric, max, n]) => {
          const c = window.__epochjump.charts.find(
            (c) => c.run === run && c.metric === metric);
          return c.xMax < max && c.nonNull["running mean"] < n &&
            c.nonNull["running mean"] > 0;
        }""",
        arg=[DEMO_RUN, metric, full["xMax"], n],
        timeout=WAIT_MS,
    )
    # Every evaluation is cut to the zoom's steps, as the server's range cuts
    # it (the training-mode one too), counted here from the run itself.
    chip = card(page, DEMO_RUN, metric).locator(".ej-chip-accent")
    start, end = map(int, re.findall(r"\d+", chip.inner_text()))
    series = runs[DEMO_RUN][metric]
    for label, evals in (
        ("train_eval", series.train_eval),
        ("train_eval (training mode)", series.train_eval_training_mode),
        ("val", series.val),
    ):
        inside = int(((evals.step >= start) & (evals.step <= end)).sum())
        assert 0 < inside < len(evals), (label, start, end)
        assert probe(page, DEMO_RUN, metric)["nonNull"][label] == inside, label
    card(page, DEMO_RUN, metric).locator("[data-testid=reset-zoom]").click()
    page.wait_for_function(
        """([run, metric, min, max, n]) => {
          const c = window.__epochjump.charts.find(
            (c) => c.run === run && c.metric === metric);
          return c.xMin === min && c.xMax === max && c.nonNull["running mean"] === n;
        }""",
        arg=[DEMO_RUN, metric, full["xMin"], full["xMax"], n],
        timeout=WAIT_MS,
    )


def test_report_marks_learning_rates_and_says_the_same_words(offline_page, runs):
    page = offline_page
    demo_run = runs[DEMO_RUN]
    wait_for_charts(page, [[DEMO_RUN, m, len(demo_run[m])] for m in demo_run.metrics])
    change = int(demo_run.epoch_starts[1])  # The demo halves its rate there.
    for metric in demo_run.metrics:
        assert probe(page, DEMO_RUN, metric)["lrMarks"] == [change]
        shown = card(page, DEMO_RUN, metric)
        lines = shown.locator("[data-testid=answer-line]").all_inner_texts()
        assert lines == answer.answer_lines(jumps.explained(demo_run, metric))
    text = page.evaluate("() => document.body.innerText")
    assert re.search(r"\d%", text)
    bad = [
        m
        for m in re.finditer(r"(−|-)?(\d+(?:\.\d+)?)\s*%", text)
        if m.group(1) or not 0 <= float(m.group(2)) <= 100
    ]
    assert not bad, [text[max(0, m.start() - 80) : m.end()] for m in bad]
