"""EpochJumpCallback under tf.distribute (one process per strategy set-up)."""

import os
import subprocess
import sys

import pytest
from support.scripts import run_exact

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.slow
def test_mirrored_strategy_records_global_batch_values(tmp_path):
    run_exact(
        os.path.join(TESTS, "distribute_exactness.py"),
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

    from epochjump.record import callback

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    model = types.SimpleNamespace(
        distribute_strategy=types.SimpleNamespace(cluster_resolver=resolver)
    )
    assert callback.is_chief(model) is chief
    assert callback.is_chief(types.SimpleNamespace()) is True


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_only_the_chief_writes(tmp_path):
    """Two worker processes on loopback (Keras 2: Keras 3's own fit does not run
    under MultiWorkerMirroredStrategy)."""
    import importlib.util
    import json

    import numpy as np

    import epochjump

    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed; `make test` installs it")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(TESTS, "multiworker_worker.py"),
                    str(tmp_path / "run"),
                ],
                env={
                    **os.environ,
                    "TF_USE_LEGACY_KERAS": "1",
                    "TF_CONFIG": json.dumps(config),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stderr[-4000:]
            outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            process.kill()
    files = [f for f in os.listdir(tmp_path / "run") if f.startswith("events")]
    assert len(files) == 1, files  # The chief's; worker 1 wrote nothing.
    chief, other = outputs
    run = epochjump.read_run(tmp_path / "run")
    batches = len(chief["batch_logs"]) // 2
    assert run.epoch_starts.tolist() == [1, batches + 1]
    # Both workers ran the same global steps.
    assert chief["batch_logs"] == other["batch_logs"]
    for metric in ("loss", "accuracy"):
        series = run[metric]
        assert series.step.tolist() == list(range(1, 2 * batches + 1))
        assert np.isfinite(series.batch_value).all()
        for epoch in (0, 1):
            mask = series.epoch == epoch
            # Batches of equal size: the running mean is the plain mean so far.
            values = series.batch_value[mask]
            np.testing.assert_allclose(
                series.running_mean[mask],
                np.cumsum(values) / np.arange(1, len(values) + 1),
                rtol=1e-5,
            )
            # Global values: the epoch's last running mean is History's.
            assert series.running_mean[mask][-1] == np.float32(
                chief["history"][metric][epoch]
            )
