"""Two writers on one run directory at once are refused, never
mixed; one writer after another (a resumed run) stays one run."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump

# Names, not imports, so these tests fail (not error) on code without leases.
LEASE_NAME = "epochjump.lease"
IN_USE = "Another epochjump writer is recording into"

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = os.path.dirname(os.path.dirname(epochjump.__file__))


def write_epoch(writer, first_step, batches=4):
    writer.start_epoch(first_step)
    for step in range(first_step, first_step + batches):
        writer.log_batch(step, {"loss": 1.0 / step})


def test_a_second_writer_in_one_process_is_refused_then_resumes(tmp_path):
    first = epochjump.Writer(tmp_path / "run")
    write_epoch(first, 1)
    second = epochjump.Writer(tmp_path / "run")
    with pytest.raises(RuntimeError, match=IN_USE) as raised:
        second.start_epoch(100)
    message = str(raised.value)
    assert f"log_dir={str(tmp_path / 'run')!r}" in message
    assert f"pid {os.getpid()} on host {socket.gethostname()!r}" in message
    assert "this process" in message
    with pytest.raises(RuntimeError, match=IN_USE):
        second.log_batch(100, {"loss": 9.0})
    with pytest.raises(RuntimeError, match=IN_USE):
        epochjump.Writer(tmp_path / "run").open()
    write_epoch(first, 5)
    first.close()
    assert not (tmp_path / "run" / LEASE_NAME).exists()

    # One writer after the other: a resumed run, one timeline.
    with epochjump.Writer(tmp_path / "run") as resumed:
        write_epoch(resumed, 9)
    run = epochjump.read_run(tmp_path / "run")
    assert run["loss"].step.tolist() == list(range(1, 13))
    assert run.epoch_starts.tolist() == [1, 5, 9]
    assert run.problems == ()


def test_a_writer_dropped_without_close_does_not_hold_the_directory(tmp_path):
    dropped = epochjump.Writer(tmp_path / "run")
    write_epoch(dropped, 1)
    dropped.flush()
    del dropped  # Never closed; collected.
    with epochjump.Writer(tmp_path / "run") as writer:
        write_epoch(writer, 5)
    assert epochjump.read_run(tmp_path / "run")["loss"].step.tolist() == list(
        range(1, 9)
    )


HOLDER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {plugin!r})
    import epochjump
    writer = epochjump.Writer({log_dir!r})
    writer.start_epoch(1)
    writer.log_batch(1, {{"loss": 1.0}})
    writer.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    writer.close()
    """
)


def start_holder(log_dir):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(plugin=PLUGIN, log_dir=str(log_dir))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.mark.slow
def test_a_writer_in_another_process_is_named_and_its_dead_lease_taken(tmp_path):
    process = start_holder(tmp_path / "run")
    try:
        writer = epochjump.Writer(tmp_path / "run")
        with pytest.raises(RuntimeError, match=IN_USE) as raised:
            writer.log_batch(2, {"loss": 0.5})
        assert f"pid {process.pid} on host {socket.gethostname()!r}" in str(
            raised.value
        )
        assert "this process" not in str(raised.value)
    finally:
        process.kill()  # SIGKILL: its lease stays behind, naming a dead pid.
        process.wait()
    assert (tmp_path / "run" / LEASE_NAME).exists()
    writer.log_batch(2, {"loss": 0.5})
    writer.close()
    assert epochjump.read_run(tmp_path / "run")["loss"].step.tolist() == [1, 2]


def test_a_lease_from_another_host_is_taken_only_when_stale(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = {"pid": 1, "host": "elsewhere", "started": time.time(), "token": "x"}
    (run_dir / LEASE_NAME).write_text(
        json.dumps({**record, "refreshed": time.time() - 60})
    )
    with pytest.raises(RuntimeError, match="pid 1 on host 'elsewhere'"):
        epochjump.Writer(run_dir).open()
    from epochjump.record import lease

    (run_dir / LEASE_NAME).write_text(
        json.dumps({**record, "refreshed": time.time() - lease.STALE_SECS - 1})
    )
    with epochjump.Writer(run_dir) as writer:
        writer.log_batch(1, {"loss": 1.0})
    assert epochjump.read_run(run_dir)["loss"].step.tolist() == [1]


FIT = textwrap.dedent(
    """
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.path.insert(0, {tests!r})
    import keras, epochjump
    from support.keras_fits import dense_model, digits

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 3:
                print("training", flush=True)
                sys.stdin.readline()

    x, y = digits(320)
    model = dense_model()
    cb = epochjump.EpochJumpCallback({log_dir!r})
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0,
                        validation_data=(x[:64], y[:64]), callbacks=[cb, Slow()])
    print(repr(history.history["val_loss"]), flush=True)
    """
)


class BatchCounter:
    def __init__(self):
        import keras

        class Counter(keras.callbacks.Callback):
            batches = 0

            def on_train_batch_begin(self, batch, logs=None):
                Counter.batches += 1

        self.callback = Counter()


@pytest.mark.slow
def test_a_second_keras_fit_on_a_run_being_written_stops_before_its_first_batch(
    tmp_path,
):
    log_dir = tmp_path / "run"
    code = FIT.format(tests=TESTS, log_dir=str(log_dir))
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "training"
        x, y = digits(320)
        model = dense_model()
        counter = BatchCounter()
        callback = epochjump.EpochJumpCallback(log_dir)
        with pytest.raises(RuntimeError, match=IN_USE) as raised:
            model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, counter.callback])
        assert counter.callback.batches == 0
        assert int(model.optimizer.iterations) == 0
        assert f"pid {process.pid} on host" in str(raised.value)
        out, _ = process.communicate("go\n", timeout=300)
    finally:
        process.kill()
    val_loss = eval(out.strip().splitlines()[-1])  # The child's History.

    # The first fit's run is whole and alone: 3 epochs of 10 batches.
    run = epochjump.read_run(log_dir)
    assert run["loss"].step.tolist() == list(range(1, 31))
    assert run.epoch_starts.tolist() == [1, 11, 21]
    np.testing.assert_array_equal(run["loss"].val.value, val_loss)
    assert run.problems == ()
