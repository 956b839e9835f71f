"""Run folders in buckets, against real S3 (moto) and GCS (fake-gcs-server) servers.

Each scheme: a real Keras fit writes to the bucket; `epochjump explain` and a
real `tensorboard --logdir <bucket URL>` read it; a writer killed with
SIGKILL loses nothing it flushed; a store cut off mid-fit leaves the fit
running, with one warning, and nothing flushed lost.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
import warnings

import keras
import numpy as np
import pytest
from support import isolation
from support import tensorboard_process
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits
from support.object_stores import gcs_store  # noqa: F401 - a pytest fixture
from support.object_stores import running
from support.object_stores import s3_store  # noqa: F401 - a pytest fixture
from support.object_stores import store_env  # noqa: F401 - a pytest fixture
from support.written_runs import loss

import epochjump

SCHEMES = ["s3", "gs"]
BATCH = 32


@pytest.fixture
def store(request, store_env):  # noqa: F811
    found = request.getfixturevalue(
        "s3_store" if request.param == "s3" else "gcs_store"
    )
    store_env(found)
    return found


def fit(log_dir, epochs, extra_callbacks=()):
    x, y = digits(320)
    recorder = KerasLogRecorder()
    history = dense_model().fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        callbacks=[
            epochjump.EpochJumpCallback(log_dir),
            recorder,
            *extra_callbacks,
        ],
    )
    logged = np.array([logs["loss"] for logs in recorder.batch_logs], np.float32)
    return history.history, logged


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@pytest.mark.slow
@pytest.mark.parametrize("store", SCHEMES, indirect=True)
def test_keras_fit_in_a_bucket_is_explained_and_served(store):
    logdir = store.url("fits", store.scheme)
    _, logged = fit(logdir + "/run1", epochs=2)

    run = epochjump.read_run(logdir + "/run1")
    np.testing.assert_array_equal(run["loss"].running_mean, logged)
    assert run.epoch_starts.tolist() == [1, 11] and run.problems == ()

    explained = subprocess.run(
        [sys.executable, "-m", "epochjump.cli", "explain", logdir],
        env=store.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert explained.returncode == 0, explained.stderr
    assert "Run run1: 2 epochs, 20 batches" in explained.stdout

    # TensorBoard's Python ingester reads the bucket through its own file
    # layer where TensorFlow is not installed (boto3 for s3://, fsspec for
    # gs://); the Rust data server cannot reach an emulated store.
    command = tensorboard_process.tensorboard_command(logdir, load_fast=False)
    env = store.subprocess_env(isolation.env_without(("tensorflow",)))

    query = urllib.parse.urlencode({"run": "run1", "metric": "loss"})

    def loaded(base):
        # The ingester reads the run's objects (one per flush) in the
        # background: the run is listed before its last object is read.
        series = get_json(f"{base}/data/plugin/epochjump/series?{query}")
        return len(series["batches"]["step"]) == len(logged)

    name = f"bucket-{store.scheme}"
    with tensorboard_process.serve_tensorboard(name, command, loaded, env) as base:
        answer = get_json(f"{base}/data/plugin/epochjump/runs")
        assert [r["run"] for r in answer["runs"]] == ["run1"]
        assert answer["runs"][0]["problems"] == []
        series = get_json(f"{base}/data/plugin/epochjump/series?{query}")
    assert series["batches"]["step"] == list(range(1, 21))
    np.testing.assert_array_equal(
        np.array(series["batches"]["running_mean"], np.float32), logged
    )


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import epochjump
    writer = epochjump.Writer(sys.argv[1], flush_secs=1000)
    writer.start_epoch(1, epoch=0)
    step = 0
    while True:
        for _ in range(5):
            step += 1
            writer.log_batch(step, {"loss": 1.0 / step})
        writer.flush()
        print("flushed", step, flush=True)
        step += 1
        writer.log_batch(step, {"loss": 1.0 / step})  # Buffered, never flushed.
        time.sleep(0.05)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("store", SCHEMES, indirect=True)
def test_what_was_flushed_survives_sigkill(store):
    url = store.url("killed", store.scheme)
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, url],
        env=store.subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        flushed = 0
        while flushed < 30:
            line = process.stdout.readline()
            assert line, "the writer stopped before flushing 30 batches"
            flushed = int(line.split()[1])
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    run = epochjump.read_run(url)
    steps = run["loss"].step.tolist()
    # Every batch flushed before the kill is there, exact; the writer may
    # have flushed again before the kill came, but whole flushes only.
    last = steps[-1]
    assert last >= flushed and (last + 1) % 6 == 0
    assert steps == list(range(1, last + 1))
    assert run["loss"].batch_value.tolist() == [loss(s) for s in steps]
    assert run.problems == ()


class CutOffAfterEpoch(keras.callbacks.Callback):
    """Makes the store unreachable at the end of `epoch` (0-based), once the
    writer's upload thread has put the batches flushed until then."""

    def __init__(self, store, url, epoch):
        super().__init__()
        self.store, self.url, self.epoch = store, url, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch != self.epoch:
            return
        flushed = (epoch + 1) * 10
        deadline = time.monotonic() + 60
        while len(epochjump.read_run(self.url)["loss"]) < flushed:
            assert time.monotonic() < deadline, "the flushed batches never arrived"
            time.sleep(0.1)
        self.store.relay.close()


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_store_unreachable_mid_fit_warns_once_and_keeps_what_was_flushed(
    scheme,
    store_env,  # noqa: F811
):
    with running(scheme, name=f"{scheme}-cut") as store:
        store_env(store)
        url = store.url("cut", "run")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history, logged = fit(url, 4, [CutOffAfterEpoch(store, url, epoch=1)])
        store.relay.open()
        ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
        run = epochjump.read_run(url)

    assert len(history["loss"]) == 4
    assert len(ours) == 1, ours
    assert ours[0].startswith(f"epochjump: writing to log_dir={url!r} failed (")
    assert "retried after 10 s, then less and less often" in ours[0]
    print(ours[0])
    # Epochs 1 and 2 were flushed at their ends: all there, exact.
    assert run.epoch_starts.tolist() == [1, 11]
    np.testing.assert_array_equal(run["loss"].running_mean, logged[:20])


