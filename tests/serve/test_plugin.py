"""The plugin's routes under hostile or broken input, and in a real TensorBoard.

They never answer 5xx: broken runs become per-run problems, hostile names and
parameters get 404/400 naming them (cut when very long), a request for a
million points is refused before any data is read, and a boundary is
reported only once the next epoch has a batch. They answer only GET/HEAD (405
with Allow), check a step range the same way whichever bound is given, show
names with invisible or bidi characters escaped (CLI, report) while the data
keeps them exactly, and a record that is not an event is its run's problem in
a real TensorBoard."""

import json
import math
import os
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from browser_env import serve_tensorboard
from support import plugin_client
from support.plugin_client import CountingLoads
from support.written_runs import records
from support.written_runs import write_chunked_run
from support.written_runs import write_malformed_run
from support.written_runs import write_scalars
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin

import epochjump
from epochjump import cli
from epochjump import metadata

PREFIX = "/data/plugin/epochjump"
HTML_RUN = "<img src=x onerror=alert(1)>"
QUOTES_RUN = 'it\'s "quoted" \\ back'
NEWLINE_RUN = "new\nline\r\nrun"
UNICODE_RUN = "日本語 ✓ ünïcødé"
LONG_RUN = "/".join(c * 200 for c in "LMNOPQ")
HTML_METRIC = '<script>alert("m")</script>'
LONG_METRIC = "m" * 1000
HOSTILE_RUNS = (HTML_RUN, QUOTES_RUN, NEWLINE_RUN, UNICODE_RUN, LONG_RUN)
BIG_BATCHES = 200_000


def write_named_run(path):
    """Two epochs of 3 batches; metrics with hostile names."""
    with epochjump.Writer(path) as writer:
        for step in range(1, 7):
            if step in (1, 4):
                writer.start_epoch(step)
            values = {"loss": 1.0 / step, HTML_METRIC: step / 10, LONG_METRIC: 0.5}
            writer.log_batch(step, values, values)


def write_big_run(path):
    steps = np.arange(1, BIG_BATCHES + 1)
    values = np.sin(steps / 1000.0)
    with epochjump.Writer(path) as writer:
        writer.start_epoch(1)
        writer.log_batches(steps, {"loss": values}, {"loss": values})


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    write_chunked_run(root / "good")
    truncated = write_chunked_run(root / "truncated")
    truncated.write_bytes(truncated.read_bytes()[:-10])
    corrupt = write_chunked_run(root / "corrupt")
    data = bytearray(corrupt.read_bytes())
    data[records(corrupt)[4][0] + 20] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)  # A future writer.
    write_chunked_run(root / "newer", chunks=1)
    monkeypatch.undo()
    write_scalars(root / "keras_only")
    write_chunked_run(root / "mixed", chunks=1)
    write_scalars(root / "mixed")
    opened = epochjump.Writer(root / "opened")
    opened.open()
    opened.close()
    with epochjump.Writer(root / "val_only") as writer:
        writer.log_eval("val", 10, {"loss": 0.25})
    write_malformed_run(root / "malformed")
    for run in HOSTILE_RUNS:
        write_named_run(root / run)
    write_big_run(root / "big")
    return root


def make_client(logdir, local=True):
    multiplexer, provider = plugin_client.local_provider(logdir)
    plugin = plugin_client.load_plugin(provider, logdir=logdir if local else None)
    return multiplexer, plugin_client.client_for(plugin, provider)


@pytest.fixture(scope="module")
def client(logdir):
    return make_client(logdir)[1]


def get(client, route, **params):
    return client.get(PREFIX + route, query_string=params)


def runs_by_name(client):
    response = get(client, "/runs")
    assert response.status_code == 200
    return {r["run"]: r for r in json.loads(response.get_data(as_text=True))["runs"]}


