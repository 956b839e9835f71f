"""SIGTERM flushes what was buffered (and ends the process as it
would have, or runs the handler installed before); SIGKILL loses at most
`flush_secs`. Batches lost are counted over several real training processes."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import epochjump

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIES = 5
FLUSH_SECS = 10

TRAIN = textwrap.dedent(
    """
    import os, signal, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.path.insert(0, {tests!r})
    import keras, epochjump
    from support.keras_fits import dense_model, digits

    if {user_handler}:
        def handler(signum, frame):
            print("user handler", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, handler)

    class Report(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            print(int(self.model.optimizer.iterations), flush=True)
            time.sleep(0.02)

    # 200 batches per epoch (over 4 s): epoch-end flushes are rarer than
    # the signal, so what SIGTERM saves is up to flush_secs of batches.
    x, y = digits(1600)
    model = dense_model()
    cb = epochjump.EpochJumpCallback({log_dir!r}, flush_secs={flush_secs})
    model.fit(x, y, batch_size=8, epochs=1000, verbose=0, callbacks=[cb, Report()])
    """
)


def train_and_signal(log_dir, signum, user_handler=False, seed=0):
    """Trains in a subprocess, sends `signum` 1-5 s after step 30.

    Returns:
      `(trained, recorded, process)`: the last step the training printed, the
      steps read back, and the ended process (stdout read).
    """
    code = TRAIN.format(
        tests=TESTS,
        log_dir=str(log_dir),
        flush_secs=FLUSH_SECS,
        user_handler=user_handler,
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if line.strip() == "30":
                break
        timer = threading.Timer(
            random.Random(seed).uniform(1.0, 5.0), process.send_signal, [signum]
        )
        timer.start()
        lines += [line.strip() for line in process.stdout]
        process.wait(timeout=120)
        timer.cancel()
    finally:
        process.kill()
    steps = [int(line) for line in lines if line.isdigit()]
    try:
        recorded = epochjump.read_run(log_dir)["loss"].step.tolist()
    except ValueError:  # Killed before its first flush: nothing written.
        recorded = []
    process.printed = lines
    return steps[-1], recorded, process


def signal_tries(tmp_path, signum):
    """Trains and sends `signum` `TRIES` times (seeds 0, 1, ...); checks
    that each process ended by the signal's default action, as without
    epochjump, and recorded steps 1, 2, ...; returns `(batches printed,
    batches recorded)` of each try."""
    counts = []
    for attempt in range(TRIES):
        trained, recorded, process = train_and_signal(
            tmp_path / f"run{attempt}", signum, seed=attempt
        )
        assert process.returncode == -signum, (attempt, process.returncode)
        assert recorded == list(range(1, len(recorded) + 1)), (attempt, recorded)
        counts.append((trained, len(recorded)))
    return counts


@pytest.mark.slow
def test_sigterm_flushes_every_batch_and_ends_the_process_as_sigterm(tmp_path):
    counts = signal_tries(tmp_path, signal.SIGTERM)
    # The batch in flight may be recorded before it was printed.
    assert all(n in (trained, trained + 1) for trained, n in counts), counts
    lost = [max(0, trained - n) for trained, n in counts]
    print(f"SIGTERM: batches lost over {TRIES} tries: {lost}")
    assert lost == [0] * TRIES


@pytest.mark.slow
def test_sigterm_runs_the_handler_installed_before(tmp_path):
    trained, recorded, process = train_and_signal(
        tmp_path / "run", signal.SIGTERM, user_handler=True
    )
    assert process.returncode == 3
    assert "user handler" in process.printed
    assert recorded == list(range(1, len(recorded) + 1))
    assert len(recorded) >= trained


@pytest.mark.slow
def test_sigkill_loses_at_most_flush_secs_of_batches(tmp_path):
    lost = [trained - n for trained, n in signal_tries(tmp_path, signal.SIGKILL)]
    print(f"SIGKILL: batches lost over {TRIES} tries: {lost}")
    # Batches take >= 20 ms: flush_secs holds at most 500 of them.
    assert all(0 <= n <= FLUSH_SECS / 0.02 for n in lost)


def test_a_writer_opened_off_the_main_thread_works(tmp_path):
    errors = []

    def record():
        try:
            with epochjump.Writer(tmp_path / "run") as writer:
                writer.log_batch(1, {"loss": 1.0})
        except Exception as e:  # noqa: BLE001 - reported below.
            errors.append(e)

    thread = threading.Thread(target=record)
    thread.start()
    thread.join()
    assert errors == []
    assert epochjump.read_run(tmp_path / "run")["loss"].step.tolist() == [1]


def test_sigterm_while_not_training_keeps_the_users_handler(tmp_path):
    # A user's handler, installed after epochjump's, stays in charge.
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(os.path.dirname(epochjump.__file__))!r})
        import epochjump
        writer = epochjump.Writer({str(tmp_path / "run")!r})
        writer.log_batch(1, {{"loss": 1.0}})
        signal.signal(signal.SIGTERM, lambda s, f: print("mine", flush=True))
        os.kill(os.getpid(), signal.SIGTERM)
        print("alive", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mine", "alive"]