@pytest.mark.slow
def test_tensorboard_without_a_file_layer_for_s3_says_so_and_stops(
    s3_store,  # noqa: F811
):
    # TensorFlow installed, tensorflow-io not: TensorFlow's gfile has no s3://.
    command = tensorboard_process.tensorboard_command(
        s3_store.url("logs"), load_fast=False
    )
    result = subprocess.run(
        [*command, "--port", str(tensorboard_process.free_port())],
        env=s3_store.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "Unsupported filename scheme 's3'" in result.stderr


@pytest.mark.slow
def test_tab_says_the_rust_data_server_ignores_a_gcs_emulator(
    gcs_store,  # noqa: F811
):
    logdir = gcs_store.url("rust")
    command = tensorboard_process.tensorboard_command(logdir, load_fast=True)

    def answered(base):
        return get_json(f"{base}/data/plugin/epochjump/runs")

    env = gcs_store.subprocess_env()
    with tensorboard_process.serve_tensorboard(
        "bucket-rust", command, answered, env
    ) as base:
        answer = get_json(f"{base}/data/plugin/epochjump/runs")
    assert answer["runs"] == []
    assert answer["warning"] == (
        f"TensorBoard's Rust data server reads {logdir} from Google Cloud Storage "
        f"itself and ignores STORAGE_EMULATOR_HOST={gcs_store.endpoint}, so the "
        "runs here may be missing. Restart TensorBoard with --load_fast=false to "
        "read the bucket through fsspec."
    )
