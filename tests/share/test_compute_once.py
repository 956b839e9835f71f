"""Each estimate is computed once per request: an export, an `explain`, a route.

Counters wrap `jumps.epoch_ends` and `levels.level_at_end` (monkeypatched),
so a second decomposition of the same metric anywhere on the way fails.
"""

import pytest
from support import plugin_client

import epochjump
from epochjump import cli
from epochjump.analysis import jumps
from epochjump.analysis import levels
from epochjump.share import export
from epochjump.share import html_report

EPOCHS = 3
BATCHES = 10


@pytest.fixture
def logdir(tmp_path):
    """One run of one metric, 3 epochs of 10 batches, with val."""
    with epochjump.Writer(tmp_path / "logs" / "run") as writer:
        for epoch in range(EPOCHS):
            first = epoch * BATCHES + 1
            writer.start_epoch(first, epoch=epoch)
            for step in range(first, first + BATCHES):
                writer.log_batch(step, {"loss": 1.0 / step + 0.01 * (step % 3)})
            writer.log_eval("val", epoch, {"loss": 0.5 - 0.1 * epoch})
    return tmp_path / "logs"


@pytest.fixture
def calls(monkeypatch):
    counts = {"epoch_ends": 0, "level_at_end": 0}

    def counted(name, module):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted("epoch_ends", jumps)
    counted("level_at_end", levels)
    return counts


def test_html_export_decomposes_each_metric_once(logdir, tmp_path, calls, monkeypatch):
    monkeypatch.setattr(html_report, "read_bundle", lambda: "/* the tab */")
    export.export(logdir, tmp_path / "report.html")
    # One run, one metric: one decomposition for its jumps and the comparison.
    assert calls == {"epoch_ends": 1, "level_at_end": EPOCHS}


def test_explain_decomposes_each_metric_once(logdir, calls, capsys):
    assert cli.main(["explain", str(logdir / "run"), "--detail"]) == 0
    assert capsys.readouterr().out.startswith("loss ")
    assert calls == {"epoch_ends": 1, "level_at_end": EPOCHS}


@pytest.mark.parametrize(
    "route", ["jumps?run=run&metric=loss", "compare?metric=loss&run=run"]
)
def test_a_route_decomposes_its_metric_once(logdir, calls, route):
    _, provider = plugin_client.local_provider(logdir)
    plugin = plugin_client.load_plugin(provider, logdir)
    client = plugin_client.client_for(plugin, provider)
    response = client.get(f"{plugin_client.PREFIX}/{route}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert calls == {"epoch_ends": 1, "level_at_end": EPOCHS}
