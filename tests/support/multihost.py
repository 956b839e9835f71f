"""Multi-host jobs on this machine for the tests: worker processes on loopback
ports, and what their fits must equal.

A job's workers and the single-process fit it is compared with all train the
64-16-10 digits classifier (`keras_fits.dense_model`, in Keras 3 or
`tf_keras`) from the same `initial_weights`, on the same
global batches. `batch_metrics` recomputes a batch's loss and accuracy in
float64 numpy from the weights the single-process fit had before it, so the
recorded values are checked against code that shares nothing with Keras or
epochjump. Pure numpy and the standard library: the worker scripts import it
whatever their Keras.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np

SUPPORT = os.path.dirname(os.path.abspath(__file__))
# Seconds a whole job may take before its workers are killed.
TIMEOUT = 600
# Every job fits digits' first TRAIN samples for EPOCHS epochs in global
# batches of GLOBAL_BATCH (no partial batch: each worker gets an equal share),
# validates on the next VAL, and evaluates the first VAL as training subset.
GLOBAL_BATCH, TRAIN, VAL, EPOCHS = 32, 256, 64, 2


def global_batches():
    """The sample indices of each global batch of the fit, epoch after epoch."""
    starts = range(0, TRAIN, GLOBAL_BATCH)
    return [np.arange(s, s + GLOBAL_BATCH) for s in starts] * EPOCHS


def free_ports(count):
    """Returns `count` distinct free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def job(framework, log_dir, env=None):
    """The commands of a two-process job fitting into `log_dir`.

    Args:
      framework: "jax" (`jax.distributed` and `keras.distribution`) or
        "tf_keras" (`MultiWorkerMirroredStrategy`, Keras 2).
      log_dir: str or path, the run folder (a bucket URL too).
      env: dict of environment variables for the workers (a store's).

    Returns:
      A list of `(args, env)` for `run_processes`, chief first.
    """
    worker, env = _WORKERS[framework], {**_ENVS[framework], **(env or {})}
    if framework == "jax":
        (port,) = free_ports(1)
        return [([worker, log_dir, 2, index, port], env) for index in range(2)]
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    return [
        (
            [worker, log_dir],
            {
                **env,
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": {"worker": addresses},
                        "task": {"type": "worker", "index": index},
                    }
                ),
            },
        )
        for index in range(2)
    ]


def single_process(framework, log_dir, weights_path):
    """The command of the fit a `job(framework, ...)` must equal, alone in
    one process; it saves the weights before each batch to `weights_path`."""
    worker, env = _WORKERS[framework], _ENVS[framework]
    if framework == "jax":
        return [worker, log_dir, 1, 0, 0, weights_path], env
    return [worker, log_dir, weights_path], env


_WORKERS = {
    "jax": os.path.join(SUPPORT, "multihost_jax_worker.py"),
    "tf_keras": os.path.join(SUPPORT, "multihost_tf_worker.py"),
}
_ENVS = {"jax": {}, "tf_keras": {"TF_USE_LEGACY_KERAS": "1"}}


def run_processes(commands, timeout=TIMEOUT):
    """Runs worker processes together and returns what each printed last.

    Every process is killed when one fails, when `timeout` runs out, or when
    the caller is interrupted, so no worker outlives the test.

    Args:
      commands: list of `(args, env)`: a script and its arguments (run with
        this Python), and environment variables set on top of this process's.
      timeout: seconds for all of them together.

    Returns:
      list of dicts: each process's last stdout line, parsed as JSON, with
      its `stderr` added.
    """
    processes = [
        subprocess.Popen(
            [sys.executable, *map(str, args)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, env in commands
    ]
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            assert process.returncode == 0, stderr[-4000:]
            output = json.loads(stdout.strip().splitlines()[-1])
            outputs.append({**output, "stderr": stderr})
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


def initial_weights(shapes, seed=0):
    """Weights for a model whose `get_weights()` have these shapes: Glorot-
    uniform-like kernels and small biases, from numpy's generator."""
    rng = np.random.default_rng(seed)
    weights = []
    for shape in shapes:
        limit = np.sqrt(6.0 / sum(shape)) if len(shape) == 2 else 0.1
        weights.append(rng.uniform(-limit, limit, shape).astype("float32"))
    return weights


def save_weights(path, snapshots):
    """Saves a list (one per batch) of `get_weights()` lists to an .npz."""
    arrays = {f"{b}_{i}": w for b, ws in enumerate(snapshots) for i, w in enumerate(ws)}
    np.savez(path, **arrays)


def load_weights(path):
    """The list `save_weights` saved."""
    with np.load(path) as saved:
        snapshots = {}
        for key in saved.files:
            b, i = map(int, key.split("_"))
            snapshots.setdefault(b, {})[i] = saved[key]
    return [[ws[i] for i in sorted(ws)] for _, ws in sorted(snapshots.items())]


def batch_metrics(weights, x, y):
    """Loss (sparse categorical cross-entropy) and accuracy of the 64-16-10
    ReLU/softmax classifier with `weights` on one batch, in float64."""
    kernel1, bias1, kernel2, bias2 = (np.asarray(w, np.float64) for w in weights)
    hidden = np.maximum(np.asarray(x, np.float64) @ kernel1 + bias1, 0.0)
    logits = hidden @ kernel2 + bias2
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    return {
        "loss": float(-log_probs[rows, y].mean()),
        "accuracy": float((log_probs.argmax(axis=1) == y).mean()),
    }
