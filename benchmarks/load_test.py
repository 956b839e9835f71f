"""Load test: clients poll `series` and `jumps` while a Keras fit writes the run.

Starts, on 127.0.0.1 only: a training process (`model.fit` with
`EpochJumpCallback`, a short `flush_secs`, paced to about 60 batches a second,
with validation and train_eval), a `tensorboard` process on its logdir, and
`--clients` threads that poll for `--seconds`. Every answer is checked:

- `series`: steps 1..N with none missing (chunks are all or nothing), no NaN
  (a half-read chunk would read as NaN), epoch starts every STEPS_PER_EPOCH
  batches, and every epoch before the last visible one complete: all its
  batches, or its first and last when downsampled, and its val and
  train_eval; on full-resolution zooms each running mean is the mean of the
  epoch's batch values so far; a client never sees fewer batches than before.
- `jumps`: boundaries for epochs 0..k-1 in order, each between the epoch's
  last step and the next one's first, averaging ceil(10% of the epoch)
  batches, with val and train_eval; never fewer than before.

Then training stops and the clients poll `--idle-seconds` more, checked the
same way. Prints requests served, latency p50/p99, errors (HTTP, timeouts and
failed checks) and the RSS of the tensorboard process tree: it grows with the
data TensorBoard keeps (one protobuf per series per chunk), so whether
requests leak memory is read from the idle phase, when the data is constant.
Ends every process it started, also on errors.

Usage: python benchmarks/load_test.py [--seconds 120] [--clients 20]
           [--load-fast false|true] [--flush-secs 0.5] [--idle-seconds 30]
"""

import argparse
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

RUN = "live"
METRIC = "accuracy"
STEPS_PER_EPOCH = 40
START_TIMEOUT = 180
REQUEST_TIMEOUT = 30

