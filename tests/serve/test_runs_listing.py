"""The `runs` answer reads no batch values, is exact, and experiment IDs share
what the plugin read; on both ingesters."""

import argparse
import json
import time

import numpy as np
import pytest
from support import plugin_client
from support.written_runs import write_chunked_run
from support.written_runs import write_foreign
from support.written_runs import write_malformed_run
from support.written_runs import write_versions
from tensorboard import context as tb_context
from tensorboard.data import server_ingester
from tensorboard.util import grpc_util

import epochjump
from epochjump import metadata
from epochjump.read import provider as provider_io
from epochjump.serve.loader import EpochJumpLoader

PREFIX = "/data/plugin/epochjump"
T0 = 1_750_000_000.0
BATCH_DATA_KINDS = (metadata.BATCH_TIMES,) + metadata.METRIC_BATCH_KINDS


def write_runs(root):
    """Writes runs of known shape; returns each run's `runs` entry, computed
    from what was written (not by the reader)."""
    with epochjump.Writer(root / "plain") as writer:  # 3 epochs of 7 batches
        for epoch in range(3):
            steps = np.arange(7 * epoch + 1, 7 * epoch + 8)
            writer.start_epoch(int(steps[0]))
            values = {"loss": 1.0 / steps, "accuracy": steps / 30.0}
            writer.log_batches(steps, values, values, wall_times=T0 + steps)
            writer.flush()
            writer.log_eval("val", int(steps[-1]), {"loss": 0.5, "accuracy": 0.7})
            writer.log_eval("train_eval", int(steps[-1]), {"loss": 0.4})
    with epochjump.Writer(root / "sparse") as writer:  # every 4th batch
        for first, last in ((1, 20), (21, 40)):
            writer.start_epoch(first)
            steps = np.arange(first + 3, last + 1, 4)
            writer.log_batches(steps, {"mae": steps * 0.1}, {"mae": steps * 0.1})
            writer.flush()
    writer = epochjump.Writer(root / "resumed")
    writer.start_epoch(1)
    steps = np.arange(1, 16)  # Epoch 1: 1-10, then 11-15 of epoch 2...
    writer.log_batches(steps, {"loss": steps * 1.0}, {"loss": steps * 1.0})
    writer.start_epoch(11)
    writer.flush()
    writer.close()
    time.sleep(0.05)
    # ... resumed from the checkpoint at step 10: epoch 2 again, 11-20.
    with epochjump.Writer(root / "resumed") as writer:
        writer.start_epoch(11)
        steps = np.arange(11, 21)
        writer.log_batches(steps, {"loss": -steps * 1.0}, {"loss": -steps * 1.0})
    with epochjump.Writer(root / "evals only") as writer:
        writer.log_eval("val", 10, {"loss": 0.25})
    entry = {"has_train_eval": False, "has_val": False, "resolution": "batch"}
    return {
        "plain": {
            **entry,
            "run": "plain",
            "metrics": ["loss", "accuracy"],
            "epochs": 3,
            "batches": 21,
            "has_train_eval": True,
            "has_val": True,
            "problems": [],
        },
        "sparse": {
            **entry,
            "run": "sparse",
            "metrics": ["mae"],
            "epochs": 2,
            "batches": 10,
            "resolution": "chunks of up to 4 batches",
            "problems": [],
        },
        "resumed": {
            **entry,
            "run": "resumed",
            "metrics": ["loss"],
            "epochs": 2,
            "batches": 20,
            "problems": [],
        },
        "evals only": {
            **entry,
            "run": "evals only",
            "metrics": ["loss"],
            "epochs": 0,
            "batches": 0,
            "has_val": True,
            "problems": [
                "No batches recorded, only evaluations (val, train_eval): there "
                "is no epoch boundary to explain"
            ],
        },
    }


class Recording:
    """A data provider that records every `read_tensors` request."""

    def __init__(self, provider):
        self._provider = provider
        self.reads = []  # (runs, tags) per request; None for "all"

    def read_tensors(self, ctx, *, run_tag_filter=None, **kwargs):
        self.reads.append((run_tag_filter.runs, run_tag_filter.tags))
        return self._provider.read_tensors(ctx, run_tag_filter=run_tag_filter, **kwargs)

    def __getattr__(self, name):
        return getattr(self._provider, name)


