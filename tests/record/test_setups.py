"""EpochJumpCallback across the shapes real `fit` calls take (TF backend)."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump

BATCH = 32


@pytest.fixture(scope="module")
def data():
    return digits(320)  # 10 batches of 32


def fit_and_read(tmp_path, model, *args, **kwargs):
    recorder = KerasLogRecorder()
    callbacks = [epochjump.EpochJumpCallback(tmp_path / "run"), recorder]
    callbacks += kwargs.pop("callbacks", [])
    history = model.fit(*args, verbose=0, callbacks=callbacks, **kwargs)
    return epochjump.read_run(tmp_path / "run"), recorder, history.history


def assert_running_means_are_keras_logs(run, recorder):
    for metric in run.metrics:
        logged = np.array([e[metric] for e in recorder.batch_logs], np.float32)
        np.testing.assert_array_equal(run[metric].running_mean, logged, metric)


def test_tf_dataset_of_unknown_cardinality(tmp_path, data):
    x, y = data
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .filter(lambda a, b: True)
        .batch(BATCH)
    )
    assert dataset.cardinality() == tf.data.UNKNOWN_CARDINALITY
    run, recorder, history = fit_and_read(tmp_path, dense_model(), dataset, epochs=2)
    # Keras's last call of an epoch finds no data, yet its optimizer counts
    # an iteration: epoch 2 starts at iterations + 1 = 12. No batch is
    # recorded for that call, and the metric state is left untouched.
    assert run.epoch_starts.tolist() == [1, 12]
    loss = run["loss"]
    assert loss.step.tolist() == list(range(1, 11)) + list(range(12, 22))
    assert_running_means_are_keras_logs(run, recorder)
    for epoch in (0, 1):
        assert loss.running_mean[loss.epoch == epoch][-1] == history["loss"][epoch]


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // BATCH

    def __getitem__(self, i):
        rows = slice(i * BATCH, (i + 1) * BATCH)
        return self.x[rows], self.y[rows]


def test_py_dataset_and_generator(tmp_path, data):
    x, y = data
    run, recorder, _ = fit_and_read(
        tmp_path / "a", dense_model(), Batches(x, y), epochs=2
    )
    assert run.epoch_starts.tolist() == [1, 11]
    assert_running_means_are_keras_logs(run, recorder)

    def generator():
        while True:
            for i in range(0, len(x), BATCH):
                yield x[i : i + BATCH], y[i : i + BATCH]

    run, recorder, _ = fit_and_read(
        tmp_path / "b", dense_model(), generator(), steps_per_epoch=4, epochs=3
    )
    assert run.epoch_starts.tolist() == [1, 5, 9]
    assert_running_means_are_keras_logs(run, recorder)


def test_validation_freq_and_split(tmp_path, data):
    x, y = data
    run, _, history = fit_and_read(
        tmp_path / "freq",
        dense_model(),
        x,
        y,
        batch_size=BATCH,
        epochs=3,
        validation_data=(x[:64], y[:64]),
        validation_freq=2,
    )
    assert run["loss"].val.epoch.tolist() == [1]
    assert run["loss"].val.value.tolist() == history["val_loss"]
    run, _, history = fit_and_read(
        tmp_path / "split",
        dense_model(),
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        validation_split=0.25,
    )
    assert run["accuracy"].val.value.tolist() == history["val_accuracy"]
    assert len(run["loss"]) == 2 * 8  # 240 training samples: 8 batches.


def test_multi_output_model(tmp_path, data):
    x, y = data
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(hidden)
    big = keras.layers.Dense(1, activation="sigmoid", name="big")(hidden)
    model = keras.Model(inputs, {"digit": digit, "big": big})
    model.compile(
        "sgd",
        loss={"digit": "sparse_categorical_crossentropy", "big": "binary_crossentropy"},
        metrics={"digit": ["accuracy"], "big": [keras.metrics.AUC(name="auc")]},
    )
    targets = {"digit": y, "big": (y >= 5).astype("float32")}
    run, recorder, history = fit_and_read(
        tmp_path, model, x, targets, batch_size=BATCH, epochs=2
    )
    assert set(run.metrics) == set(history)
    assert {"digit_accuracy", "big_auc", "digit_loss", "big_loss"} <= set(run.metrics)
    assert_running_means_are_keras_logs(run, recorder)
    assert np.isfinite(run["big_auc"].batch_value).all()


class CustomStep(keras.Model):
    """A model with its own train_step and metric trackers."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae = keras.metrics.MeanAbsoluteError(name="mae")

    def call(self, x):
        return self.out(self.hidden(x))

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            prediction = self(x, training=True)
            loss = keras.ops.mean(keras.ops.square(prediction[:, 0] - y))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.mae.update_state(y, prediction[:, 0])
        return {"loss": self.loss_tracker.result(), "mae": self.mae.result()}


