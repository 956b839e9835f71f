"""The plugin over a local logdir, loaded as TensorBoard loads it, behind a client."""

import argparse
import math
import time

from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from epochjump.read import provider as provider_io
from epochjump.serve.loader import EpochJumpLoader

PREFIX = "/data/plugin/epochjump"


def local_provider(logdir):
    """TensorBoard's Python ingester over `logdir`, loaded once.

    Args:
      logdir: str or os.PathLike.

    Returns:
      `(multiplexer, provider)`; call `multiplexer.Reload()` to see new data.
    """
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={"epochjump": 0}
    )
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    return multiplexer, data_provider.MultiplexerDataProvider(multiplexer, str(logdir))


def load_plugin(provider, logdir=None, samples_per_plugin=None):
    """The plugin as TensorBoard loads it (through `EpochJumpLoader`).

    Args:
      provider: a TensorBoard `DataProvider`.
      logdir: str or None, TensorBoard's `--logdir` (enables file checks).
      samples_per_plugin: dict or None, the flag as the user gave it.

    Returns:
      An `EpochJumpPlugin`.
    """
    flags = argparse.Namespace(samples_per_plugin=dict(samples_per_plugin or {}))
    loader = EpochJumpLoader()
    loader.fix_flags(flags)
    context = base_plugin.TBContext(
        data_provider=provider,
        flags=flags,
        logdir=None if logdir is None else str(logdir),
    )
    return loader.load(context)


def client_for(plugin, provider):
    """A werkzeug client of TensorBoard's WSGI app serving `plugin`."""
    app = application.TensorBoardWSGI([plugin], data_provider=provider)
    return werkzeug_test.Client(app)


def as_json(value):
    """How TensorBoard's `Respond` writes a float: non-finite ones as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class CountingLoads:
    """Wraps `provider_io.load_run` to count real reads, slowing each by
    `delay` seconds and failing those of the runs in `fail_for`.

    Args:
      monkeypatch: pytest's fixture, which puts the real function back.
      delay: float, seconds each read sleeps first, default 0.
      fail_for: runs whose reads raise `RuntimeError`.
    """

    def __init__(self, monkeypatch, delay=0.0, fail_for=()):
        self.calls = []
        self._load = provider_io.load_run
        self._delay = delay
        self._fail_for = fail_for
        monkeypatch.setattr(provider_io, "load_run", self)

    def __call__(self, provider, ctx, experiment_id, run, **kwargs):
        self.calls.append(run)
        time.sleep(self._delay)
        if run in self._fail_for:
            raise RuntimeError(f"boom in {run}")
        return self._load(provider, ctx, experiment_id, run, **kwargs)
