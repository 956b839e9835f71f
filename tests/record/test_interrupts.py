"""Training runs that end badly still leave readable data."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import epochjump

TRAIN = textwrap.dedent(
    """
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras, numpy as np, epochjump
    sys.path.insert(0, {tests!r})
    from support.keras_fits import dense_model, digits

    x, y = digits(640)
    model = dense_model()

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations)
            if step == {interrupt_at}:
                raise KeyboardInterrupt
            if {slow}:
                time.sleep(0.05)
                if step == 30:
                    print("step30", flush=True)

    cb = epochjump.EpochJumpCallback({log_dir!r}, flush_secs={flush_secs})
    model.fit(x, y, batch_size=32, epochs=50, verbose=0, callbacks=[cb, Stop()])
    """
)


def start_training(log_dir, interrupt_at=-1, slow=False, flush_secs=10):
    code = TRAIN.format(
        tests=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        log_dir=str(log_dir),
        interrupt_at=interrupt_at,
        slow=slow,
        flush_secs=flush_secs,
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_ctrl_c_flushes_what_was_buffered(tmp_path):
    # Interrupted at step 30, in epoch 2 (20 batches per epoch), long before
    # flush_secs: only the exit-time flush can have written batches 21-29.
    process = start_training(tmp_path / "run", interrupt_at=30)
    _, stderr = process.communicate(timeout=300)
    assert "KeyboardInterrupt" in stderr
    series = epochjump.read_run(tmp_path / "run")["loss"]
    assert series.step.tolist() == list(range(1, 31))
    assert epochjump.read_run(tmp_path / "run").epoch_starts.tolist() == [1, 21]


@pytest.mark.slow
def test_sigkill_loses_at_most_flush_secs(tmp_path):
    flush_secs = 0.5
    process = start_training(tmp_path / "run", slow=True, flush_secs=flush_secs)
    try:
        assert process.stdout.readline().strip() == "step30"
        time.sleep(2.0)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        killed_at = time.time()
    finally:
        process.kill()
    run = epochjump.read_run(tmp_path / "run")
    series = run["loss"]
    assert series.step.tolist() == list(range(1, len(series) + 1))
    # Batches take >= 50 ms; with 0.5 s between flushes at most ~10 are lost,
    # plus the batch in flight. What was flushed is all readable.
    assert len(series) >= 30
    assert killed_at - series.wall_time[-1] <= flush_secs + 1.0
