"""Measures what epochjump.ProgressBar costs a Keras `fit`, against Keras's own bar.

Runs interleaved pairs of `fit` in one process on two models of the same shape
(a 784-128-10 MLP, batch 32 unless told, random samples): one with Keras's own bar
(`verbose=1`), one with `epochjump.ProgressBar()` (which also installs the
exact batch capture), both printing to a file. Prints the median and the
quartiles of the per-pair ratios of wall time and of the process's CPU time
(less disturbed by other processes on a shared machine); the order within
each pair alternates.

Usage: [KERAS_BACKEND=tensorflow|jax|torch] python
       benchmarks/progress_bar_overhead.py [--pairs 25] [--samples 8192]
       [--batch-size 32]
"""

import argparse
import contextlib
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import epochjump  # noqa: E402


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timed_fit(model, x, y, epochs, callbacks, out, batch_size=32):
    with contextlib.redirect_stdout(out):
        start, cpu = time.perf_counter(), time.process_time()
        model.fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=1, callbacks=callbacks
        )
        return time.perf_counter() - start, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=25)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    keras_model, our_model = make_model(), make_model()
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryFile("w+") as out:
        # Warm-up: compile both train functions (and the capture) first.
        b = args.batch_size
        timed_fit(keras_model, x[:2048], y[:2048], 1, [], out, b)
        timed_fit(our_model, x[:2048], y[:2048], 1, [epochjump.ProgressBar()], out, b)
        for i in range(args.pairs):
            runs = {}
            order = ("keras", "ours") if i % 2 == 0 else ("ours", "keras")
            for name in order:
                if name == "keras":
                    runs[name] = timed_fit(
                        keras_model, x, y, args.epochs, [], out, args.batch_size
                    )
                else:
                    bar = epochjump.ProgressBar()
                    runs[name] = timed_fit(
                        our_model, x, y, args.epochs, [bar], out, args.batch_size
                    )
            ratios.append(runs["ours"][0] / runs["keras"][0])
            cpu_ratios.append(runs["ours"][1] / runs["keras"][1])
            print(
                f"pair {i + 1}: Keras's bar {runs['keras'][0]:.2f}s, ProgressBar "
                f"{runs['ours'][0]:.2f}s, wall ratio {ratios[-1]:.3f}, CPU ratio "
                f"{cpu_ratios[-1]:.3f}",
                flush=True,
            )
    for name, values in (("wall time", ratios), ("CPU time", cpu_ratios)):
        quartiles = statistics.quantiles(values, n=4)
        print(
            f"backend {keras.backend.backend()}, batch {args.batch_size}, {name}: "
            "ProgressBar / Keras's "
            f"bar = {statistics.median(values):.3f} (median of {len(values)} "
            f"interleaved pairs; quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})"
        )


if __name__ == "__main__":
    main()
