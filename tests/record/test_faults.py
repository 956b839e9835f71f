"""Epochs keep Keras's numbers after lost data; a full disk leaves
no empty or torn file once it recovers; each distinct fault warns."""

import os
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from support.keras_fits import dense_model
from support.keras_fits import digits
from support.keras_fits import quiet_fit

import epochjump
from epochjump import cli

BATCH = 32
BATCHES_PER_EPOCH = 8
EPOCHS = 5


class AtEpochEnd:
    """A Keras callback running `actions[epoch]()` after epochjump's flush."""

    def __new__(cls, actions):
        import keras

        class _AtEpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch in actions:
                    actions[epoch]()

        return _AtEpochEnd()


def epochjump_warnings(caught):
    return [str(w.message) for w in caught if str(w.message).startswith("epochjump")]


def test_epochs_keep_keras_numbers_after_the_run_directory_is_removed(tmp_path):
    log_dir = tmp_path / "run"
    x, y = digits(BATCH * BATCHES_PER_EPOCH + 64)
    train, val = (x[:-64], y[:-64]), (x[-64:], y[-64:])
    model = dense_model()
    callback = epochjump.EpochJumpCallback(log_dir, flush_secs=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        remove = AtEpochEnd({1: lambda: shutil.rmtree(log_dir)})
        history = quiet_fit(
            model, *train, [callback, remove], BATCH, EPOCHS, validation_data=val
        )

    run = epochjump.read_run(log_dir)
    series = run["loss"]
    # Keras's epochs 3-5 (0-based 2-4) are what is left, under their numbers.
    assert sorted(set(series.epoch.tolist())) == [2, 3, 4]
    assert series.val.epoch.tolist() == [2, 3, 4]
    assert series.val.value.tolist() == history["val_loss"][2:]
    jumps = epochjump.explain(run, "loss")
    assert [j.epoch for j in jumps] == [2, 3]
    # What Keras printed at the end of its epoch 3 (float32 logs).
    assert [j.reported for j in jumps] == [
        float(np.float32(v)) for v in history["loss"][2:4]
    ]
    text = cli.explain_text(run, ["loss"], detail=True)
    assert "for epoch 3," in text and "for epoch 1," not in text
    assert "No data for epochs 1-2" in text


def test_writer_epochs_are_numbered_by_the_given_ordinal(tmp_path):
    with epochjump.Writer(tmp_path / "new") as writer:
        for epoch, first in ((4, 41), (5, 51)):
            writer.start_epoch(first, epoch=epoch)
            for step in range(first, first + 10):
                writer.log_batch(step, {"loss": 1.0 / step})
            writer.log_eval("val", first + 9, {"loss": float(epoch)})
    run = epochjump.read_run(tmp_path / "new")
    assert sorted(set(run["loss"].epoch.tolist())) == [4, 5]
    assert run["loss"].val.epoch.tolist() == [4, 5]
    assert run["loss"].val.value.tolist() == [4.0, 5.0]
    assert run.problems[-1].startswith("No data for epochs 1-4: lost")

    # Without ordinals (older writers), epochs are counted as before.
    with epochjump.Writer(tmp_path / "old") as writer:
        for first in (41, 51):
            writer.start_epoch(first)
            writer.log_batch(first, {"loss": 1.0})
    run = epochjump.read_run(tmp_path / "old")
    assert run["loss"].epoch.tolist() == [0, 1]
    assert run.problems == ()

    with pytest.raises(ValueError, match="epoch=-1"):
        epochjump.Writer(tmp_path / "bad").start_epoch(1, epoch=-1)


def test_every_removal_of_the_run_directory_warns(tmp_path):
    log_dir = tmp_path / "run"
    writer = epochjump.Writer(log_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(1, 4):
            writer.log_batch(step, {"loss": 1.0})
            writer.flush()
            shutil.rmtree(log_dir)
        writer.log_batch(4, {"loss": 1.0})
        writer.close()
    warned = epochjump_warnings(caught)
    assert len(warned) == 3, warned
    assert all("was removed during the run" in w for w in warned)
    assert len({w.split("'")[1] for w in warned}) == 3  # Three files named.


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr!r}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk, leave=0):
    """Fills `disk`, then frees `leave` bytes; returns the filler's path."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_a_full_disk_leaves_no_empty_or_torn_file_once_it_recovers(small_disk):
    log_dir = small_disk / "run"
    writer = epochjump.Writer(log_dir)
    writer.start_epoch(1)
    values = np.sin(np.arange(1, 20001))
    first = {"loss": values[:100]}
    writer.log_batches(np.arange(1, 101), first, first)
    writer.flush()
    # Room for part of the next chunk only: its record is torn.
    filler = fill(small_disk, leave=8192)
    steps = np.arange(101, 20001)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.log_batches(steps, {"loss": values[100:]}, {"loss": values[100:]})
        for _ in range(5):  # Retries, each failing on the full disk.
            assert writer.flush_or_warn() is False
        os.remove(filler)
        assert writer.flush_or_warn() is True
        writer.close()
    assert len(epochjump_warnings(caught)) == 1

    names = sorted(p.name for p in log_dir.iterdir())
    event_files = [n for n in names if n.startswith("events.out.tfevents.")]
    assert len(event_files) == 2, names  # The first file and the one after.
    assert all((log_dir / n).stat().st_size > 0 for n in event_files)
    run = epochjump.read_run(log_dir)
    assert run["loss"].step.tolist() == list(range(1, 20001))
    np.testing.assert_array_equal(run["loss"].batch_value, values.astype(np.float64))
    assert run.problems == ()