class CountingLoads:
    def __init__(self, monkeypatch):
        self.calls = []
        self._load = provider_io.load_run
        monkeypatch.setattr(provider_io, "load_run", self)

    def __call__(self, provider, ctx, experiment_id, run, **kwargs):
        self.calls.append(run)
        return self._load(provider, ctx, experiment_id, run, **kwargs)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("listing")
    return root, write_runs(root)


@pytest.fixture(scope="module", params=["python", "rust"])
def provider(request, written):
    root, expected = written
    if request.param == "python":
        return plugin_client.local_provider(root)[1]
    try:
        binary = server_ingester.get_server_binary()
    except server_ingester.NoDataServerError as e:
        pytest.fail(f"the Rust data server is not installed: {e}")
    flags = argparse.Namespace(samples_per_plugin={})
    EpochJumpLoader().fix_flags(flags)
    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=binary,
        logdir=str(root),
        reload_interval=1,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin=flags.samples_per_plugin,
    )
    ingester.start()  # It exits with this process (--die-after-stdin).
    wait_until_loaded(ingester.data_provider, expected)
    return ingester.data_provider


def wait_until_loaded(provider, expected, timeout=60):
    """Until the data server lists every run with its last step (and then one
    more reload, so every tag of the last chunk is in)."""
    last = {"plain": 21, "sparse": 40, "resumed": 20}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = provider_io.list_runs(provider, tb_context.RequestContext(), "")
        steps = metadata.tag_for(metadata.BATCH_STEPS)
        if set(listing) == set(expected) and all(
            listing[run][steps].max_step == step for run, step in last.items()
        ):
            time.sleep(2.5)
            return
        time.sleep(0.2)
    raise TimeoutError("the data server did not load the runs")


def client(provider, logdir):
    recording = Recording(provider)
    plugin = plugin_client.load_plugin(recording, logdir=logdir)
    return recording, plugin_client.client_for(plugin, recording)


