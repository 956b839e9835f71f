"""Issue 13, serving side: routes answer only GET/HEAD (405 with Allow), a
step range is checked the same way whichever bound is given, names with
invisible or bidi characters are shown escaped (CLI, report, tab) while the
data keeps them exactly, and a record that is not an event is its run's
problem in a real TensorBoard."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from browser_env import serve_tensorboard
from support import plugin_client
from support.written_runs import write_chunked_run

import epochjump
from epochjump import cli

PREFIX = "/data/plugin/epochjump"
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
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_two")
    write_run(root / "plain")
    write_run(root / BIDI_RUN, metric=BIDI_METRIC)
    return root


@pytest.fixture(scope="module")
def client(logdir):
    _, provider = plugin_client.local_provider(logdir)
    plugin = plugin_client.load_plugin(provider, logdir=logdir)
    return plugin_client.client_for(plugin, provider)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("route", ROUTES)
def test_routes_refuse_other_methods_than_get(client, route, method):
    response = client.open(
        PREFIX + route, method=method, query_string={"run": "plain", "metric": "loss"}
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.get_data(as_text=True) == (
        f"Method not allowed: {method!r}; this route answers GET, HEAD\n"
    )


def test_get_and_head_still_answer(client):
    for method in ("GET", "HEAD"):
        response = client.open(PREFIX + "/runs", method=method)
        assert response.status_code == 200, method


def series(client, **params):
    return client.get(
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
    client, params, message
):
    response = series(client, **params)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == f"Invalid argument: {message}"


@pytest.mark.parametrize(
    "params, steps",
    [({"end": "1"}, [1]), ({"start": "8"}, [8]), ({"start": "3", "end": "3"}, [3])],
)
def test_one_bound_ranges_that_hold_steps_answer(client, params, steps):
    response = series(client, **params)
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["batches"]["step"] == steps


def test_bidi_names_are_data_in_answers_and_shown_escaped_in_text(
    client, logdir, tmp_path
):
    runs = json.loads(client.get(PREFIX + "/runs").get_data(as_text=True))["runs"]
    assert {r["run"] for r in runs} == {"plain", BIDI_RUN}
    (bidi,) = [r for r in runs if r["run"] == BIDI_RUN]
    assert bidi["metrics"] == [BIDI_METRIC]

    text = cli.explain_text(epochjump.read_run(logdir / BIDI_RUN))
    assert f"Run {logdir / SHOWN_RUN}:" in text
    assert text.startswith(f"{SHOWN_METRIC} ")
    assert "\u202e" not in text and "\u2066" not in text and "\u200f" not in text

    out = tmp_path / "report.html"
    env = dict(
        os.environ,
        PYTHONPATH=os.path.dirname(os.path.dirname(epochjump.__file__)),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    done = subprocess.run(
        [sys.executable, "-m", "epochjump.cli", "export", str(logdir), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert SHOWN_RUN in done.stdout and "\u202e" not in done.stdout
    title = out.read_text().split("<title>")[1].split("</title>")[0]
    assert SHOWN_RUN in title and "\u202e" not in title


def tensorboard(logdir, load_fast, name):
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
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
    from test_hardening_two_read import NOT_AN_EVENT
    from test_hardening_two_read import append_record
    from test_hardening_two_read import not_an_event_problem

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
