"""Times `epochjump.Writer` recording 1M batches x 2 metrics, and reading them.

Prints seconds for `log_batch` (one call per batch, the custom-loop API), for
`log_batches` (the Keras callback's path), for `read_run`, and the bytes per
batch per series on disk.

Usage: python benchmarks/writer_speed.py [--batches 1000000]
"""

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import epochjump


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.batches
    rng = np.random.default_rng(0)
    loss = rng.random(n, dtype=np.float32)
    accuracy = rng.random(n, dtype=np.float32)
    scratch = tempfile.mkdtemp(prefix="epochjump-writer-")
    epoch_len = 1000

    path = os.path.join(scratch, "per_batch")
    start = time.perf_counter()
    with epochjump.Writer(path) as writer:
        loss_list, accuracy_list = loss.tolist(), accuracy.tolist()
        for i in range(n):
            step = i + 1
            if i % epoch_len == 0:
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": loss_list[i], "accuracy": accuracy_list[i]})
    per_batch = time.perf_counter() - start

    path2 = os.path.join(scratch, "chunked")
    start = time.perf_counter()
    with epochjump.Writer(path2) as writer:
        for first in range(0, n, epoch_len):
            writer.start_epoch(first + 1)
            rows = slice(first, min(first + epoch_len, n))
            values = {"loss": loss[rows], "accuracy": accuracy[rows]}
            writer.log_batches(np.arange(rows.start, rows.stop) + 1, values, values)
    chunked = time.perf_counter() - start

    start = time.perf_counter()
    run = epochjump.read_run(path)
    read = time.perf_counter() - start
    assert run.num_batches == n
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    print(f"{n} batches x 2 metrics (4 series)")
    print(
        f"  log_batch, one call per batch: {per_batch:.2f} s "
        f"({per_batch / n * 1e6:.2f} us per batch)"
    )
    print(f"  log_batches, 1000 per call:    {chunked:.2f} s")
    print(f"  read_run:                      {read:.2f} s")
    print(f"  bytes per batch per series:    {size / (4 * n):.2f}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