def test_runs_lists_each_run_with_its_problems(client, logdir):
    runs = runs_by_name(client)

    assert set(runs) == {
        "good",
        "truncated",
        "corrupt",
        "newer",
        "mixed",
        "opened",
        "val_only",
        "malformed",
        "big",
        *HOSTILE_RUNS,
    }  # keras_only holds no epochjump data: not an epochjump run.
    for name in ("good", "mixed", "big", *HOSTILE_RUNS):
        assert runs[name]["problems"] == [], name
    assert runs["good"]["batches"] == 12 and runs["good"]["epochs"] == 2
    (problem,) = runs["truncated"]["problems"]
    assert problem.startswith("events.out.tfevents.")
    assert "incomplete last record (" in problem
    assert runs["truncated"]["batches"] == 8
    (problem,) = runs["corrupt"]["problems"]
    offset = records(next((logdir / "corrupt").iterdir()))[4][0]
    assert f"corrupt record at byte {offset} (its data checksum" in problem
    assert runs["corrupt"]["batches"] == 4
    (problem,) = runs["newer"]["problems"]
    assert "format version 3" in problem and runs["newer"]["metrics"] == []
    assert runs["opened"]["problems"] == [
        "No epochjump data yet: its epochjump event files hold none (training "
        "has not written its first batches, or stopped before it did)"
    ]
    assert runs["val_only"]["problems"] == [
        "No batches recorded, only evaluations (val, train_eval): there is no "
        "epoch boundary to explain"
    ]
    # Until the run is read whole, the problems of what `runs` reads: its
    # listing, epoch starts, steps and evaluations; then its batch values'.
    assert len(runs["malformed"]["problems"]) == 3
    assert get(client, "/series", run="malformed", metric="loss").status_code == 200
    problems = runs_by_name(client)["malformed"]["problems"]
    assert len(problems) == 5
    assert set(runs["malformed"]["problems"]) < set(problems)
    assert runs[HTML_RUN]["metrics"] == ["loss", HTML_METRIC, LONG_METRIC]


def test_no_route_answers_5xx_for_any_run_or_metric(client):
    runs = runs_by_name(client)
    names = [*runs, "keras_only", "no such run", "../good", "x" * 5000]
    statuses = set()
    for run in names:
        metrics = runs.get(run, {}).get("metrics", []) + ["no such metric"]
        for metric in metrics:
            if run == "big" and metric == "loss":
                continue  # Served in test_a_million_points_is_refused.
            for route, extra in (
                ("/series", {}),
                ("/jumps", {}),
                ("/download", {"format": "csv"}),
                ("/download", {"format": "json"}),
            ):
                response = get(client, route, run=run, metric=metric, **extra)
                statuses.add(response.status_code)
                assert response.status_code in (200, 404), (run, metric, route)
                if response.status_code == 404:
                    assert response.mimetype == "text/plain"
                    assert len(response.get_data()) < 2000
                elif route != "/download" or extra["format"] == "json":
                    json.loads(response.get_data(as_text=True))
    assert statuses == {200, 404}


