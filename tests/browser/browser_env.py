"""Constants shared by the browser tests and their fixtures."""

import os
import pathlib

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