TRAIN = """
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras, numpy as np, epochjump

rng = np.random.default_rng(0)
x = rng.normal(size=({n} + 256, 16)).astype("float32")
y = (x[:, :4].sum(axis=1) > 0).astype("float32")
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((16,)),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy", metrics=["accuracy"])

class Pace(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep({pace})

callback = epochjump.EpochJumpCallback(
    {log_dir!r}, train_eval_data=(x[:128], y[:128]), flush_secs={flush_secs}
)
model.fit(x[:{n}], y[:{n}], batch_size=32, epochs=100000, verbose=0,
          validation_data=(x[{n}:], y[{n}:]), callbacks=[callback, Pace()])
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--load-fast", choices=("false", "true"), default="false")
    parser.add_argument("--flush-secs", type=float, default=0.5)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    result = run_load_test(
        args.seconds, args.clients, args.load_fast, args.flush_secs, args.idle_seconds
    )
    print(report(result))
    print(json.dumps(result, sort_keys=True))
    return 0 if result["errors"] == 0 else 1


def run_load_test(seconds, clients, load_fast="false", flush_secs=0.5, idle=30.0):
    """Runs the load test; returns its figures as a dict (see `report`).

    After `seconds` of polling while the run is written, training stops and
    the clients poll `idle` seconds more: TensorBoard's memory grows with the
    data it keeps, so that is where "flat under requests" is measured.
    """
    with tempfile.TemporaryDirectory(prefix="epochjump-load-") as logdir:
        processes = []
        try:
            trainer = _start_training(logdir, flush_secs)
            processes.append(trainer)
            board, base = _start_tensorboard(logdir, load_fast)
            processes.append(board)
            _wait_for_batches(base, trainer, board)
            memory = _MemorySampler(board.pid)
            memory.start()
            started = time.monotonic()
            first = _get_json(base, "series", run=RUN, metric=METRIC)
            polled = _poll(base, clients, seconds)
            last = _get_json(base, "series", run=RUN, metric=METRIC)
            memory.stop()
            elapsed = time.monotonic() - started
            if trainer.poll() is not None:
                polled.fail(f"training exited early: {_output(trainer)}")
            _stop(trainer)
            final = _wait_until_ingested(base)
            idle_memory = _MemorySampler(board.pid)
            idle_memory.start()
            idle_polled = _poll(base, clients, idle)
            idle_memory.stop()
        finally:
            for process in reversed(processes):
                _stop(process)
    latencies = np.array(polled.latencies or [math.nan]) * 1000
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "load_fast": load_fast,
        "flush_secs": flush_secs,
        "requests": len(polled.latencies),
        "requests_by_route": dict(polled.by_route),
        "errors": polled.errors + idle_polled.errors,
        "first_errors": (polled.messages + idle_polled.messages)[:10],
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "batches_at_start": first["total_batches"],
        "batches_at_end": last["total_batches"],
        "max_boundaries_seen": polled.max_boundaries,
        **memory.figures(),
        "idle_seconds": idle,
        "idle_batches": final,
        "idle_requests": len(idle_polled.latencies),
        "idle_rss_start_mb": idle_memory.figures()["rss_start_mb"],
        "idle_rss_end_mb": idle_memory.figures()["rss_end_mb"],
        "idle_rss_peak_mb": idle_memory.figures()["rss_peak_mb"],
    }


def report(result):
    """The figures of `run_load_test` as a few lines of text."""
    by_route = ", ".join(
        f"{k} {v}" for k, v in sorted(result["requests_by_route"].items())
    )
    lines = [
        f"load test: {result['seconds']} s, {result['clients']} clients, "
        f"--load_fast={result['load_fast']}, flush_secs={result['flush_secs']}",
        f"training wrote batches {result['batches_at_start']} -> "
        f"{result['batches_at_end']} while polled; up to "
        f"{result['max_boundaries_seen']} epoch boundaries seen",
        f"requests served: {result['requests']} ({by_route}); "
        f"errors: {result['errors']}",
        f"latency: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms",
        f"tensorboard RSS: peak {result['rss_peak_mb']} MB; "
        f"{result['rss_start_mb']} MB at start, {result['rss_mid_mb']} MB "
        f"half-way, {result['rss_end_mb']} MB at the end",
        f"tensorboard RSS every tenth of the run, MB: {result['rss_tenths_mb']}",
        f"then, training stopped at {result['idle_batches']} batches: "
        f"{result['idle_requests']} requests in {result['idle_seconds']:g} s; "
        f"RSS {result['idle_rss_start_mb']} -> {result['idle_rss_end_mb']} MB "
        f"(peak {result['idle_rss_peak_mb']})",
    ]
    lines.extend(f"  error: {m}" for m in result["first_errors"])
    return "\n".join(lines)


class _Polled:
    """What the client threads saw; shared, so guarded by a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.by_route = {}
        self.errors = 0
        self.messages = []
        self.max_boundaries = 0

    def served(self, route, seconds):
        with self.lock:
            self.latencies.append(seconds)
            self.by_route[route] = self.by_route.get(route, 0) + 1

    def fail(self, message):
        with self.lock:
            self.errors += 1
            if len(self.messages) < 10:
                self.messages.append(message)

    def boundaries(self, count):
        with self.lock:
            self.max_boundaries = max(self.max_boundaries, count)


def _poll(base, clients, seconds):
    polled = _Polled()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(base, deadline, polled, seed))
        for seed in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * REQUEST_TIMEOUT)
    return polled