def test_custom_train_step(tmp_path, data):
    x, y = data
    keras.utils.set_random_seed(0)
    model = CustomStep()
    model.compile(keras.optimizers.SGD(0.01))
    run, recorder, _ = fit_and_read(
        tmp_path, model, x, y.astype("float32"), batch_size=BATCH, epochs=2
    )
    assert run.metrics == ("loss", "mae")
    assert_running_means_are_keras_logs(run, recorder)
    loss = run["loss"]
    for epoch in (0, 1):  # Mean of scalars: the plain mean of batch values.
        mask = loss.epoch == epoch
        expected = np.cumsum(loss.batch_value[mask]) / np.arange(1, mask.sum() + 1)
        np.testing.assert_allclose(loss.running_mean[mask], expected, rtol=1e-5)


def test_early_stopping_mid_run(tmp_path, data):
    x, y = data
    # A falling loss never "improves" in max mode: stops after epoch 2 of 10.
    stop = keras.callbacks.EarlyStopping(monitor="loss", mode="max", patience=0)
    run, recorder, history = fit_and_read(
        tmp_path, dense_model(), x, y, batch_size=BATCH, epochs=10, callbacks=[stop]
    )
    assert len(history["loss"]) == 2
    assert run.epoch_starts.tolist() == [1, 11]
    assert len(run["loss"]) == 20
    assert_running_means_are_keras_logs(run, recorder)


def test_url_run_directory_through_fsspec(data):
    # fsspec's in-memory file system stands in for a bucket here (the tests of
    # tests/record/test_*bucket* use real S3 and GCS servers): the writer
    # puts one object per flush, the reader lists and reads them.
    import fsspec

    x, y = data
    log_dir = "memory://epochjump-test/run"
    dense_model().fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(log_dir)],
    )
    assert fsspec.filesystem("memory").ls("/epochjump-test/run")
    run = epochjump.read_run(log_dir)
    assert run.epoch_starts.tolist() == [1, 11]


RESUME = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import keras, epochjump
    from support.keras_fits import digits
    x, y = digits(320)
    model = keras.saving.load_model({checkpoint!r})
    model.fit(x, y, batch_size=32, initial_epoch={initial}, epochs={epochs},
              verbose=0, callbacks=[epochjump.EpochJumpCallback({log_dir!r})])
    """
)


def resume_in_new_process(checkpoint, log_dir, initial, epochs):
    code = RESUME.format(
        tests=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        checkpoint=str(checkpoint),
        log_dir=str(log_dir),
        initial=initial,
        epochs=epochs,
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_resume_in_a_new_process(tmp_path, data):
    x, y = data
    model = dense_model()
    log_dir = tmp_path / "run"
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(log_dir)],
    )
    model.save(tmp_path / "model.keras")
    resume_in_new_process(tmp_path / "model.keras", log_dir, initial=2, epochs=4)
    run = epochjump.read_run(log_dir)
    assert run.epoch_starts.tolist() == [1, 11, 21, 31]
    assert run["loss"].step.tolist() == list(range(1, 41))


@pytest.mark.slow
def test_resume_from_an_older_checkpoint_shows_the_newest_data(tmp_path, data):
    x, y = data
    model = dense_model()
    log_dir = tmp_path / "run"
    callback = epochjump.EpochJumpCallback(log_dir)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback])
    model.save(tmp_path / "epoch1.keras")
    model.fit(
        x,
        y,
        batch_size=BATCH,
        initial_epoch=1,
        epochs=3,
        verbose=0,
        callbacks=[callback],
    )  # Steps 11-30, to be superseded.
    resume_in_new_process(tmp_path / "epoch1.keras", log_dir, initial=1, epochs=2)
    run = epochjump.read_run(log_dir)
    assert run.epoch_starts.tolist() == [1, 11]
    loss = run["loss"]
    assert loss.step.tolist() == list(range(1, 21))
    # Steps 11-20 are the resumed run's, written last.
    newest = loss.wall_time[10:]
    assert newest.min() > loss.wall_time[:10].max()
