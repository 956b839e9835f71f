"""Broken runs in a shared logdir show their problem in the tab, per run, and
the other runs are drawn as usual (headless Chromium, real TensorBoard)."""

import json
import urllib.request

import pytest
from support.tensorboard_process import serve_tensorboard
from support.tensorboard_process import tensorboard_command

import epochjump
from epochjump import metadata

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


def write_run(path, batches=12):
    with epochjump.Writer(path) as writer:
        for step in range(1, batches + 1):
            if step % 4 == 1:
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": 1.0 / step})
            if step % 4 == 0:
                writer.flush()


@pytest.fixture(scope="module")
def broken_logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    write_run(root / "good")
    write_run(root / "truncated")
    (event_file,) = (root / "truncated").iterdir()
    event_file.write_bytes(event_file.read_bytes()[:-10])
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)  # A future writer.
    write_run(root / "newer")
    monkeypatch.undo()
    opened = epochjump.Writer(root / "opened")
    opened.open()
    opened.close()
    return root


def _listed(base):
    url = base + "/data/plugin/epochjump/runs"
    with urllib.request.urlopen(url, timeout=10) as response:
        return {r["run"] for r in json.loads(response.read())["runs"]}


@pytest.fixture(scope="module")
def broken_url(broken_logdir):
    command = tensorboard_command(broken_logdir)

    def ready(base):
        return _listed(base) >= {"good", "truncated", "newer", "opened"}

    with serve_tensorboard("broken", command, ready) as base:
        yield base


def test_each_broken_run_shows_its_problem(page, broken_url):
    page.goto(broken_url + "/data/plugin_entry.html?name=epochjump")
    frame = page.main_frame
    frame.wait_for_function(
        """() => {
          const s = window.__epochjump;
          return Boolean(s) && ["good", "truncated"].every((run) => s.charts.some(
            (c) => c.run === run && c.nonNull["running mean"] > 0));
        }""",
        timeout=WAIT_MS,
    )

    notices = frame.locator(
        ".ej-notices [data-testid=notice] span:last-child"
    ).all_inner_texts()
    assert any(
        n.startswith("newer: ") and "format version 3" in n and "Upgrade" in n
        for n in notices
    ), notices
    assert any(n.startswith("opened: No epochjump data yet") for n in notices), notices
    truncated = frame.locator(
        '[data-testid=metric-card][data-run="truncated"] [data-testid=notice]'
    )
    assert "incomplete last record" in truncated.inner_text()
    good = frame.locator('[data-testid=metric-card][data-run="good"]')
    assert good.locator("[data-testid=notice]").count() == 0

    marked = {
        item.get_attribute("data-run")
        for item in frame.locator("[data-testid=run-item]").all()
        if item.locator(".ej-problem-mark").count()
    }
    assert marked == {"truncated", "newer", "opened"}
    assert list(page.console_errors) == []
