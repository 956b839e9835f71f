"""Fixtures for the browser tests: real Keras runs, real TensorBoard, Chromium.

A session trains the demo's Keras model with `EpochJumpCallback`, writes a run whose
name is HTML, starts `tensorboard` on it (once per `--load_fast` value) and
drives Debian's Chromium through Playwright (the `browser` and `page` fixtures are
in tests/conftest.py, shared with tests/test_wheel.py).
"""

import sys
import urllib.request

import pytest
from browser_env import DEMO_RUN
from browser_env import XSS_METRIC
from browser_env import XSS_RUN
from browser_env import serve_tensorboard
from support.written_runs import write_epochs

HTTP_TIMEOUT = 10


def _write_html_named_run(run_dir):
    """A run whose directory and metric names are HTML, written with `Writer`."""

    def batch_metrics(epoch, batch):
        value = 1.0 / (1 + epoch + batch / 8)
        return {"loss": value, XSS_METRIC: 1 - value}

    write_epochs(run_dir, 2, 8, batch_metrics, lambda epoch, last: {"val": last})


@pytest.fixture(scope="session")
def logdir(tmp_path_factory):
    """A logdir with the demo's Keras run (what `epochjump demo` trains: Dense
    + Dropout on scikit-learn's digits, with train_eval and validation) and
    the HTML-named run."""
    from epochjump import demo

    root = tmp_path_factory.mktemp("logs")
    demo.train_demo(str(root), epochs=3)
    _write_html_named_run(root / XSS_RUN)
    return root


@pytest.fixture(scope="session")
def empty_logdir(tmp_path_factory):
    """A logdir with no epochjump data (one unrelated file)."""
    root = tmp_path_factory.mktemp("empty_logs")
    (root / "notes.txt").write_text("no event files here\n")
    return root


def _get(url):
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
        return response.read().decode("utf-8")


def _tensorboard(name, logdir, load_fast, ready, *extra_args):
    """Runs this Python's `tensorboard` on `logdir` until `ready(base)` holds;
    a context manager that yields the base URL."""
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        f"--load_fast={load_fast}",
        "--reload_interval",
        "1",
        *extra_args,
    ]
    return serve_tensorboard(name, command, ready)


def _lists_runs(*runs):
    def ready(base):
        import json

        listed = json.loads(_get(base + "/data/plugin/epochjump/runs"))["runs"]
        names = {r["run"] for r in listed}
        batches = {r["run"]: r["batches"] for r in listed}
        return all(run in names and batches[run] > 0 for run in runs)

    return ready


@pytest.fixture(
    scope="session", params=["false", "true"], ids=lambda v: f"load_fast={v}"
)
def tensorboard_url(request, logdir):
    """Base URL of a TensorBoard serving `logdir`, for both ingesters."""
    name = f"load_fast_{request.param}"
    ready = _lists_runs(DEMO_RUN, XSS_RUN)
    with _tensorboard(name, logdir, request.param, ready) as base:
        yield base


@pytest.fixture(scope="session")
def empty_tensorboard_url(empty_logdir):
    """TensorBoard on a logdir without epochjump data, with a sampling limit
    for epochjump (so the `runs` route answers a warning)."""

    def ready(base):
        return "epochjump" in _get(base + "/data/plugins_listing")

    with _tensorboard(
        "empty", empty_logdir, "false", ready, "--samples_per_plugin=epochjump=5"
    ) as base:
        yield base
