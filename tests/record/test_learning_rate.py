"""Learning-rate marks and fit starts on real `model.fit` runs, against the
rate the optimizer itself reports before every batch."""

import keras
import numpy as np
import pytest
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump

BATCH, N = 32, 160  # 5 batches per epoch.
PER_EPOCH = N // BATCH


class RateBeforeEachBatch(keras.callbacks.Callback):
    """The optimizer's own learning rate for each batch, by global step."""

    def __init__(self):
        super().__init__()
        self.steps, self.rates = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.steps.append(int(keras.ops.convert_to_numpy(optimizer.iterations)) + 1)
        self.rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))

    def changes(self):
        """(steps, rates) where the rate differs from the batch before."""
        rates = np.array(self.rates)
        changed = np.r_[True, rates[1:] != rates[:-1]]
        return np.array(self.steps)[changed].tolist(), rates[changed].tolist()


class Plateau(keras.callbacks.Callback):
    """Reports a monitored value that never improves."""

    def on_epoch_end(self, epoch, logs=None):
        logs["plateau"] = 1.0


@pytest.fixture(scope="module")
def data():
    return digits(N)


def fit(model, data, log_dir, callbacks, epochs, initial_epoch=0):
    x, y = data
    observed = RateBeforeEachBatch()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        # epochjump's hooks run before the others': it must not read the rate
        # before LearningRateScheduler sets it.
        callbacks=[epochjump.EpochJumpCallback(log_dir), *callbacks, observed],
    )
    return observed


def test_reduce_on_plateau_marks_each_reduction(tmp_path, data):
    log_dir = tmp_path / "plateau"
    model = dense_model()
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="plateau", mode="min", factor=0.5, patience=1, min_delta=0.0
    )
    observed = fit(model, data, log_dir, [Plateau(), reduce], epochs=4)
    run = epochjump.read_run(log_dir)
    # Epoch 1 sets the best value; the rate halves after epochs 2 and 3.
    lr = np.float32(0.1)
    assert run.learning_rate.step.tolist() == [1, 2 * PER_EPOCH + 1, 3 * PER_EPOCH + 1]
    assert run.learning_rate.value.tolist() == [lr, lr / 2, lr / 4]
    assert (run.learning_rate.step.tolist(), run.learning_rate.value.tolist()) == (
        observed.changes()
    )
    assert run.fit_starts.tolist() == [1]
    jumps = epochjump.explain(run, "loss")
    assert [(j.learning_rate_before, j.learning_rate_after) for j in jumps] == [
        (lr, lr),
        (lr, lr / 2),
        (lr / 2, lr / 4),
    ]
    # Changed at epoch starts only: each change is its boundary's own.
    assert [j.learning_rate_scheduled for j in jumps] == [False] * 3


def test_step_decay_over_two_fits_and_initial_epoch(tmp_path, data):
    log_dir = tmp_path / "decay"
    model = dense_model()

    def step_decay(epoch, rate):
        return 0.2 * 0.1 ** (epoch // 2)

    scheduler = keras.callbacks.LearningRateScheduler(step_decay)
    first = fit(model, data, log_dir, [scheduler], epochs=3)
    second = fit(model, data, log_dir, [scheduler], epochs=6, initial_epoch=3)
    run = epochjump.read_run(log_dir)
    assert run.fit_starts.tolist() == [1, 3 * PER_EPOCH + 1]
    assert first.steps[0] == 1 and second.steps[0] == 3 * PER_EPOCH + 1
    want = [float(np.float32(step_decay(e, None))) for e in (0, 2, 4)]
    assert run.learning_rate.step.tolist() == [1, 2 * PER_EPOCH + 1, 4 * PER_EPOCH + 1]
    assert run.learning_rate.value.tolist() == want
    both = RateBeforeEachBatch()
    both.steps, both.rates = first.steps + second.steps, first.rates + second.rates
    assert (run.learning_rate.step.tolist(), run.learning_rate.value.tolist()) == (
        both.changes()
    )


@pytest.mark.parametrize(
    "schedule, formula",
    [
        (
            keras.optimizers.schedules.ExponentialDecay(0.1, 3, 0.5, staircase=True),
            lambda i: 0.1 * 0.5 ** (i // 3),
        ),
        (
            keras.optimizers.schedules.ExponentialDecay(0.1, 4, 0.9),
            lambda i: 0.1 * 0.9 ** (i / 4),
        ),
        (
            keras.optimizers.schedules.PiecewiseConstantDecay(
                [5, 12], [0.1, 0.05, 0.01]
            ),
            lambda i: 0.1 if i <= 5 else 0.05 if i <= 12 else 0.01,
        ),
    ],
    ids=["staircase", "every_step", "piecewise"],
)
def test_schedules_are_marked_where_they_change(tmp_path, data, schedule, formula):
    x, y = data
    log_dir = tmp_path / "schedule"
    model = dense_model()
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy")
    observed = fit(model, data, log_dir, [], epochs=4)
    run = epochjump.read_run(log_dir)
    steps, rates = observed.changes()
    assert run.learning_rate.step.tolist() == steps
    np.testing.assert_allclose(run.learning_rate.value, rates, rtol=1e-7, atol=0)
    # The batch ending at step s is trained with the rate at iteration s - 1.
    expected = [formula(s - 1) for s in steps]
    np.testing.assert_allclose(run.learning_rate.value, expected, rtol=1e-6)
    assert len(steps) > 1
    assert run.fit_starts.tolist() == [1]
    # A boundary's change is a schedule's step when the rate also changes
    # after the first batch of the epoch before or of the one after.
    rates = observed.rates

    def changes_inside(epoch):
        first = epoch * PER_EPOCH
        return any(
            rates[i] != rates[i - 1] for i in range(first + 1, first + PER_EPOCH)
        )

    jumps = epochjump.explain(run, "loss")
    assert [j.learning_rate_scheduled for j in jumps] == [
        changes_inside(e) or changes_inside(e + 1) for e in range(3)
    ]
