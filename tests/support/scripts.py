"""Check scripts run in a process of their own, and the packages they need.

Keras picks its backend once per process, so each backend's checks run as a
script with KERAS_BACKEND (or TF_USE_LEGACY_KERAS) set.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

# The check scripts live here, in tests/support/, beside this module.
SUPPORT = os.path.dirname(os.path.abspath(__file__))


def script_path(name):
    """The path of the check script `name` (e.g. "capture_checks.py")."""
    return os.path.join(SUPPORT, name)


def require(module):
    """Skips the calling test when `module` is not installed; under CI,
    where `make test` installs it, fails it instead."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed; `make test` installs it")
        pytest.skip(f"{module} is not installed; `make test` installs it")


def run_exact(script, *args, env=None, timeout=900):
    """Runs `script` with this Python and asserts that it exited 0 and that
    "exact" is the last thing it printed.

    Args:
      script: path of the script.
      *args: its arguments, turned into strings.
      env: dict of environment variables set on top of this process's.
      timeout: seconds.

    Returns:
      The `subprocess.CompletedProcess`.
    """
    result = subprocess.run(
        [sys.executable, script, *map(str, args)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exact")
    return result
