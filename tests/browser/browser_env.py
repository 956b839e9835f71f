"""Constants and helpers shared by the browser tests, their fixtures and
tests/test_wheel.py."""

import contextlib
import os
import pathlib
import socket
import subprocess
import time
import urllib.error

CHROMIUM = os.environ.get("EPOCHJUMP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A run directory and a metric whose names are HTML that would run script.
XSS_RUN = "<img src=x onerror=window.__xss=1>"
XSS_METRIC = "<svg onload=window.__xss=2>"
REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"

# The run `epochjump demo` trains (epochjump.demo.DEMO_RUN).
DEMO_RUN = "digits_dropout"

TENSORBOARD_START_TIMEOUT = 180


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_tensorboard(name, command, ready, env=None, cwd=None):
    """Runs `command` (a `tensorboard` command line without --host and --port)
    on 127.0.0.1 and a free port until `ready(base)` holds; yields the base URL.
    Its output goes to test-artifacts/tensorboard-<name>.log; it is stopped on
    exit."""
    port = free_port()
    log_path = ARTIFACTS / f"tensorboard-{name}.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    command = [*command, "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
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