def series(client, run, metric="loss", **params):
    response = get(client, "/series", run=run, metric=metric, **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_broken_runs_serve_what_can_be_read(client):
    assert series(client, "truncated")["batches"]["step"] == list(range(1, 9))
    assert series(client, "corrupt")["batches"]["step"] == [1, 2, 3, 4]
    values = series(client, "corrupt")["batches"]["batch_value"]
    assert values == [1.0, 0.5, 1 / 3, 0.25]
    assert series(client, "val_only")["val"]["value"] == [0.25]
    malformed = series(client, "malformed")
    assert malformed["batches"]["running_mean"] == [3.0, 2.5, 2.0]
    assert series(client, "malformed", "acc")["batches"]["batch_value"] == ["NaN"] * 3

    response = get(client, "/series", run="newer", metric="loss")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert text.startswith("Not found: No metric 'loss' in run 'newer'; it has [] (")
    assert "format version 3" in text
    response = get(client, "/series", run="opened", metric="loss")
    assert response.status_code == 404
    assert response.get_data(as_text=True) == (
        "Not found: No epochjump data for run 'opened'"
    )


def test_hostile_names_round_trip_as_data(client):
    for run in HOSTILE_RUNS:
        answer = series(client, run, HTML_METRIC)
        assert answer["run"] == run and answer["metric"] == HTML_METRIC
        assert answer["batches"]["batch_value"] == [s / 10 for s in range(1, 7)]
        response = get(client, "/series", run=run, metric=HTML_METRIC)
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        jumps = json.loads(
            get(client, "/jumps", run=run, metric=LONG_METRIC).get_data(as_text=True)
        )
        assert jumps["metric"] == LONG_METRIC and len(jumps["boundaries"]) == 1

        download = get(client, "/download", run=run, metric=HTML_METRIC, format="csv")
        assert download.status_code == 200
        disposition = download.headers["Content-Disposition"]
        assert disposition.isascii() and "\n" not in disposition
        assert "\r" not in disposition and "<" not in disposition
        fallback = disposition.split('filename="')[1].split('"')[0]
        assert all(c.isalnum() or c in "._-" for c in fallback)


@pytest.mark.parametrize(
    "params, status, message",
    [
        (
            {"max_points": "1000000"},
            400,
            "Bad max_points: expected an integer from 2 to 100000, got '1000000'",
        ),
        ({"max_points": "0x10"}, 400, "got '0x10'"),
        ({"max_points": "1.5"}, 400, "got '1.5'"),
        ({"start": "١٢"}, 400, "Bad start: expected an integer from 0 to"),
        ({"start": "-1"}, 400, "got '-1'"),
        ({"end": "1e3"}, 400, "got '1e3'"),
        ({"start": "\x00"}, 400, "got '\\x00'"),
        (
            {"max_points": "9" * 100_000},
            400,
            f"got {'9' * 200!r}... (100000 characters)",
        ),
        ({"start": "9", "end": "3"}, 400, "Bad range: start=9 is after end=3"),
        ({"run": "x" * 100_000}, 404, f"run {'x' * 200!r}... (100000 characters)"),
        ({"run": "good\x00"}, 404, "No epochjump data for run 'good\\x00'"),
        (
            {"metric": "<b>" * 1000},
            404,
            "... (3000 characters) in run 'good'; it has ['loss']",
        ),
        ({"run": ""}, 400, "Bad run: expected a run name, got ''"),
    ],
    ids=lambda value: str(value)[:24] if isinstance(value, dict) else "",
)
def test_hostile_parameters_are_named_and_bounded(client, params, status, message):
    response = get(client, "/series", **{"run": "good", "metric": "loss", **params})
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "text/plain"
    assert message in text
    assert len(text) < 1000


def test_malformed_query_strings_are_not_5xx(client):
    for query in (
        "run=%ff%fe&metric=loss",  # not UTF-8
        "run=good&run=evil&metric=loss",  # repeated: the first counts
        "run=good&metric=loss&max_points=%",
        "run=good&metric=loss&format=CSV",
        "",
        "&&&=&=",
    ):
        response = client.get(f"{PREFIX}/series?{query}")
        assert response.status_code in (200, 400, 404), query
    repeated = client.get(f"{PREFIX}/series?run=good&run=evil&metric=loss")
    assert repeated.status_code == 200


def test_a_million_points_is_refused_before_reading(client, monkeypatch):
    loads = CountingLoads(monkeypatch)
    response = get(client, "/series", run="big", metric="loss", max_points="1000000")
    assert response.status_code == 400
    assert loads.calls == []

    answer = series(client, "big", max_points=100_000)
    steps = answer["batches"]["step"]
    assert answer["downsampled"] and answer["total_batches"] == BIG_BATCHES
    assert len(steps) <= 100_000 and steps[0] == 1 and steps[-1] == BIG_BATCHES
    np.testing.assert_array_equal(
        answer["batches"]["batch_value"], np.sin(np.array(steps) / 1000.0)
    )


def test_an_unreadable_run_is_a_problem_read_once(tmp_path, monkeypatch):
    write_chunked_run(tmp_path / "good")
    write_chunked_run(tmp_path / "other", chunks=1)
    loads = CountingLoads(monkeypatch, fail_for={"good"})
    _, client = make_client(tmp_path)

    runs = runs_by_name(client)  # Reads no run whole.
    assert runs["good"]["problems"] == [] and runs["good"]["batches"] == 12
    assert runs["other"]["problems"] == [] and runs["other"]["batches"] == 4
    for _ in range(2):
        response = get(client, "/series", run="good", metric="loss")
        assert response.status_code == 404
        assert "boom in good" in response.get_data(as_text=True)
    runs = runs_by_name(client)
    assert runs["good"]["problems"] == [
        "Could not read this run: RuntimeError: boom in good"
    ]
    assert runs["good"]["metrics"] == [] and runs["other"]["batches"] == 4
    assert loads.calls == ["good"]


def test_file_checks_need_a_local_logdir(logdir):
    _, client = make_client(logdir, local=False)
    runs = runs_by_name(client)
    assert runs["truncated"]["problems"] == [] and runs["truncated"]["batches"] == 8
    assert "opened" not in runs


def test_a_boundary_needs_a_batch_of_the_next_epoch(tmp_path):
    writer = epochjump.Writer(tmp_path / "live")
    writer.start_epoch(1)
    for step in range(1, 5):
        writer.log_batch(step, {"loss": 1.0 / step})
    writer.log_eval("val", 4, {"loss": 0.5})
    writer.start_epoch(5)  # Epoch 2 has started, without a batch yet.
    writer.flush()
    multiplexer, client = make_client(tmp_path)

    assert series(client, "live")["epoch_starts"] == [1, 5]
    jumps = json.loads(get(client, "/jumps", run="live", metric="loss").get_data())
    assert jumps["boundaries"] == []

    writer.log_batch(5, {"loss": 0.125})
    writer.close()
    multiplexer.Reload()
    (boundary,) = json.loads(
        get(client, "/jumps", run="live", metric="loss").get_data()
    )["boundaries"]
    assert boundary["last_step"] == 4 and boundary["first_next_step"] == 5
    assert boundary["reported"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert boundary["first_next"] == 0.125 and boundary["val"] == 0.5
    assert not math.isnan(boundary["level_at_end"])


def test_impls_without_http_report_problems_too(logdir):
    from epochjump.serve.plugin import EpochJumpPlugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={"epochjump": 0}
    )
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    plugin = EpochJumpPlugin(
        base_plugin.TBContext(data_provider=provider, flags=None, logdir=str(logdir))
    )
    answer = plugin.runs_impl(tb_context.RequestContext(), "")
    names = [r["run"] for r in answer["runs"]]
    assert names == sorted(names) and "opened" in names


ROUTES = ("/index.js", "/runs", "/series", "/jumps", "/download", "/compare")
BIDI_RUN = "run\u202egnp.exe"  # Displays as "runexe.png".
BIDI_METRIC = "loss\u2066\u200f"
SHOWN_RUN = "run\\u202egnp.exe"
SHOWN_METRIC = "loss\\u2066\\u200f"


def write_run(path, metric="loss"):
    with epochjump.Writer(path) as writer:
        for step in range(1, 9):
            if step in (1, 5):
                writer.start_epoch(step)
            writer.log_batch(step, {metric: 1.0 / step})
        writer.log_eval("val", 4, {metric: 0.5})


@pytest.fixture(scope="module")
def bidi_logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_two")
    write_run(root / "plain")
    write_run(root / BIDI_RUN, metric=BIDI_METRIC)
    return root


@pytest.fixture(scope="module")
def bidi_client(bidi_logdir):
    _, provider = plugin_client.local_provider(bidi_logdir)
    plugin = plugin_client.load_plugin(provider, logdir=bidi_logdir)
    return plugin_client.client_for(plugin, provider)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("route", ROUTES)
def test_routes_refuse_other_methods_than_get(bidi_client, route, method):
    response = bidi_client.open(
        PREFIX + route, method=method, query_string={"run": "plain", "metric": "loss"}
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.get_data(as_text=True) == (
        f"Method not allowed: {method!r}; this route answers GET, HEAD\n"
    )


def test_get_and_head_still_answer(bidi_client):
    for method in ("GET", "HEAD"):
        response = bidi_client.open(PREFIX + "/runs", method=method)
        assert response.status_code == 200, method


def series_response(bidi_client, **params):
    return bidi_client.get(
        PREFIX + "/series", query_string={"run": "plain", "metric": "loss", **params}
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "5", "end": "3"}, "Bad range: start=5 is after end=3"),
        (
            {"end": "0"},
            "Bad range: start=1 (start not given: the run's first step) is after end=0",
        ),
        (
            {"start": "9"},
            "Bad range: start=9 is after end=8 (end not given: the run's last step)",
        ),
    ],
)
def test_a_range_ending_before_it_starts_is_refused_whichever_bound_is_given(
    bidi_client, params, message
):
    response = series_response(bidi_client, **params)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == f"Invalid argument: {message}"


