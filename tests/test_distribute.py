"""EpochJumpCallback under tf.distribute (one process per strategy set-up)."""

import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.slow
def test_mirrored_strategy_records_global_batch_values(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(TESTS, "distribute_exactness.py"),
            str(tmp_path / "run"),
        ],
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exact")


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
    # Keras 3's own fit does not run under MultiWorkerMirroredStrategy
    # (keras-team/keras#20585), so the choice is checked on its own.
    import types

    import tensorflow as tf

    from epochjump import callback

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    model = types.SimpleNamespace(
        distribute_strategy=types.SimpleNamespace(cluster_resolver=resolver)
    )
    assert callback._is_chief(model) is chief
    assert callback._is_chief(types.SimpleNamespace()) is True
