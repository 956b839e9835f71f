"""Constants and helpers shared by the browser tests, their fixtures and
tests/test_wheel.py."""

import os
import pathlib
import time

from support.tensorboard_process import free_port  # noqa: F401 - shared here too
from support.tensorboard_process import serve_tensorboard  # noqa: F401

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


def open_in_tensorboard(page, base, wait_ms):
    """Opens TensorBoard at the Epoch Jump tab, as a user does; returns the
    tab's iframe, failing if none appears within `wait_ms` milliseconds."""
    page.goto(base + "/#epochjump")
    deadline = time.monotonic() + wait_ms / 1000
    frame = None
    while frame is None:
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        assert frame is not None or time.monotonic() < deadline, "no plugin iframe"
        page.wait_for_timeout(200)
    return frame
