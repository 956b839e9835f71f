"""A logging tool must never lose a training run: bad log dirs fail before the
first batch, write failures during training warn once and keep data, NaN and
Inf losses are recorded and served."""

import json
import math
import os
import shutil
import tracemalloc
import warnings

import keras
import numpy as np
import pytest
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits
from support.keras_fits import quiet_fit
from support.plugin_client import as_json

import epochjump
from epochjump.record import event_file
from epochjump.record import marks
from epochjump.record import writer as writer_module

BATCH = 32
BATCHES_PER_EPOCH = 8
N = BATCH * BATCHES_PER_EPOCH
EPOCHS = 5


@pytest.fixture(scope="module")
def data():
    x, y = digits(N + 64)
    return (x[:N], y[:N]), (x[N:], y[N:])


class BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1


class AtEpochEnd(keras.callbacks.Callback):
    """Runs `actions[epoch]()` at the end of that (0-based) epoch; placed
    after EpochJumpCallback, so after its end-of-epoch flush."""

    def __init__(self, actions):
        super().__init__()
        self.actions = actions

    def on_epoch_end(self, epoch, logs=None):
        if epoch in self.actions:
            self.actions[epoch]()


def epochjump_warnings(caught):
    return [str(w.message) for w in caught if str(w.message).startswith("epochjump")]


def fit(log_dir, data, *extra_callbacks, epochs=EPOCHS):
    """A fit whose only flushes are at epoch ends; returns what Keras logged."""
    (x, y), validation = data
    model = dense_model()
    recorder = KerasLogRecorder()
    callback = epochjump.EpochJumpCallback(log_dir, flush_secs=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks = [callback, *extra_callbacks, recorder]
        history = quiet_fit(
            model, x, y, callbacks, BATCH, epochs, validation_data=validation
        )
    return history, recorder, epochjump_warnings(caught)


def unwritable_log_dirs(tmp_path):
    (tmp_path / "a_file").write_text("not a directory\n")
    yield "log_dir is a regular file", str(tmp_path / "a_file")
    yield "parent is a regular file", str(tmp_path / "a_file" / "run")
    # /sys refuses new files even to root (chmod does not stop root).
    if os.path.isdir("/sys") and not os.access("/sys", os.W_OK):
        yield "existing directory, not writable", "/sys"
    elif os.path.isdir("/sys"):
        probe = "/sys/epochjump-probe"
        try:
            open(probe, "wb").close()
        except OSError:
            yield "existing directory, not writable", "/sys"
        else:
            os.remove(probe)


def test_unwritable_log_dir_fails_before_the_first_batch(tmp_path, data):
    cases = list(unwritable_log_dirs(tmp_path))
    assert len(cases) >= 2
    (x, y), _ = data
    for case, log_dir in cases:
        model = dense_model()
        counter = BatchCounter()
        callback = epochjump.EpochJumpCallback(log_dir)
        with pytest.raises(OSError) as raised:
            model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, counter])
        message = str(raised.value)
        assert f"log_dir={log_dir!r}" in message, case
        assert "epochjump cannot write" in message, case
        assert counter.batches == 0, case
        assert int(model.optimizer.iterations) == 0, case


def test_directory_removed_mid_fit(tmp_path, data):
    log_dir = tmp_path / "run"
    # Removed after epoch 2 was written: what was in it is gone, training
    # goes on, and everything from epoch 3 on is in a new file.
    history, recorder, warned = fit(
        log_dir, data, AtEpochEnd({1: lambda: shutil.rmtree(log_dir)})
    )

    assert len(history["loss"]) == EPOCHS
    assert len(warned) == 1, warned
    assert "was removed during the run" in warned[0] and str(log_dir) in warned[0]
    assert_epochs_from(log_dir, 3, history, recorder)


