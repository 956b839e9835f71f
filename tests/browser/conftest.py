"""Fixtures for the browser tests: real Keras runs, real TensorBoard, Chromium.

A session trains the demo's Keras model with `EpochJumpCallback`, writes a run whose
name is HTML, starts `tensorboard` on it (once per `--load_fast` value) and
drives Debian's Chromium through Playwright.
"""

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from browser_env import ARTIFACTS
from browser_env import CHROMIUM
from browser_env import CHROMIUM_ARGS
from browser_env import DEMO_RUN
from browser_env import XSS_METRIC
from browser_env import XSS_RUN

TENSORBOARD_START_TIMEOUT = 180
HTTP_TIMEOUT = 10


def _write_html_named_run(run_dir):
    """A run whose directory and metric names are HTML, written with `Writer`."""
    import epochjump

    with epochjump.Writer(run_dir) as writer:
        step = 0
        for epoch in range(2):
            writer.start_epoch(step + 1)
            for i in range(8):
                step += 1
                value = 1.0 / (1 + epoch + i / 8)
                writer.log_batch(step, {"loss": value, XSS_METRIC: 1 - value})
            writer.log_eval("val", step, {"loss": value, XSS_METRIC: 1 - value})


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


def _free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
        return response.read().decode("utf-8")


@contextlib.contextmanager
def _tensorboard(name, logdir, load_fast, ready, *extra_args):
    """Runs `tensorboard` on `logdir` until `ready(base)` holds; yields the base URL."""
    port = _free_port()
    log_path = ARTIFACTS / f"tensorboard-{name}.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        f"--load_fast={load_fast}",
        "--reload_interval",
        "1",
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TENSORBOARD_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"tensorboard exited with {process.returncode}; see {log_path}:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            try:
                if ready(base):
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"tensorboard at {base} not ready after "
                    f"{TENSORBOARD_START_TIMEOUT}s; see {log_path}"
                )
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


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


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        yield browser
        browser.close()


class ConsoleErrors(list):
    """Console errors and uncaught exceptions of a page and its frames."""

    def attach(self, page):
        page.on(
            "console",
            lambda m: (
                self.append(f"console.{m.type}: {m.text} ({m.location})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.append(f"pageerror: {e}"))


@pytest.fixture
def page(browser):
    """A fresh 1400x1000 page; `page.console_errors` collects errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    # Opened as a top-level page, plugin_entry.html makes Chromium ask for
    # /favicon.ico, which TensorBoard does not serve (inside TensorBoard, the
    # iframe never asks). Answer it so that 404 is not counted as our error.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    page.console_errors = ConsoleErrors()
    page.console_errors.attach(page)
    yield page
    context.close()
