"""`explain`, `export` and `read_run` import neither TensorFlow nor Keras.

With `KERAS_BACKEND=torch` set, importing TensorFlow imports Keras on torch
(and beside PyTorch's default wheel the process dies); without TensorFlow or
Keras installed, reading must work all the same.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support import isolation
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump

TRAINING_MODULES = ("tensorflow", "keras", "tf_keras", "torch", "jax")

READ_SCRIPT = """
import json, sys
from epochjump import cli
import epochjump
codes = [
    cli.main(["explain", {run!r}]),
    cli.main(["export", {logdir!r}, "-o", {report!r}]),
]
run = epochjump.read_run({run!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {modules!r})
print("RESULT " + json.dumps(
    {{"codes": codes, "loss": run["loss"].running_mean.tolist(), "loaded": loaded}}
))
"""


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    """A real Keras fit's run, and the running means Keras logged."""
    logdir = tmp_path_factory.mktemp("logs")
    x, y = digits(320)
    recorder = KerasLogRecorder()
    dense_model().fit(
        x,
        y,
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(logdir / "run"), recorder],
    )
    logged = [logs["loss"] for logs in recorder.batch_logs]
    return logdir, np.array(logged, np.float32)


def read_in_subprocess(logdir, env):
    report = logdir / "report.html"
    code = READ_SCRIPT.format(
        run=str(logdir / "run"),
        logdir=str(logdir),
        report=str(report),
        modules=TRAINING_MODULES,
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :]), result.stdout, report


@pytest.mark.slow
def test_reading_with_keras_backend_torch_imports_no_training_framework(keras_run):
    logdir, logged = keras_run
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    found, stdout, report = read_in_subprocess(logdir, env)
    assert found["codes"] == [0, 0]
    assert found["loaded"] == []
    np.testing.assert_array_equal(np.array(found["loss"], np.float32), logged)
    assert "Run run: 2 epochs, 20 batches" in stdout
    assert report.stat().st_size > 0


@pytest.mark.slow
def test_reading_works_with_only_epochjump_and_tensorboard(keras_run):
    logdir, logged = keras_run
    env = isolation.env_without()
    blocked = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True
    )
    assert blocked.returncode != 0 and b"No module named 'tensorflow'" in (
        blocked.stderr
    )
    found, stdout, report = read_in_subprocess(logdir, env)
    assert found["codes"] == [0, 0]
    assert found["loaded"] == []
    np.testing.assert_array_equal(np.array(found["loss"], np.float32), logged)
    assert "Wrote " in stdout and report.stat().st_size > 0
