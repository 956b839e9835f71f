"""Times the tab's first answers on 20 runs served by a real `tensorboard`.

Writes `--runs` runs of `--batches` batches x 2 metrics each (10 epochs, a
chunk every `--chunk` batches, val and train_eval per epoch) with
`epochjump.Writer`, then per ingester (`--load_fast=false`, the Python one,
and `--load_fast=true`, the Rust data server) starts a `tensorboard` process
on 127.0.0.1 and waits until every run is loaded, without asking the
plugin: each run ends with a plain scalar in a later event file, and the
wait polls TensorBoard's scalars plugin for it. Then it times, over HTTP:

- `runs`: the first answer (the plugin has read nothing yet) and warm ones;
- `series` (default `max_points`) per run: the first answer and a warm one;
- under a new `/experiment/<id>/` prefix, `series` of the runs the plugin
  still holds decoded, then `runs` (the same logdir data, so nothing needs
  reading again).

It checks that every `runs` entry counts all batches and epochs (loading was
complete), then stops the process. `--repeats` starts a fresh `tensorboard`
that many times per ingester; figures are medians (first `series` over all
runs and repeats). With `--load_fast=true` it checks that the data server
binary ran (TensorBoard falls back to the Python ingester silently
otherwise). Prints figures; asserts nothing else.

Usage: python benchmarks/serving_benchmark.py [--runs 20] [--batches 50000]
           [--chunk 1000] [--repeats 3] [--load-fast both|false|true]
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.tensorboard_process import serve_tensorboard  # noqa: E402

import epochjump  # noqa: E402
from epochjump.serve.run_cache import CACHED_RUNS  # noqa: E402

EPOCHS = 10
METRICS = ("loss", "accuracy")
DONE_TAG = "epochjump_benchmark_done"
PREFIX = "/data/plugin/epochjump"


def write_runs(logdir, runs, batches, chunk):
    """Writes the runs, then one plain scalar per run in a later event file."""
    rng = np.random.default_rng(0)
    per_epoch = max(1, batches // EPOCHS)
    names = [f"run_{i:02d}" for i in range(runs)]
    for name in names:
        with epochjump.Writer(os.path.join(logdir, name), flush_secs=1e9) as writer:
            now = time.time()
            for start in range(0, batches, chunk):
                steps = np.arange(start + 1, min(start + chunk, batches) + 1)
                for epoch_start in range(start, start + len(steps)):
                    if epoch_start % per_epoch == 0:
                        writer.start_epoch(epoch_start + 1)
                position = (steps - 1) % per_epoch + 1
                loss = np.exp(-steps / batches) + 0.1 * rng.random(len(steps))
                accuracy = 1.0 - loss / 2
                writer.log_batches(
                    steps,
                    {"loss": loss, "accuracy": accuracy},
                    # Not Keras's exact running means: only the size matters.
                    {"loss": loss / position, "accuracy": accuracy / position},
                    wall_times=now + steps * 1e-3,
                )
                writer.flush()
                for end in steps[steps % per_epoch == 0]:
                    values = {"loss": 0.5, "accuracy": 0.75}
                    writer.log_eval("val", int(end), values)
                    writer.log_eval("train_eval", int(end), values)
    time.sleep(1.1)  # The marker files' names sort after epochjump's.
    for name in names:
        write_done_marker(os.path.join(logdir, name))
    return names


def write_done_marker(run_dir):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(run_dir)
    summary = summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=DONE_TAG, simple_value=1.0)]
    )
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=1, summary=summary))
    writer.close()


def get(base, path, **query):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as response:
        body = response.read()
    return time.perf_counter() - start, json.loads(body)


def all_loaded(names):
    def ready(base):
        _, tags = get(base, "/data/plugin/scalars/tags")
        return all(DONE_TAG in tags.get(name, {}) for name in names)

    return ready


def one_server(logdir, names, load_fast, batches, index):
    """Starts one tensorboard, times its answers, checks the counts."""
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        logdir,
        f"--load_fast={load_fast}",
        "--reload_interval",
        "1",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO / "plugin"))
    name = f"benchmark-load_fast_{load_fast}-{index}"
    figures = {}
    with serve_tensorboard(name, command, all_loaded(names), env=env) as base:
        time.sleep(2)  # One more reload cycle: every chunk is in.
        if load_fast == "true":
            check_data_server(base)
        figures["runs first"], listed = get(base, PREFIX + "/runs")
        figures["runs warm"] = statistics.median(
            get(base, PREFIX + "/runs")[0] for _ in range(5)
        )
        check_counts(listed, names, batches)
        first, warm = [], []
        for run in names:
            first.append(get(base, PREFIX + "/series", run=run, metric="loss")[0])
            warm.append(get(base, PREFIX + "/series", run=run, metric="loss")[0])
        figures["series first"] = first
        figures["series warm"] = warm
        experiment = f"/experiment/bench{index}"
        # The runs the plugin still holds decoded (it keeps the last 4 read),
        # then the run list, under an experiment ID not seen before.
        figures["new experiment series"] = [
            get(base, experiment + PREFIX + "/series", run=run, metric="loss")[0]
            for run in names[-CACHED_RUNS:]
        ]
        figures["new experiment runs"], listed = get(
            base, experiment + PREFIX + "/runs"
        )
        check_counts(listed, names, batches)
    return figures


def check_counts(listed, names, batches):
    by_name = {r["run"]: r for r in listed["runs"]}
    for name in names:
        entry = by_name.get(name)
        counted = entry and (entry["batches"], entry["epochs"])
        if counted != (batches, EPOCHS):
            raise RuntimeError(
                f"run {name} not fully loaded: batches, epochs = {counted}"
            )


def check_data_server(base):
    """Fails unless the `tensorboard` serving `base` runs a data server child
    (with `--load_fast=true`, TensorBoard falls back to the Python ingester
    when the binary cannot run)."""
    port = base.rsplit(":", 1)[1]
    table = subprocess.run(
        ["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True
    ).stdout
    processes = [line.split(None, 2) for line in table.splitlines()]
    parents = {
        pid
        for pid, _, args in processes
        if "tensorboard.main" in args and f"--port {port}" in args
    }
    if not any(
        ppid in parents and "tensorboard_data_server" in args
        for _, ppid, args in processes
    ):
        raise RuntimeError(
            f"--load_fast=true at {base} runs no data server binary (TensorBoard "
            "fell back to the Python ingester); see test-artifacts/"
        )


def ms(seconds):
    return f"{seconds * 1000:8.1f}ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--batches", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--load-fast", choices=("both", "false", "true"), default="both"
    )
    args = parser.parse_args()

    logdir = tempfile.mkdtemp(prefix="epochjump_serving_")
    try:
        start = time.perf_counter()
        names = write_runs(logdir, args.runs, args.batches, args.chunk)
        print(
            f"Wrote {args.runs} runs x {args.batches} batches x {len(METRICS)} "
            f"metrics, chunks of {args.chunk}, in {time.perf_counter() - start:.1f}s"
        )
        modes = ("false", "true") if args.load_fast == "both" else (args.load_fast,)
        for load_fast in modes:
            results = [
                one_server(logdir, names, load_fast, args.batches, i)
                for i in range(args.repeats)
            ]
            report(load_fast, results)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def report(load_fast, results):
    print(f"\n--load_fast={load_fast} ({len(results)} tensorboard starts)")
    for key in (
        "runs first",
        "runs warm",
        "series first",
        "series warm",
        "new experiment series",
        "new experiment runs",
    ):
        values = []
        for figures in results:
            value = figures[key]
            values.extend(value if isinstance(value, list) else [value])
        print(
            f"  {key:24s} median {ms(statistics.median(values))}  "
            f"max {ms(max(values))}  (n={len(values)})"
        )


if __name__ == "__main__":
    main()