@pytest.mark.parametrize(
    "params, steps",
    [({"end": "1"}, [1]), ({"start": "8"}, [8]), ({"start": "3", "end": "3"}, [3])],
)
def test_one_bound_ranges_that_hold_steps_answer(bidi_client, params, steps):
    response = series_response(bidi_client, **params)
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["batches"]["step"] == steps


@pytest.mark.slow
def test_bidi_names_are_data_in_answers_and_shown_escaped_in_text(
    bidi_client, bidi_logdir, tmp_path
):
    runs = json.loads(bidi_client.get(PREFIX + "/runs").get_data(as_text=True))["runs"]
    assert {r["run"] for r in runs} == {"plain", BIDI_RUN}
    (bidi,) = [r for r in runs if r["run"] == BIDI_RUN]
    assert bidi["metrics"] == [BIDI_METRIC]

    text = cli.explain_text(epochjump.read_run(bidi_logdir / BIDI_RUN))
    assert f"Run {bidi_logdir / SHOWN_RUN}:" in text
    assert text.startswith(f"{SHOWN_METRIC} ")
    assert "\u202e" not in text and "\u2066" not in text and "\u200f" not in text

    out = tmp_path / "report.html"
    env = dict(
        os.environ,
        PYTHONPATH=os.path.dirname(os.path.dirname(epochjump.__file__)),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "epochjump.cli",
            "export",
            str(bidi_logdir),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert SHOWN_RUN in done.stdout and "\u202e" not in done.stdout
    title = out.read_text().split("<title>")[1].split("</title>")[0]
    assert SHOWN_RUN in title and "\u202e" not in title


def tensorboard(bidi_logdir, load_fast, name):
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(bidi_logdir),
        f"--load_fast={load_fast}",
    ]
    env = dict(
        os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(epochjump.__file__))
    )
    return serve_tensorboard(name, command, lambda base: len(runs_of(base)) >= 3, env)


