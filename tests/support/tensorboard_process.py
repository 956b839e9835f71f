"""A real `tensorboard` process on a free loopback port, for tests that need one."""

import contextlib
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
TENSORBOARD_START_TIMEOUT = 180


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensorboard_command(logdir, load_fast=False, reload_interval=1):
    """This Python's `tensorboard` on `logdir` (for `serve_tensorboard`)."""
    return [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        f"--load_fast={str(load_fast).lower()}",
        "--reload_interval",
        str(reload_interval),
    ]


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
