"""A writer at a URL puts its flushes from a background thread: training goes
on while the store is slow, and an unreachable store costs one warning.

The store is fsspec's in-memory file system under a scheme of its own,
whose puts the test holds back or fails (the bucket tests use real S3 and
GCS servers).
"""

import re
import threading
import time
import warnings

import keras
import numpy as np
import pytest
from fsspec import register_implementation
from fsspec.implementations.memory import MemoryFileSystem
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump
from epochjump import storage


class SlowStore(MemoryFileSystem):
    """`slowstore://`: puts wait while `released` is clear, fail while `down`."""

    protocol = "slowstore"
    store = {}
    pseudo_dirs = [""]
    released = threading.Event()
    waiting = threading.Event()  # A put waits for `released`.
    down = False
    puts_on = set()  # Names of the threads that put objects.

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.removeprefix("slowstore://"))

    def pipe_file(self, path, value, **kwargs):
        if SlowStore.down:
            raise ConnectionError("store down")
        SlowStore.puts_on.add(threading.current_thread().name)
        SlowStore.waiting.set()
        try:
            if not SlowStore.released.wait(60):
                raise TimeoutError("the test never released the store")
        finally:
            SlowStore.waiting.clear()
        super().pipe_file(path, value, **kwargs)


@pytest.fixture
def slow_store():
    register_implementation("slowstore", SlowStore, clobber=True)
    SlowStore.store.clear()
    SlowStore.released.set()
    SlowStore.down = False
    SlowStore.puts_on.clear()
    yield SlowStore
    SlowStore.released.set()
    SlowStore.down = False


class HoldStoreDuringEpochs(keras.callbacks.Callback):
    """Holds the store's puts from the start of the fit to the end of its
    last epoch, and counts the batches trained while a put waits."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs
        self.trained_while_a_put_waits = 0

    def on_train_begin(self, logs=None):
        SlowStore.released.clear()  # After epochjump's first put, at open.

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            # The first epoch's flush is in flight, held.
            assert SlowStore.waiting.wait(30)

    def on_train_batch_end(self, batch, logs=None):
        if SlowStore.waiting.is_set():
            self.trained_while_a_put_waits += 1

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epochs - 1:
            SlowStore.released.set()


@pytest.mark.slow
def test_fit_trains_on_while_the_store_holds_a_put(slow_store):
    url = "slowstore://held/run"
    x, y = digits(320)
    recorder = KerasLogRecorder()
    held = HoldStoreDuringEpochs(epochs=3)
    dense_model().fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(url), recorder, held],
    )
    # Epochs 2 and 3 (10 batches each) trained while epoch 1's put waited.
    assert held.trained_while_a_put_waits == 20
    assert slow_store.puts_on == {
        threading.main_thread().name,  # The header-only object, at open.
        f"epochjump upload {url}",
    }
    # The end of the fit waited for the held puts: everything is there.
    run = epochjump.read_run(url)
    logged = np.array([logs["loss"] for logs in recorder.batch_logs], np.float32)
    np.testing.assert_array_equal(run["loss"].running_mean, logged)
    assert run.epoch_starts.tolist() == [1, 11, 21] and run.problems == ()


WARNING = (
    "epochjump: writing to log_dir='slowstore://down/run' failed "
    "(ConnectionError: store down); {n} batches and {m} epoch values are not "
    "written yet; they stay in memory (at most 50 batches) and are retried "
    "after 1000 s, then less and less often (up to every 300 s) while the "
    "store stays unreachable; what is still not written when the writer "
    "closes is lost"
)


def test_unreachable_store_warns_once_keeps_the_newest_batches(slow_store):
    url = "slowstore://down/run"
    slow_store.down = True
    writer = epochjump.Writer(url, flush_secs=1000, max_buffered_batches=50)
    values = {step: np.sin(step) for step in range(1, 202)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.start_epoch(1, epoch=0)
        for step in range(1, 201):
            # Handed to the upload thread each time 50 are buffered.
            writer.log_batch(step, {"loss": values[step]})
        with pytest.raises(OSError, match="store down"):
            writer.flush()  # Waits for a put, which fails.
        assert writer.dropped_batches == 150
        assert writer.buffered_batches == 50
        writer.log_batch(201, {"loss": values[201]})
        slow_store.down = False
        writer.close()
    assert writer.dropped_batches == 151  # 201 came in over the cap of 50.
    ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert len(ours) == 1, ours
    pattern = re.escape(WARNING).replace(r"\{n\}", r"\d+").replace(r"\{m\}", "2")
    assert re.fullmatch(pattern, ours[0]), ours[0]

    run = epochjump.read_run(url)
    kept = list(range(152, 202))  # The newest 50.
    assert run["loss"].step.tolist() == kept
    assert run["loss"].batch_value.tolist() == [values[s] for s in kept]
    assert run.epoch_starts.tolist() == [1] and run.problems == ()


def test_close_waits_for_the_put_in_flight(slow_store):
    url = "slowstore://closing/run"
    writer = epochjump.Writer(url, flush_secs=1000)
    writer.open()
    slow_store.released.clear()
    writer.log_batches(np.arange(1, 8), {"loss": np.ones(7)}, {"loss": np.ones(7)})
    assert writer.flush_or_warn()  # Handed over; returns at once.
    assert slow_store.waiting.wait(30)
    assert writer.buffered_batches == 7
    threading.Timer(0.5, slow_store.released.set).start()
    writer.close()
    assert writer.buffered_batches == 0
    assert len(storage.list_files(url)) == 2  # The header-only object, then 7.
    assert epochjump.read_run(url)["loss"].step.tolist() == list(range(1, 8))


def test_a_restart_hides_a_flush_put_after_it(slow_store):
    # A flush is dated when handed over, not when put: an epoch start for an
    # earlier step, made while the flush waits its turn, still hides it.
    url = "slowstore://restart/run"
    writer = epochjump.Writer(url, flush_secs=1000)
    writer.open()
    slow_store.released.clear()
    writer.start_epoch(1, epoch=0)
    for first in (1, 11):  # The first flush's put waits; the second queues.
        steps = np.arange(first, first + 10)
        writer.log_batches(steps, {"loss": np.ones(10)}, {"loss": np.ones(10)})
        writer.flush_or_warn()
        assert slow_store.waiting.wait(30)
    time.sleep(0.01)  # The wall clock moves on before the restart.
    writer.start_epoch(6, epoch=1)
    writer.log_batches(np.arange(6, 9), {"loss": np.zeros(3)}, {"loss": np.zeros(3)})
    slow_store.released.set()
    writer.close()
    series = epochjump.read_run(url)["loss"]
    assert series.step.tolist() == list(range(1, 9))
    assert series.batch_value.tolist() == [1.0] * 5 + [0.0] * 3
