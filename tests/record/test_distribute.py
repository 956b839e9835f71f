"""EpochJumpCallback under tf.distribute, and in multi-process jobs (JAX and
TensorFlow) whose chief alone writes one run of global values."""

import os

import pytest
from support import multihost
from support.object_stores import s3_store  # noqa: F401 - a pytest fixture
from support.object_stores import store_env  # noqa: F401 - a pytest fixture
from support.scripts import require
from support.scripts import run_exact

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_mirrored_strategy_records_global_batch_values(tmp_path):
    run_exact(
        os.path.join(TESTS, "support", "distribute_exactness.py"),
        tmp_path / "run",
        env={"KERAS_BACKEND": "tensorflow"},
        timeout=600,
    )


@pytest.mark.parametrize(
    "cluster, task_type, task_id, chief",
    [
        ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0, False),
        ({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0, True),
    ],
)
def test_only_the_chief_of_a_multi_worker_cluster_writes(
    cluster, task_type, task_id, chief
):
    # The choice for every kind of cluster, beyond the two-worker run below.
    import types

    import tensorflow as tf

    from epochjump.record import job

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    model = types.SimpleNamespace(
        distribute_strategy=types.SimpleNamespace(cluster_resolver=resolver)
    )
    assert job.is_chief(model) is chief
    assert job.processes(model) == 2
    assert job.is_chief(types.SimpleNamespace()) is True
    assert job.processes(types.SimpleNamespace()) == 1


# Two workers and one process differ only in the order float32 sums are taken
# (each worker sums its half of the batch, then the halves are added; the
# gradients likewise), so losses agree to a few units in the last place of
# float32 (eps 1.2e-7; measured: 2.1e-7 relative) and accuracies, counts of
# correct predictions, exactly.
LOSS_RTOL = 1e-6


def _assert_one_global_run(job_dir, tmp_path, workers, single):
    """The job's run in `job_dir` (a bucket URL), written by its chief only,
    equals the single-process fit's on the same global batches (in
    `tmp_path`), and both equal a numpy recomputation."""
    import numpy as np
    from support.keras_fits import digits

    import epochjump
    from epochjump import storage

    chief, other = workers
    # In a bucket, one event file per flush: all the chief's (its pid in
    # their names); worker 1 wrote nothing.
    files = sorted(storage.list_files(job_dir))
    assert files, job_dir
    for name in files:
        assert name.startswith("events") and f".{chief['pid']}." in name, files
    # Both workers saw the same global values, batch by batch.
    assert chief["batch_logs"] == other["batch_logs"]
    assert chief["history"] == other["history"]
    job = epochjump.read_run(job_dir)
    alone = epochjump.read_run(tmp_path / "single")
    batches = multihost.global_batches()
    per_epoch = len(batches) // multihost.EPOCHS
    assert job.epoch_starts.tolist() == [1, per_epoch + 1]
    weights = multihost.load_weights(tmp_path / "weights.npz")
    x, y = digits(multihost.TRAIN + multihost.VAL)
    recomputed = [
        multihost.batch_metrics(w, x[rows], y[rows])
        for w, rows in zip(weights, batches)
    ]
    for metric in ("loss", "accuracy"):
        series, expected = job[metric], alone[metric]
        assert series.step.tolist() == list(range(1, len(batches) + 1))
        assert expected.step.tolist() == series.step.tolist()
        check = _loss_close if metric == "loss" else np.testing.assert_array_equal
        check(series.batch_value, expected.batch_value)
        check(series.running_mean, expected.running_mean)
        check(series.batch_value, [r[metric] for r in recomputed])
        for epoch in range(multihost.EPOCHS):
            # Keras's History in the job's chief, bit for bit, and the
            # single-process fit's History.
            last = series.running_mean[series.epoch == epoch][-1]
            assert last == np.float32(chief["history"][metric][epoch])
            check(last, single["history"][metric][epoch])
        # A model replicated over processes gets no training-mode
        # evaluation (a warning says so).
        assert not len(series.train_eval_training_mode.value)
        assert "epochjump: no training-mode evaluation" in chief["stderr"]
        for evaluation in ("val", "train_eval"):
            got, want = getattr(series, evaluation), getattr(expected, evaluation)
            assert got.step.tolist() == want.step.tolist()
            check(got.value, want.value)
        assert series.val.value.tolist() == [
            np.float32(v) for v in chief["history"][f"val_{metric}"]
        ]


def _loss_close(got, expected):
    import numpy as np

    np.testing.assert_allclose(got, expected, rtol=LOSS_RTOL, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "tf_keras"])
def test_job_of_two_processes_writes_one_global_run(
    framework,
    tmp_path,
    s3_store,  # noqa: F811
    store_env,  # noqa: F811
):
    """Two processes fitting together into an S3 bucket, against one process
    on the same global batches from the same weights. JAX: joined by
    `jax.distributed`, fitting with `keras.distribution.DataParallel`;
    tf_keras: `MultiWorkerMirroredStrategy` workers (Keras 2: Keras 3's own
    fit does not run under this strategy)."""
    require(framework)
    store_env(s3_store)
    job_dir = s3_store.url(tmp_path.name, "job")
    *workers, single = multihost.run_processes(
        multihost.job(framework, job_dir, s3_store.env)
        + [
            multihost.single_process(
                framework, tmp_path / "single", tmp_path / "weights.npz"
            )
        ]
    )
    _assert_one_global_run(job_dir, tmp_path, workers, single)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "tf_keras"])
def test_job_trains_on_when_its_chief_cannot_write(framework, tmp_path):
    """A chief that cannot open its run folder warns once and trains on with
    the other process: raising would stop the chief alone, and leave the other
    waiting for it at the next collective step."""
    require(framework)
    (tmp_path / "file").write_text("not a folder")
    log_dir = tmp_path / "file" / "run"
    chief, other = multihost.run_processes(multihost.job(framework, log_dir))
    assert chief["history"] == other["history"]
    assert len(chief["history"]["loss"]) == multihost.EPOCHS
    assert chief["stderr"].count("epochjump: cannot record into") == 1
    assert f"cannot record into {str(log_dir)!r}" in chief["stderr"]
    assert "cannot record" not in other["stderr"]
    assert (tmp_path / "file").read_text() == "not a folder"
