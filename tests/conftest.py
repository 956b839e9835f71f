"""Test-wide settings, and the headless Chromium fixtures (`browser`, `page`)
shared by tests/browser/ and tests/test_wheel.py."""

import os
import pathlib
import sys

import pytest

# TensorFlow's C++ start-up banners drown pytest's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tests/browser/browser_env.py (Chromium's flags, starting TensorBoard) is
# imported by tests in both folders.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "browser"))

from browser_env import CHROMIUM  # noqa: E402
from browser_env import CHROMIUM_ARGS  # noqa: E402
from browser_env import ConsoleErrors  # noqa: E402


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        yield browser
        browser.close()


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