def get_json(client, route, prefix="", **params):
    response = client.get(prefix + PREFIX + route, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def batch_data_read(reads):
    """The requests that could read batch values or times (all tags or named)."""
    batch_tags = {
        metadata.tag_for(kind, metric)
        for kind in BATCH_DATA_KINDS
        for metric in (None, "loss", "accuracy", "mae")
        if (metric is None) == (kind == metadata.BATCH_TIMES)
    }
    return [r for r in reads if r[1] is None or batch_tags & set(r[1])]


def test_runs_reads_no_batch_values_and_is_exact(provider, written, monkeypatch):
    root, expected = written
    loads = CountingLoads(monkeypatch)
    recording, http = client(provider, root)

    answer = get_json(http, "/runs")

    assert answer["runs"] == [expected[run] for run in sorted(expected)]
    assert loads.calls == []
    assert len(recording.reads) == 1  # Every run's outline in one request.
    assert batch_data_read(recording.reads) == []


def test_opened_runs_keep_their_entries(provider, written, monkeypatch):
    root, expected = written
    loads = CountingLoads(monkeypatch)
    recording, http = client(provider, root)
    get_json(http, "/runs")
    del recording.reads[:]

    series = get_json(http, "/series", run="resumed", metric="loss")

    # The first series reads the batch values only: steps came with `runs`.
    assert len(recording.reads) == 1 and loads.calls == ["resumed"]
    assert series["batches"]["step"] == list(range(1, 21))
    assert series["batches"]["batch_value"] == [
        *range(1, 11),
        *(-s for s in range(11, 21)),
    ]
    for run in ("plain", "sparse", "evals only"):
        get_json(http, "/series", run=run, metric=expected[run]["metrics"][0])
    del recording.reads[:]
    answer = get_json(http, "/runs")
    assert answer["runs"] == [expected[run] for run in sorted(expected)]
    assert recording.reads == []


def test_a_new_experiment_id_reads_nothing_again(provider, written, monkeypatch):
    root, expected = written
    loads = CountingLoads(monkeypatch)
    recording, http = client(provider, root)
    first = get_json(http, "/runs")
    series = get_json(http, "/series", run="plain", metric="loss")
    jumps = get_json(http, "/jumps", run="plain", metric="loss")
    del recording.reads[:]

    for experiment in ("/experiment/abc", "/experiment/other-id"):
        assert get_json(http, "/runs", experiment) == first
        assert get_json(http, "/series", experiment, run="plain", metric="loss") == (
            series
        )
        assert get_json(http, "/jumps", experiment, run="plain", metric="loss") == (
            jumps
        )
    assert recording.reads == [] and loads.calls == ["plain"]


def test_a_run_that_grew_is_read_again_under_any_experiment(tmp_path, monkeypatch):
    writer = epochjump.Writer(tmp_path / "live")
    writer.start_epoch(1)
    values = {"loss": [1.0, 2.0, 3.0]}
    writer.log_batches(np.arange(1, 4), values, values)
    writer.flush()
    multiplexer, provider = plugin_client.local_provider(tmp_path)
    loads = CountingLoads(monkeypatch)
    _, http = client(provider, tmp_path)
    assert get_json(http, "/runs")["runs"][0]["batches"] == 3
    get_json(http, "/series", "/experiment/a", run="live", metric="loss")

    values = {"loss": [4.0, 5.0]}
    writer.log_batches(np.arange(4, 6), values, values)
    writer.close()
    multiplexer.Reload()

    (entry,) = get_json(http, "/runs", "/experiment/b")["runs"]
    assert entry["batches"] == 5
    answer = get_json(http, "/series", run="live", metric="loss")
    assert answer["batches"]["batch_value"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    answer = get_json(http, "/series", "/experiment/a", run="live", metric="loss")
    assert answer["total_batches"] == 5
    assert loads.calls == ["live", "live"]


def test_outlines_of_many_runs_are_one_request(provider, written):
    root, expected = written
    recording = Recording(provider)
    ctx = tb_context.RequestContext()
    listings = provider_io.list_runs(recording, ctx, "")
    outlines = provider_io.read_outlines(recording, ctx, "", listings)
    assert set(outlines) == set(expected)
    ((runs, tags),) = recording.reads
    assert sorted(runs) == sorted(expected)
    kinds = {
        metadata.parse_plugin_metadata(series.plugin_content)[0]
        for run_tags in listings.values()
        for tag, series in run_tags.items()
        if tag in tags
    }
    assert kinds == {
        metadata.BATCH_STEPS,
        metadata.EPOCH_START,
        metadata.VAL,
        metadata.TRAIN_EVAL,
    }


def test_outlines_agree_with_whole_runs_on_damaged_logdirs(tmp_path, monkeypatch):
    """Newer-format files and another plugin's summaries (in either order),
    malformed tensors: every field but `problems` is the same before and
    after the run is read whole, and no problem goes away."""
    for newer_first in (False, True):
        write_versions(tmp_path / f"versions_{newer_first}", monkeypatch, newer_first)
    for foreign_first in (False, True):
        run_dir = tmp_path / f"foreign_{foreign_first}"
        write_chunked_run(run_dir)
        foreign = write_foreign(run_dir, "epochjump/epoch_start", 3, 3)
        foreign.rename(
            foreign.with_name(f"events.out.tfevents.{'09'[foreign_first]}.other")
        )
    write_malformed_run(tmp_path / "malformed")
    write_chunked_run(tmp_path / "plain")
    _, provider = plugin_client.local_provider(tmp_path)
    _, http = client(provider, tmp_path)

    before = {r["run"]: r for r in get_json(http, "/runs")["runs"]}
    for run in before:
        http.get(PREFIX + "/series", query_string={"run": run, "metric": "loss"})
    after = {r["run"]: r for r in get_json(http, "/runs")["runs"]}

    assert set(before) == set(after) and len(before) == 6
    for run in before:
        outline, whole = dict(before[run]), dict(after[run])
        assert set(outline.pop("problems")) <= set(whole.pop("problems")), run
        assert outline == whole, run
    assert after["malformed"]["problems"] != before["malformed"]["problems"]