def test_directory_replaced_by_a_file_then_restored(tmp_path, data):
    log_dir = tmp_path / "run"

    def replace_by_file():
        shutil.rmtree(log_dir)
        log_dir.write_text("someone else's file\n")

    # Epochs 3 and 4 cannot be written; they are kept and written at the end
    # of epoch 5, once the path is free again.
    history, recorder, warned = fit(
        log_dir, data, AtEpochEnd({1: replace_by_file, 3: log_dir.unlink})
    )

    assert len(history["loss"]) == EPOCHS
    assert len(warned) == 1, warned
    assert f"log_dir={str(log_dir)!r}" in warned[0]
    assert "not a directory" in warned[0]
    assert_epochs_from(log_dir, 3, history, recorder)


def assert_epochs_from(log_dir, first_epoch, history, recorder):
    """The run holds exactly epochs `first_epoch`.. (1-based), as Keras logged,
    numbered as Keras numbered them; the lost ones are named."""
    first_step = (first_epoch - 1) * BATCHES_PER_EPOCH + 1
    last_step = EPOCHS * BATCHES_PER_EPOCH
    run = epochjump.read_run(log_dir)
    series = run["loss"]
    assert series.step.tolist() == list(range(first_step, last_step + 1))
    # Epochs lost with the removed file have no batches: they start where
    # the first kept epoch starts.
    assert run.epoch_starts.tolist() == [first_step] * (first_epoch - 1) + list(
        range(first_step, last_step + 1, BATCHES_PER_EPOCH)
    )
    assert series.epoch.tolist() == [
        (step - 1) // BATCHES_PER_EPOCH for step in range(first_step, last_step + 1)
    ]
    logged = np.array([log["loss"] for log in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(series.running_mean, logged[first_step - 1 :])
    assert series.val.step.tolist() == list(
        range(first_step + BATCHES_PER_EPOCH - 1, last_step + 1, BATCHES_PER_EPOCH)
    )
    assert series.val.value.tolist() == history["val_loss"][first_epoch - 1 :]
    assert series.val.epoch.tolist() == list(range(first_epoch - 1, EPOCHS))
    lost = "1" if first_epoch == 2 else f"1-{first_epoch - 1}"
    assert run.problems == (
        f"No data for epoch{'s' if first_epoch > 2 else ''} {lost}: lost (for "
        "example the run directory was removed during training) or never "
        "recorded; the other epochs keep the numbers the training loop gave "
        "them",
    )


class FakeClock:
    """Stands in for the `time` module inside the writer and its event files."""

    def __init__(self):
        self.now = 0.0

    @classmethod
    def install(cls, monkeypatch):
        clock = cls()
        for module in (writer_module, marks, event_file):
            monkeypatch.setattr(module, "time", clock)
        return clock

    def monotonic(self):
        return self.now

    def time(self):
        return 1_700_000_000.0 + self.now


class FailingStore:
    """Makes every event-file write fail while `down`, like a remote store."""

    def __init__(self, monkeypatch):
        self.down = True
        self.attempts = 0
        write = event_file.EventFile.write

        def guarded_write(file, events):
            self.attempts += 1
            if self.down:
                raise ConnectionError("remote store down")
            return write(file, events)

        monkeypatch.setattr(event_file.EventFile, "write", guarded_write)


def test_failed_writes_keep_a_bounded_buffer_and_retry(tmp_path, monkeypatch):
    clock = FakeClock.install(monkeypatch)
    store = FailingStore(monkeypatch)
    log_dir = str(tmp_path / "run")
    writer = epochjump.Writer(log_dir, flush_secs=10, max_buffered_batches=50)
    values = {step: math.sin(step) for step in range(1, 202)}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.start_epoch(1)
        for step in range(1, 201):
            clock.now += 1
            writer.log_batch(step, {"loss": values[step]})
            assert writer.buffered_batches <= 50
        writer.log_eval("val", 200, {"loss": 0.5})
        with pytest.raises(OSError, match="remote store down") as raised:
            writer.flush()
        assert f"log_dir={log_dir!r}" in str(raised.value)
        assert "50 batches and 2 epoch values are not written yet" in str(raised.value)

        # One attempt every flush_secs (10 batches), not one per batch once
        # the buffer is full; the explicit flush() is the 21st.
        assert store.attempts == 21
        assert writer.dropped_batches == 150
        store.down = False
        clock.now += 10
        writer.log_batch(201, {"loss": values[201]})
    warned = epochjump_warnings(caught)
    assert len(warned) == 1, warned
    assert "remote store down" in warned[0] and log_dir in warned[0]
    assert writer.buffered_batches == 0
    writer.close()

    run = epochjump.read_run(log_dir)
    kept = list(range(151, 202))  # The newest 50 of the outage, then 201.
    assert run["loss"].step.tolist() == kept
    assert run["loss"].batch_value.tolist() == [values[s] for s in kept]
    assert run.epoch_starts.tolist() == [1]
    assert run["loss"].val.value.tolist() == [0.5]


def test_close_says_what_was_not_written(tmp_path, monkeypatch):
    FailingStore(monkeypatch)
    writer = epochjump.Writer(tmp_path / "run")
    writer.log_batches(np.arange(1, 8), {"loss": np.ones(7)}, {"loss": np.ones(7)})
    with pytest.raises(OSError, match="7 batches and 0 epoch values are not written"):
        writer.close()
    writer.close()  # Closed anyway: a second close is a no-op.


def test_buffered_arrays_are_copies(tmp_path):
    steps, values = np.arange(1, 4), np.array([0.5, 0.25, 0.125])
    writer = epochjump.Writer(tmp_path / "run")
    writer.log_batches(steps, {"loss": values}, {"loss": values}, 1e9 + steps)
    steps[:] = 7  # A loop that refills its arrays before the next flush.
    values[:] = np.nan
    writer.close()
    series = epochjump.read_run(tmp_path / "run")["loss"]
    assert series.step.tolist() == [1, 2, 3]
    assert series.batch_value.tolist() == [0.5, 0.25, 0.125]


def test_buffer_kept_through_an_outage_takes_8_bytes_per_value(tmp_path, monkeypatch):
    clock = FakeClock.install(monkeypatch)
    FailingStore(monkeypatch)
    writer = epochjump.Writer(tmp_path / "run", flush_secs=10)
    n = 20_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A first failed flush imports what writing needs, outside the count.
        writer.log_batch(0, {"loss": 0.5, "accuracy": 0.25})
        assert not writer.flush_or_warn()
        tracemalloc.start()
        for step in range(1, n + 1):
            clock.now += 1
            writer.log_batch(step, {"loss": 0.5, "accuracy": 0.25})
        kept, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert writer.buffered_batches == n + 1
    # Step, wall time and 4 series (2 metrics x batch value, running mean):
    # 6 x 8 bytes = 48 bytes per batch; as Python lists it would be ~200.
    assert kept / n < 60


def test_nan_and_inf_losses_with_terminate_on_nan_are_served(tmp_path, data):
    (x, y), _ = data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)])
    # A regression that diverges within a few batches.
    model.compile(keras.optimizers.SGD(1e6), "mse", metrics=["mae"])
    recorder = KerasLogRecorder()
    model.fit(
        x,
        y.astype("float32"),
        batch_size=BATCH,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[
            epochjump.EpochJumpCallback(tmp_path / "run"),
            keras.callbacks.TerminateOnNaN(),
            recorder,
        ],
    )
    logged = np.array([log["loss"] for log in recorder.batch_logs], np.float32)
    # TerminateOnNaN stopped at the first non-finite loss Keras reported.
    stop = int(np.flatnonzero(~np.isfinite(logged))[0]) + 1
    assert len(logged) == stop < BATCHES_PER_EPOCH

    answer = served_series(tmp_path, "run", "loss")
    batches = answer["batches"]
    assert batches["step"] == list(range(1, stop + 1))
    assert batches["running_mean"] == [as_json(v) for v in logged.astype(float)]
    assert batches["running_mean"][-1] in ("NaN", "Infinity")
    assert any(isinstance(v, str) for v in batches["batch_value"])


def served_series(logdir, run, metric):
    """The plugin's `series` answer, through TensorBoard's WSGI app."""
    from support import plugin_client

    _, provider = plugin_client.local_provider(logdir)
    client = plugin_client.client_for(plugin_client.load_plugin(provider), provider)
    response = client.get(
        plugin_client.PREFIX + "/series", query_string={"run": run, "metric": metric}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))
