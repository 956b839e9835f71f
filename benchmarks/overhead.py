"""Measures what EpochJumpCallback costs a Keras `fit`, as ratios.

Runs interleaved pairs of `fit` (same process, same model shape) on a
784-128-10 MLP, batch 32, 16k samples, and prints the median ratio of the
wall time with each logger to the wall time without any, plus the bytes per
batch per series of the event files the callback wrote.

Usage: [KERAS_BACKEND=tensorflow|jax|torch] python benchmarks/overhead.py
       [--pairs 7] [--epochs 1] [--no-keras-tensorboard]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import epochjump  # noqa: E402


def make_model():
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timed_fit(model, x, y, epochs, callbacks):
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)
    return time.perf_counter() - start


def event_bytes(path):
    return sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(path)
        for f in files
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--no-keras-tensorboard",
        action="store_true",
        help="skip Keras's TensorBoard callback (needs TensorFlow)",
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((16384, 784), dtype=np.float32)
    y = rng.integers(0, 10, 16384)
    scratch = tempfile.mkdtemp(prefix="epochjump-bench-")
    variants = {
        "none": lambda i: [],
        "epochjump": lambda i: [
            epochjump.EpochJumpCallback(os.path.join(scratch, f"ej{i}"))
        ],
        "keras_tensorboard_batch": lambda i: [
            keras.callbacks.TensorBoard(
                os.path.join(scratch, f"tb{i}"), update_freq="batch"
            )
        ],
    }
    if args.no_keras_tensorboard:
        del variants["keras_tensorboard_batch"]
    models = {name: make_model() for name in variants}
    for name, model in models.items():  # Warm up: trace every function once.
        timed_fit(model, x[:2048], y[:2048], 1, variants[name](-1))
    times = {name: [] for name in variants}
    for i in range(args.pairs):
        for name, model in models.items():
            times[name].append(timed_fit(model, x, y, args.epochs, variants[name](i)))
    base = times["none"]
    print(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}: fit of "
        f"{len(x)} samples, batch 32, {args.epochs} epoch(s), "
        f"{args.pairs} interleaved rounds"
    )
    print(f"  none: median {statistics.median(base):.3f} s")
    for name in variants:
        if name == "none":
            continue
        ratios = [t / b for t, b in zip(times[name], base)]
        print(
            f"  {name}: median ratio {statistics.median(ratios):.3f} "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
        )
    run = epochjump.read_run(os.path.join(scratch, "ej0"))
    series = 2 * len(run.metrics)
    size = event_bytes(os.path.join(scratch, "ej0"))
    print(
        f"  epochjump bytes per batch per series: "
        f"{size / (run.num_batches * series):.2f} "
        f"({size} bytes, {run.num_batches} batches, {series} series)"
    )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