def runs_of(base):
    with urllib.request.urlopen(base + PREFIX + "/runs", timeout=10) as response:
        return {r["run"]: r for r in json.loads(response.read())["runs"]}


@pytest.fixture(scope="module")
def broken_logdir(tmp_path_factory):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "read"))
    from support.written_runs import NOT_AN_EVENT
    from support.written_runs import append_record
    from support.written_runs import not_an_event_problem

    root = tmp_path_factory.mktemp("not_an_event")
    write_chunked_run(root / "a_good")
    bad = write_chunked_run(root / "bad")
    offset = append_record(bad, NOT_AN_EVENT)
    write_chunked_run(root / "z_good")
    return root, not_an_event_problem(bad.name, offset)


@pytest.mark.slow
def test_real_tensorboard_answers_405_and_names_a_record_that_is_not_an_event(
    broken_logdir,
):
    root, problem = broken_logdir
    with tensorboard(root, "true", "not-an-event-rust") as base:
        request = urllib.request.Request(base + PREFIX + "/runs", method="POST")
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=10)
        assert raised.value.code == 405
        assert raised.value.headers["Allow"] == "GET, HEAD"
        runs = runs_of(base)
        assert runs["bad"]["problems"] == [problem]
        assert runs["bad"]["batches"] == 12
        for good in ("a_good", "z_good"):
            assert runs[good]["problems"] == [] and runs[good]["batches"] == 12


@pytest.mark.slow
def test_python_ingester_stopped_by_such_a_record_is_not_called_an_empty_run(
    broken_logdir,
):
    # TensorBoard's Python ingester stops loading every run at the record;
    # the runs it did not load are not described as runs without data.
    root, problem = broken_logdir
    with tensorboard(root, "false", "not-an-event-python") as base:
        runs = runs_of(base)
        assert runs["bad"]["problems"][-1] == problem
        for run in runs.values():
            for text in run["problems"]:
                assert not text.startswith("No epochjump data yet"), text
