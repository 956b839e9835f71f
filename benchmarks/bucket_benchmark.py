"""What a bucket costs: writing a fit to S3 vs disk, and reading runs back from it.

Starts moto's S3 server (as the tests do) and measures, A/B interleaved in
one run:

1. the same small Keras fit with `EpochJumpCallback` writing to local disk
   vs to `s3://`, in rounds of one fit each, alternating which goes first
   (a shared machine's load changes during the run): the median and spread
   of the per-round ratios of wall time and of the process's CPU time, and
   the time the training thread spends inside `Writer` calls (what writing
   costs the fit directly, least disturbed by other processes);
2. the first `runs` and the first `series` answers of a real `tensorboard`
   (Python ingester, without TensorFlow: boto3) on a logdir of R runs x B
   batches in the bucket vs the same logdir on disk (Rust data server and
   Python ingester); and `epochjump explain`'s read (`Logdir`) of both.

    python benchmarks/bucket_benchmark.py            # 20 runs x 50k batches
    python benchmarks/bucket_benchmark.py --quick    # 4 runs x 5k batches
    python benchmarks/bucket_benchmark.py --fit-only --rounds 20
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from support import isolation  # noqa: E402
from support import object_stores  # noqa: E402
from support import tensorboard_process  # noqa: E402

import epochjump  # noqa: E402
from epochjump.read.logdir import Logdir  # noqa: E402


class WriterClock:
    """Seconds the training thread spends inside the `Writer` calls the
    callback makes: what writing costs the fit directly, whatever else
    the machine is doing."""

    CALLS = ("open", "start_fit", "log_batches", "log_eval", "flush", "close")

    def __init__(self):
        self.secs = {}  # Call name -> seconds.
        for name in self.CALLS:
            method = getattr(epochjump.Writer, name)
            setattr(epochjump.Writer, name, self._timed(method))

    def _timed(self, method):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                secs = time.perf_counter() - start
                self.secs[method.__name__] = self.secs.get(method.__name__, 0) + secs

        return timed


def timed_fit(log_dir, samples, batch_size, epochs, clock):
    """Wall seconds, process CPU seconds, and seconds in `Writer` calls
    (a dict from call name)."""
    from support.keras_fits import dense_model
    from support.keras_fits import digits

    x, y = digits(samples)
    model = dense_model()
    clock.secs = {}
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        callbacks=[epochjump.EpochJumpCallback(log_dir)],
    )
    return (
        time.perf_counter() - start,
        time.process_time() - cpu,
        clock.secs,
    )


def ratio_words(what, disk, bucket):
    """One line: the medians, and the median per-round ratio with its
    bootstrap 95% interval, quartiles and range.

    Args:
      what: str, what was measured.
      disk, bucket: lists of seconds, one per round (the same fit).
    """
    ratios = sorted(b / d for d, b in zip(disk, bucket))
    low, mid, high = statistics.quantiles(ratios, n=4, method="inclusive")
    draw = random.Random(0)
    medians = sorted(
        statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(2000)
    )
    return (
        f"  {what}: disk median {statistics.median(disk):.2f} s, s3 median "
        f"{statistics.median(bucket):.2f} s; s3 / disk per round: median "
        f"{mid:.3f}x (95% bootstrap interval {medians[50]:.3f}x to "
        f"{medians[1949]:.3f}x), quartiles {low:.3f}x to {high:.3f}x, range "
        f"{ratios[0]:.3f}x to {ratios[-1]:.3f}x"
    )


def overhead_words(disk, bucket):
    """What writing to the bucket adds to the fit, three ways.

    Args:
      disk, bucket: lists of `timed_fit` results, one per round.
    """
    lines = [
        ratio_words(what, [d[i] for d in disk], [b[i] for b in bucket])
        for i, what in enumerate(("wall time", "CPU time of the process"))
    ]
    fit_secs = statistics.median(d[0] for d in disk)
    lines.append(
        f"  training thread inside Writer calls, median per fit (disk fit "
        f"{fit_secs:.2f} s):"
    )
    for calls in (("open",), ("close",), WriterClock.CALLS[1:-1]):
        ms = [
            1000 * statistics.median(sum(x[2].get(c, 0) for c in calls) for x in side)
            for side in (disk, bucket)
        ]
        lines.append(
            f"    {' + '.join(calls)}: disk {ms[0]:.1f} ms, s3 {ms[1]:.1f} ms "
            f"(s3 adds {(ms[1] - ms[0]) / 1000 / fit_secs:+.2%} of the fit)"
        )
    return "\n".join(lines)


def write_logdir(logdir, runs, batches, chunk=1000):
    for r in range(runs):
        with epochjump.Writer(f"{logdir}/run{r:02d}", flush_secs=1e9) as writer:
            for start in range(1, batches + 1, chunk):
                if (start - 1) % 5000 == 0:
                    writer.start_epoch(start, epoch=(start - 1) // 5000)
                for step in range(start, min(start + chunk, batches + 1)):
                    writer.log_batch(step, {"loss": 1.0 / step})
                writer.flush()


def get_json(url):
    with urllib.request.urlopen(url, timeout=600) as response:
        return json.load(response)


def first_answers(logdir, runs, load_fast, env):
    command = tensorboard_process.tensorboard_command(logdir, load_fast=load_fast)
    start = time.perf_counter()

    def all_listed(base):
        answer = get_json(f"{base}/data/plugin/epochjump/runs")["runs"]
        return len([r for r in answer if r["metrics"]]) == runs

    with tensorboard_process.serve_tensorboard(
        "bucket-benchmark", command, all_listed, env
    ) as base:
        runs_secs = time.perf_counter() - start
        query = urllib.parse.urlencode({"run": "run00", "metric": "loss"})
        t = time.perf_counter()
        get_json(f"{base}/data/plugin/epochjump/series?{query}")
        series_secs = time.perf_counter() - t
    return runs_secs, series_secs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=20, help="fits on each side")
    parser.add_argument("--samples", type=int, default=600, help="digits to fit")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fit-only", action="store_true", help="skip reading")
    args = parser.parse_args()
    fit_args = (args.samples, args.batch_size, args.epochs)
    runs, batches = (4, 5000) if args.quick else (20, 50000)

    with object_stores.running("s3", "s3-benchmark") as store:
        os.environ.update(store.env)
        local = tempfile.mkdtemp()
        clock = WriterClock()
        # Compiles, and starts the S3 client; not counted.
        timed_fit(os.path.join(local, "warmup"), *fit_args, clock)
        timed_fit(store.url("fits", "warmup"), *fit_args, clock)
        times = {"disk": [], "s3": []}
        for i in range(args.rounds):
            # A/B, then B/A: a machine getting busier or quieter during the
            # run weighs on both sides alike.
            order = ("disk", "s3") if i % 2 == 0 else ("s3", "disk")
            for name in order:
                log_dir = (
                    os.path.join(local, f"fit{i}")
                    if name == "disk"
                    else store.url("fits", f"fit{i}")
                )
                times[name].append(timed_fit(log_dir, *fit_args, clock))
        fit_batches = args.epochs * -(-args.samples // args.batch_size)
        print(
            f"fit ({args.epochs} epochs, {fit_batches} batches), {args.rounds} "
            "rounds, disk and s3 alternating:"
        )
        print(overhead_words(times["disk"], times["s3"]))
        if args.fit_only:
            return

        disk_logdir = os.path.join(local, "logs")
        bucket_logdir = store.url("logs")
        write_logdir(disk_logdir, runs, batches)
        write_logdir(bucket_logdir, runs, batches)
        print(f"logdir of {runs} runs x {batches} batches:")
        for name, logdir in (("disk", disk_logdir), ("s3", bucket_logdir)):
            t = time.perf_counter()
            reader = Logdir(logdir)
            for run in reader.run_names():
                reader.load(run)
            print(f"  epochjump read ({name}): {time.perf_counter() - t:.2f} s")
        no_tf = store.subprocess_env(isolation.env_without(("tensorflow",)))
        for name, logdir, load_fast in (
            ("disk, Rust data server", disk_logdir, True),
            ("disk, Python ingester", disk_logdir, False),
            ("s3, Python ingester", bucket_logdir, False),
        ):
            runs_secs, series_secs = first_answers(logdir, runs, load_fast, no_tf)
            print(
                f"  {name}: first runs listing all {runs} runs "
                f"{runs_secs:.2f} s (TensorBoard start included), first series "
                f"{series_secs:.2f} s"
            )


if __name__ == "__main__":
    main()
