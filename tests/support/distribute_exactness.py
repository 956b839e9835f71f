"""Exactness of EpochJumpCallback under tf.distribute.MirroredStrategy over two
logical CPUs; run as a script by test_distribute.py (devices must be set up
before TensorFlow starts). Exits non-zero on failure."""

import os
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from support.keras_fits import KerasLogRecorder  # noqa: E402
from support.keras_fits import batch_slices  # noqa: E402
from support.keras_fits import check_batch_values  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.keras_fits import evaluate_with_weights  # noqa: E402
from support.keras_fits import quiet_fit  # noqa: E402

BATCH, N = 32, 200  # 7 global batches per epoch, the last one of 8 samples.


def make_model(strategy):
    with strategy.scope():
        return dense_model()


def fit(model, x, y, callbacks):
    recorder = KerasLogRecorder(snapshot_weights=True)
    validation = (x[N:], y[N:])
    history = quiet_fit(
        model, x[:N], y[:N], callbacks + [recorder], BATCH, validation_data=validation
    )
    return recorder, history


def main(log_dir):
    x, y = digits(N + 64)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    # What Keras shows without epochjump, to check that it shows the same with.
    plain_recorder, plain_history = fit(make_model(strategy), x, y, [])
    recorder, history = fit(
        make_model(strategy), x, y, [epochjump.EpochJumpCallback(log_dir)]
    )
    assert history == plain_history, (history, plain_history)
    assert recorder.batch_logs == plain_recorder.batch_logs

    run = epochjump.read_run(log_dir)
    per_epoch = -(-N // BATCH)
    assert run.epoch_starts.tolist() == [1, per_epoch + 1], run.epoch_starts
    slices = batch_slices(N, BATCH) * 2
    sizes = np.array([s.stop - s.start for s in slices], np.float64)
    reference = make_model(tf.distribute.get_strategy())

    def keras_batch_metrics(b, rows):  # The global batch, both replicas' shares.
        weights_before = recorder.weights_before_batch[b]
        return evaluate_with_weights(reference, weights_before, x[rows], y[rows])

    check_batch_values(run, ("loss", "accuracy"), slices, keras_batch_metrics)
    for metric in ("loss", "accuracy"):
        series = run[metric]
        for epoch in range(2):
            mask = series.epoch == epoch
            running = np.cumsum(series.batch_value[mask] * sizes[mask]) / np.cumsum(
                sizes[mask]
            )
            np.testing.assert_allclose(series.running_mean[mask], running, rtol=1e-5)
            last = series.running_mean[mask][-1]
            assert abs(last - history[metric][epoch]) <= 1e-6 * abs(last), (
                metric,
                epoch,
                last,
                history[metric][epoch],
            )
        assert series.val.value.tolist() == history[f"val_{metric}"]
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
