"""Measures what EpochJumpCallback costs a Keras `fit`, as ratios.

Runs interleaved rounds of `fit` (same process, one model per logger, each
round starting with the next logger) on a 784-128-10 MLP (batch 32, 16k
samples) and on a small conv net (3 conv layers, 32x32x3 input, batch 64, 4k
samples), and prints for each the median ratio of the wall time with each
logger to the wall time without any, the fixed cost per step that ratio
means, and the median ratio of the process's CPU time (less moved by other
load on a shared machine), each with the quartiles of the rounds' ratios;
then the bytes per batch per series of the event files the callback wrote.

Usage: [KERAS_BACKEND=tensorflow|jax|torch] python benchmarks/overhead.py
       [--pairs 15] [--epochs 1] [--models mlp,conv] [--no-keras-tensorboard]
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


def mlp():
    return [
        keras.Input((784,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]


def conv_net():
    return [
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ]


# name: (layers, input shape, samples, batch size)
BENCHMARKS = {
    "mlp": (mlp, (784,), 16384, 32),
    "conv": (conv_net, (32, 32, 3), 4096, 64),
}


def make_model(layers):
    model = keras.Sequential(layers())
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timed_fit(model, x, y, batch_size, epochs, callbacks):
    """Returns the (wall, CPU) seconds of one `fit`."""
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(
        x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks
    )
    return time.perf_counter() - start, time.process_time() - cpu


def event_bytes(path):
    return sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(path)
        for f in files
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--models", default="mlp,conv")
    parser.add_argument(
        "--no-keras-tensorboard",
        action="store_true",
        help="skip Keras's TensorBoard callback (needs TensorFlow)",
    )
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="epochjump-bench-")
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    try:
        for name in args.models.split(","):
            measure(name, args, os.path.join(scratch, name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(name, args, scratch):
    """Prints the overhead of each logger on benchmark `name`."""
    layers, shape, samples, batch_size = BENCHMARKS[name]
    rng = np.random.default_rng(0)
    x = rng.random((samples, *shape), dtype=np.float32)
    y = rng.integers(0, 10, samples)
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
    models = {variant: make_model(layers) for variant in variants}
    for variant, model in models.items():  # Warm up: trace every function once.
        warm = 4 * batch_size + batch_size // 2  # A partial batch too.
        timed_fit(model, x[:warm], y[:warm], batch_size, 1, variants[variant](-1))
    times = {variant: [] for variant in variants}
    names = list(models)
    for i in range(args.pairs):
        # Each round starts with another variant, so no logger always runs
        # right after the same one.
        for variant in names[i % len(names) :] + names[: i % len(names)]:
            model = models[variant]
            times[variant].append(
                timed_fit(model, x, y, batch_size, args.epochs, variants[variant](i))
            )
    cpu = {v: [t[1] for t in ts] for v, ts in times.items()}
    times = {v: [t[0] for t in ts] for v, ts in times.items()}
    base = times["none"]
    steps = args.epochs * -(-samples // batch_size)
    print(
        f"{name}: fit of {samples} samples, batch {batch_size}, "
        f"{args.epochs} epoch(s), {args.pairs} interleaved rounds"
    )
    print(
        f"  none: median {statistics.median(base):.3f} s "
        f"({statistics.median(base) / steps * 1e3:.2f} ms per step)"
    )
    for variant in variants:
        if variant == "none":
            continue
        ratios = [t / b for t, b in zip(times[variant], base)]
        extra = [(t - b) / steps * 1e3 for t, b in zip(times[variant], base)]
        cpu_ratios = [t / b for t, b in zip(cpu[variant], cpu["none"])]
        low, _, high = statistics.quantiles(ratios, n=4)
        cpu_low, _, cpu_high = statistics.quantiles(cpu_ratios, n=4)
        print(
            f"  {variant}: median ratio {statistics.median(ratios):.3f} "
            f"(quartiles {low:.3f}-{high:.3f}); "
            f"{statistics.median(extra):+.3f} ms per step; "
            f"CPU time ratio {statistics.median(cpu_ratios):.3f} "
            f"(quartiles {cpu_low:.3f}-{cpu_high:.3f})"
        )
    run = epochjump.read_run(os.path.join(scratch, "ej0"))
    series = 2 * len(run.metrics)
    size = event_bytes(os.path.join(scratch, "ej0"))
    print(
        f"  epochjump bytes per batch per series: "
        f"{size / (run.num_batches * series):.2f} "
        f"({size} bytes, {run.num_batches} batches, {series} series)"
    )


if __name__ == "__main__":
    main()
