"""Measures how fast the Epoch Jump routes answer on a run of 1M batches.

Writes one run of 1,000,000 batches x 2 metrics (10 epochs, a chunk every
10,000 batches as `flush_secs` would make) with `epochjump.Writer`, loads it
with TensorBoard's Python ingester, and times `series` and `jumps` through the
WSGI app: the first request after TensorBoard loaded the run (the plugin
decodes and caches it), warm requests (median), and the first request after
the run grew by one chunk (the plugin reads the run again). Then the same
through the Rust data server (`--load_fast=true`'s ingester). Prints figures
and answer sizes; asserts nothing.

Usage: python benchmarks/series_benchmark.py [--batches 1000000] [--repeats 7]
"""

import argparse
import gzip
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tensorboard import context as tb_context  # noqa: E402
from tensorboard.backend import application  # noqa: E402
from tensorboard.backend.event_processing import data_provider  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_multiplexer  # noqa: E402
from tensorboard.data import provider as provider_lib  # noqa: E402
from tensorboard.data import server_ingester  # noqa: E402
from tensorboard.plugins import base_plugin  # noqa: E402
from tensorboard.util import grpc_util  # noqa: E402
from werkzeug import test as werkzeug_test  # noqa: E402

import epochjump  # noqa: E402
from epochjump import metadata  # noqa: E402
from epochjump.serve.loader import EpochJumpLoader  # noqa: E402

PREFIX = "/data/plugin/epochjump"
EPOCHS = 10
CHUNK = 10_000
ROUTES = {
    "series (default 2000 points)": "/series?run=big&metric=loss",
    "series zoom (10k steps)": "/series?run=big&metric=loss&start=500000&end=509999",
    "series max_points=100000": "/series?run=big&metric=loss&max_points=100000",
    "jumps": "/jumps?run=big&metric=loss",
}


