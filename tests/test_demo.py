"""`epochjump demo`: trains, explains, then serves TensorBoard with the tab."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest


@pytest.mark.slow
def test_demo_serves_tensorboard_with_the_tab(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "epochjump.cli",
            "demo",
            "--epochs",
            "2",
            "--logdir",
            str(tmp_path / "logs"),
            "--host",
            "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 240
        url = None
        output = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.search(r"Epoch Jump tab: (http://\S+?)/?#epochjump", line)
            if match:
                url = match.group(1)
                break
        assert url, "".join(output)[-3000:]
        assert any("is the average over epoch 1;" in line for line in output)
        with urllib.request.urlopen(
            f"{url}/data/plugin/epochjump/runs", timeout=30
        ) as answer:
            runs = json.load(answer)
        (run,) = runs["runs"]
        assert run["run"] == "digits_dropout"
        assert run["epochs"] == 2 and run["has_train_eval"] and run["has_val"]
        assert runs["warning"] is None  # The loader kept every sample.
        with urllib.request.urlopen(
            f"{url}/data/plugins_listing", timeout=30
        ) as answer:
            assert "epochjump" in json.load(answer)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