def _client(base, deadline, polled, seed):
    rng = random.Random(seed)
    seen_batches, seen_boundaries = 0, 0
    while time.monotonic() < deadline:
        epochs = max(1, seen_batches // STEPS_PER_EPOCH)
        zoom = rng.random() < 0.3 and seen_batches > STEPS_PER_EPOCH
        params = {"run": RUN, "metric": METRIC}
        if zoom:
            epoch = rng.randrange(epochs)
            params["start"] = epoch * STEPS_PER_EPOCH + 1
            params["end"] = params["start"] + 3 * STEPS_PER_EPOCH - 1
        try:
            answer = _timed(base, "series", params, polled)
            if answer is not None:
                for problem in check_series(answer, seen_batches, zoom):
                    polled.fail(f"series {params}: {problem}")
                if not zoom:
                    seen_batches = max(seen_batches, answer["total_batches"])
            answer = _timed(base, "jumps", {"run": RUN, "metric": METRIC}, polled)
            if answer is not None:
                for problem in check_jumps(answer, seen_boundaries):
                    polled.fail(f"jumps: {problem}")
                seen_boundaries = max(seen_boundaries, len(answer["boundaries"]))
                polled.boundaries(seen_boundaries)
        except Exception as e:  # noqa: BLE001 - an answer the checks choke on.
            polled.fail(f"unexpected answer: {type(e).__name__}: {e}")


def _timed(base, route, params, polled):
    start = time.perf_counter()
    try:
        answer = _get_json(base, route, **params)
    except (OSError, ValueError) as e:
        polled.fail(f"{route} {params}: {type(e).__name__}: {e}")
        return None
    polled.served(route, time.perf_counter() - start)
    return answer


def check_series(answer, seen_batches, zoom):
    """Consistency problems of one `series` answer, as a list of str."""
    spe = STEPS_PER_EPOCH
    batches = answer["batches"]
    steps = batches["step"]
    problems = []
    if steps != sorted(set(steps)):
        problems.append("steps not strictly increasing")
    if {len(values) for values in batches.values()} != {len(steps)}:
        return problems + ["batch arrays of different lengths"]
    start = answer["range"]["start"] if zoom else 1
    end = steps[-1] if steps else start - 1
    if steps and (steps[0] != start or answer["total_batches"] != end - start + 1):
        problems.append(
            f"batches missing: {answer['total_batches']} in steps {start}..{end}"
        )
    if not zoom and answer["total_batches"] < seen_batches:
        problems.append(f"went back from {seen_batches} to {answer['total_batches']}")
    for name in ("batch_value", "running_mean"):
        if any(not isinstance(v, (int, float)) for v in batches[name]):
            problems.append(f"{name} holds NaN or Inf (a half-read chunk)")
    starts = answer["epoch_starts"]
    if starts != [1 + spe * k for k in range(len(starts))]:
        problems.append(f"epoch starts {starts[:5]}...")
    if not steps:
        return problems
    last_epoch = (steps[-1] - 1) // spe
    first_epoch = (steps[0] - 1) // spe
    shown = set(steps)
    for kind in ("val", "train_eval"):
        evals = set(answer[kind]["step"])
        for epoch in range(first_epoch, last_epoch):
            if (epoch + 1) * spe not in evals:
                problems.append(f"epoch {epoch} complete without its {kind}")
    for epoch in range(first_epoch, last_epoch):
        ends = {epoch * spe + 1, (epoch + 1) * spe} & set(range(start, end + 1))
        if not ends <= shown:
            problems.append(f"epoch {epoch} shown without its first or last batch")
    if not answer["downsampled"]:
        problems.extend(_running_mean_problems(steps, batches))
    return problems


def _running_mean_problems(steps, batches):
    """Equal batches: a running mean is the plain mean of the epoch so far."""
    steps = np.array(steps)
    values = np.array(batches["batch_value"], np.float64)
    means = np.array(batches["running_mean"], np.float64)
    problems = []
    for epoch in np.unique((steps - 1) // STEPS_PER_EPOCH):
        rows = (steps - 1) // STEPS_PER_EPOCH == epoch
        if steps[rows][0] != epoch * STEPS_PER_EPOCH + 1:
            continue  # The epoch's start is outside the range.
        expected = np.cumsum(values[rows]) / np.arange(1, rows.sum() + 1)
        if not np.allclose(means[rows], expected, rtol=1e-4, atol=1e-6):
            problems.append(f"running means of epoch {epoch} disagree with batches")
    return problems


def check_jumps(answer, seen_boundaries):
    """Consistency problems of one `jumps` answer, as a list of str."""
    spe = STEPS_PER_EPOCH
    boundaries = answer["boundaries"]
    problems = []
    if len(boundaries) < seen_boundaries:
        problems.append(f"went back from {seen_boundaries} to {len(boundaries)}")
    for epoch, b in enumerate(boundaries):
        expected = (epoch, (epoch + 1) * spe, (epoch + 1) * spe + 1)
        if (b["epoch"], b["last_step"], b["first_next_step"]) != expected:
            problems.append(f"boundary {epoch}: {b['epoch']}, {b['last_step']}")
        # The level's window is chosen from the data: any of the epoch's batches.
        if not 1 <= b["level_batches"] <= spe:
            problems.append(f"boundary {epoch} fits {b['level_batches']} batches")
        for field in ("val", "train_eval", "jump", "lag", "progress"):
            if not isinstance(b[field], (int, float)):
                problems.append(f"boundary {epoch} has {field} {b[field]!r}")
        if not problems and abs(b["jump"] - b["lag"] - b["progress"]) > 1e-9:
            problems.append(f"boundary {epoch}: jump != lag + progress")
    return problems


class _MemorySampler:
    """Samples the RSS of a process and its children twice a second."""

    def __init__(self, pid):
        self._pid = pid
        self._samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._samples.append(_tree_rss(self._pid))
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._samples.append(_tree_rss(self._pid))

    def _run(self):
        while not self._stop.wait(0.5):
            self._samples.append(_tree_rss(self._pid))

    def figures(self):
        mb = [s / 2**20 for s in self._samples]
        return {
            "rss_start_mb": round(mb[0], 1),
            "rss_mid_mb": round(mb[len(mb) // 2], 1),
            "rss_end_mb": round(mb[-1], 1),
            "rss_peak_mb": round(max(mb), 1),
            "rss_tenths_mb": [
                round(mb[round(i * (len(mb) - 1) / 10)]) for i in range(11)
            ],
        }


def _tree_rss(pid):
    """Resident bytes of `pid` and its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return total


def _start_training(logdir, flush_secs):
    code = TRAIN.format(
        n=32 * STEPS_PER_EPOCH,
        pace=0.015,
        log_dir=os.path.join(logdir, RUN),
        flush_secs=flush_secs,
    )
    return _start([sys.executable, "-c", code])


def _start_tensorboard(logdir, load_fast):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    board = _start(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            logdir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            f"--load_fast={load_fast}",
            "--reload_interval",
            "1",
        ]
    )
    return board, f"http://127.0.0.1:{port}"


def _start(command):
    """Starts a process in its own session, its output in a temporary file (a
    pipe nobody reads would fill up and block it)."""
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.output = output
    return process


def _output(process):
    process.output.seek(0)
    return process.output.read().decode(errors="replace")[-3000:]


def _wait_for_batches(base, trainer, board):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for name, process in (("training", trainer), ("tensorboard", board)):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}: {_output(process)}"
                )
        try:
            runs = _get_json(base, "runs")["runs"]
            if any(r["run"] == RUN and r["batches"] > STEPS_PER_EPOCH for r in runs):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no batches served at {base} after {START_TIMEOUT} s")


def _wait_until_ingested(base):
    """Waits until TensorBoard serves the same number of batches twice in a
    row, 3 s apart; returns that number."""
    previous = None
    while True:
        batches = _get_json(base, "series", run=RUN, metric=METRIC)["total_batches"]
        if batches == previous:
            return batches
        previous = batches
        time.sleep(3)


def _get_json(base, route, **params):
    url = f"{base}/data/plugin/epochjump/{route}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
        return json.loads(response.read())


def _stop(process):
    """Ends a process this script started, and its process group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
    process.output.close()


if __name__ == "__main__":
    sys.exit(main())