def write_run(log_dir, batches, first_step=1):
    """Writes `batches` batches of loss and accuracy, 10 epochs, 10k chunks."""
    rng = np.random.default_rng(0)
    per_epoch = max(1, batches // EPOCHS)
    with epochjump.Writer(log_dir, flush_secs=1e9) as writer:
        for start in range(0, batches, CHUNK):
            steps = np.arange(
                first_step + start, first_step + min(start + CHUNK, batches)
            )
            if start % per_epoch == 0:
                writer.start_epoch(int(steps[0]))
            since = time.time()
            position = (steps - first_step) % per_epoch + 1
            loss = np.exp(-steps / batches) + 0.1 * rng.random(len(steps))
            accuracy = 1.0 - loss / 2
            writer.log_batches(
                steps,
                {"loss": loss, "accuracy": accuracy},
                # Not Keras's exact running means: only the size matters here.
                {"loss": loss / position, "accuracy": accuracy / position},
                wall_times=np.linspace(since, time.time(), len(steps)),
            )
            writer.flush()
            if (start + CHUNK) % per_epoch == 0:
                last = int(steps[-1])
                writer.log_eval("val", last, {"loss": 0.5, "accuracy": 0.75})


def make_client(provider):
    flags = argparse.Namespace(samples_per_plugin={})
    loader = EpochJumpLoader()
    loader.fix_flags(flags)
    plugin = loader.load(base_plugin.TBContext(data_provider=provider, flags=flags))
    return werkzeug_test.Client(
        application.TensorBoardWSGI([plugin], data_provider=provider)
    )


def timed_get(client, route):
    start = time.perf_counter()
    response = client.get(PREFIX + route)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{route}: {response.status_code} {response.get_data()}")
    return elapsed, response.get_data()


def measure(provider, repeats, label):
    """Prints first-request (fresh plugin) and warm times for every route."""
    print(f"\n{label}")
    print(f"  {'route':32s} {'first':>9s} {'warm':>9s} {'bytes':>10s} {'gzip':>9s}")
    for name, route in ROUTES.items():
        firsts = []
        for _ in range(repeats):
            client = make_client(provider)  # an empty cache, like a fresh start
            elapsed, body = timed_get(client, route)
            firsts.append(elapsed)
        warm = [timed_get(client, route)[0] for _ in range(repeats)]
        print(
            f"  {name:32s} {ms(statistics.median(firsts))} "
            f"{ms(statistics.median(warm))} {len(body):10d} "
            f"{len(gzip.compress(body, 3)):9d}"
        )


def ms(seconds):
    return f"{seconds * 1000:7.1f}ms"


def wait_for_rust(provider, batches, timeout=300):
    """Waits until the data server has every chunk of the run."""
    deadline = time.monotonic() + timeout
    tag = metadata.tag_for(metadata.BATCH_STEPS)
    while time.monotonic() < deadline:
        listing = provider.list_tensors(
            tb_context.RequestContext(),
            experiment_id="",
            plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=provider_lib.RunTagFilter(runs=["big"], tags=[tag]),
        )
        series = listing.get("big", {}).get(tag)
        if series is not None and series.max_step >= batches:
            return
        time.sleep(0.2)
    raise TimeoutError("the data server did not load the run in time")


def measure_growth(provider, logdir, batches, wait, repeats):
    """Times `series` after one more chunk (one more epoch) lands in the run.

    Args:
      provider: the data provider.
      logdir: str, the logdir holding run "big".
      batches: int, the batches the run holds now.
      wait: function of the new batch count; returns once the ingester has it.
      repeats: int.

    Returns:
      The new batch count.
    """
    route = ROUTES["series (default 2000 points)"]
    client = make_client(provider)
    timed_get(client, route)
    write_run(os.path.join(logdir, "big"), CHUNK, batches + 1)
    start = time.perf_counter()
    wait(batches + CHUNK)
    print(f"  ingester took {ms(time.perf_counter() - start)} to see {CHUNK} more")
    elapsed, _ = timed_get(client, route)
    print(f"  series after the run grew (re-read): {ms(elapsed)}")
    warm = [timed_get(client, route)[0] for _ in range(repeats)]
    print(f"  series warm again: {ms(statistics.median(warm))}")
    return batches + CHUNK


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-rust", action="store_true", help="skip the data server")
    args = parser.parse_args()

    logdir = tempfile.mkdtemp(prefix="epochjump_bench_")
    try:
        start = time.perf_counter()
        write_run(os.path.join(logdir, "big"), args.batches)
        print(
            f"Wrote {args.batches} batches x 2 metrics in {EPOCHS} epochs, "
            f"{-(-args.batches // CHUNK)} chunks, in {time.perf_counter() - start:.1f}s"
        )
        batches = python(logdir, args.batches, args.repeats)
        if not args.no_rust:
            rust(logdir, batches, args.repeats)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def python(logdir, batches, repeats):
    """Times the routes over TensorBoard's Python ingester."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={metadata.PLUGIN_NAME: 0}
    )
    multiplexer.AddRunsFromDirectory(logdir)
    start = time.perf_counter()
    multiplexer.Reload()
    print(f"\nPython ingester loaded the logdir in {ms(time.perf_counter() - start)}")
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    measure(provider, repeats, "Python ingester (--load_fast=false)")
    return measure_growth(
        provider, logdir, batches, lambda _: multiplexer.Reload(), repeats
    )


def rust(logdir, batches, repeats):
    """Times the routes over the Rust data server, started as TensorBoard does."""
    try:
        binary = server_ingester.get_server_binary()
    except server_ingester.NoDataServerError as e:
        print(f"\nRust data server not available: {e}")
        return
    flags = argparse.Namespace(samples_per_plugin={})
    EpochJumpLoader().fix_flags(flags)
    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=binary,
        logdir=logdir,
        reload_interval=1,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin=flags.samples_per_plugin,
    )
    start = time.perf_counter()
    ingester.start()
    provider = ingester.data_provider
    wait_for_rust(provider, batches)
    print(f"\nData server loaded the logdir in {ms(time.perf_counter() - start)}")
    # The data server exits with this process (it is started with
    # --die-after-stdin), so there is nothing to stop here.
    measure(provider, repeats, "Rust data server (--load_fast=true)")
    measure_growth(
        provider, logdir, batches, lambda n: wait_for_rust(provider, n), repeats
    )


if __name__ == "__main__":
    main()
