"""The Epoch Jump tab's HTTP routes; see `docs/http_api.md`.

Routes are thin (parse, call, respond); the `*_impl` methods return plain data
and read only through TensorBoard's data provider, so the tab works with both
the Python ingester and the Rust data server.
"""

import collections
import csv
import io
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping

import numpy as np
from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.data import provider
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from epochjump import analysis, downsample, metadata, reader

logger = logging.getLogger(__name__)

DEFAULT_MAX_POINTS = 2000
MIN_MAX_POINTS = 2
MAX_MAX_POINTS = 100000
MAX_STEP = np.iinfo(np.int64).max
# Decoded runs kept in memory; a run of 1M batches x 2 metrics takes ~60 MB.
CACHED_RUNS = 4
INDEX_JS = os.path.join(os.path.dirname(__file__), "static", "index.js")
CSV_HEADER = ("step", "epoch", "wall_time", "batch_value", "running_mean")


class EpochJumpPlugin(base_plugin.TBPlugin):
    """Serves batch series and epoch-boundary jumps of epochjump runs."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context):
        """Instantiates the plugin via TensorBoard core.

        Args:
          context: A `base_plugin.TBContext`.
        """
        self._data_provider = context.data_provider
        self._runs = RunCache(context.data_provider)
        self._summaries = {}  # (experiment, run) -> (signature, dict)
        self._warning = sampling_warning(context.flags)

    def get_plugin_apps(self):
        return {
            "/index.js": self._index_js_route,
            "/runs": self._runs_route,
            "/series": self._series_route,
            "/jumps": self._jumps_route,
            "/download": self._download_route,
        }

    def is_active(self):
        return False  # TensorBoard core lists plugins from the data provider.

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(
            es_module_path="/index.js", tab_name="Epoch Jump"
        )

    def runs_impl(self, ctx, experiment):
        """The runs holding epochjump data, with what each one recorded.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.

        Returns:
          The `runs` answer: a dict with `runs` (a list of dicts, by run name)
          and `warning` (str or None).
        """
        listing = reader.list_runs(self._data_provider, ctx, experiment)
        runs = []
        for run in sorted(listing):
            key = (experiment, run)
            signature = RunCache.signature(listing[run])
            cached = self._summaries.get(key)
            if cached is None or cached[0] != signature:
                cached = (signature, self._summarize(ctx, experiment, run, listing))
                self._summaries[key] = cached
            runs.append(cached[1])
        for key in list(self._summaries):
            if key[0] == experiment and key[1] not in listing:
                self._summaries.pop(key, None)
        return {"runs": runs, "warning": self._warning}

    def series_impl(
        self,
        ctx,
        experiment,
        run,
        metric,
        start=None,
        end=None,
        max_points=DEFAULT_MAX_POINTS,
    ):
        """Batch series and evaluations of one metric in a step range.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name.
          metric: str, the metric name (without `val_`).
          start: int or None, the first global step wanted (inclusive).
          end: int or None, the last global step wanted (inclusive).
          max_points: int, or None for every batch in the range.

        Returns:
          The `series` answer as a dict.

        Raises:
          NotFoundError: for an unknown run or metric.
        """
        data = self._load(ctx, experiment, run)
        series = _metric(data, metric)
        return series_answer(data, series, start, end, max_points)

    def jumps_impl(self, ctx, experiment, run, metric):
        """The decomposition of every epoch-boundary jump of one metric.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name.
          metric: str, the metric name (without `val_`).

        Returns:
          The `jumps` answer as a dict.

        Raises:
          NotFoundError: for an unknown run or metric.
        """
        data = self._load(ctx, experiment, run)
        _metric(data, metric)
        boundaries = []
        for jump in analysis.explain(data, metric):
            record = jump.as_dict()
            del record["metric"]
            boundaries.append(record)
        return {
            "run": run,
            "metric": metric,
            "estimator": analysis.ESTIMATOR,
            "boundaries": boundaries,
        }

    def download_impl(self, ctx, experiment, run, metric, output_format):
        """The full-resolution series of one metric, as a file.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name.
          metric: str, the metric name (without `val_`).
          output_format: "csv" (batches only) or "json" (the `series` answer
            without downsampling).

        Returns:
          A `(body, content_type)` tuple; `body` is a str for CSV and a dict
          for JSON.

        Raises:
          NotFoundError: for an unknown run or metric.
        """
        if output_format == "json":
            body = self.series_impl(ctx, experiment, run, metric, max_points=None)
            return body, "application/json"
        series = _metric(self._load(ctx, experiment, run), metric)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        # csv writes floats with repr(): nan, inf and -inf for non-finite ones.
        writer.writerows(
            zip(
                series.step.tolist(),
                series.epoch.tolist(),
                series.wall_time.tolist(),
                series.batch_value.tolist(),
                series.running_mean.tolist(),
            )
        )
        return out.getvalue(), "text/csv"

    def _load(self, ctx, experiment, run):
        data = self._runs.get(ctx, experiment, run)
        if data is None:
            raise errors.NotFoundError(f"No epochjump data for run {run!r}")
        return data

    def _summarize(self, ctx, experiment, run, listing):
        try:
            data = self._runs.get(ctx, experiment, run, listing.get(run))
        except Exception as e:  # One bad run must not hide the others.
            logger.exception("Could not read epochjump run %r", run)
            return _empty_summary(run, f"Could not read this run: {e}")
        if data is None:
            return _empty_summary(run, "No epochjump data")
        any_series = data[data.metrics[0]] if data.metrics else None
        return {
            "run": run,
            "metrics": list(data.metrics),
            "epochs": _num_epochs(data, any_series),
            "batches": data.num_batches,
            "has_train_eval": data.has_train_eval,
            "has_val": data.has_val,
            "resolution": resolution(any_series),
            "problems": list(data.problems),
        }

    @wrappers.Request.application
    def _index_js_route(self, request):
        try:
            with open(INDEX_JS, "rb") as f:
                contents = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(
                f"frontend not built: {INDEX_JS} is missing; run `npm ci && "
                "npm run build` in frontend/ or reinstall epochjump"
            ) from None
        return http_util.Respond(request, contents, "text/javascript")

    @wrappers.Request.application
    def _runs_route(self, request):
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.runs_impl(ctx, experiment)
        return http_util.Respond(request, body, "application/json")

    @wrappers.Request.application
    def _series_route(self, request):
        run = _required(request, "run", "a run name")
        metric = _required(request, "metric", "a metric name")
        start = _optional_int(request, "start", 0, MAX_STEP, None)
        end = _optional_int(request, "end", 0, MAX_STEP, None)
        max_points = _optional_int(
            request, "max_points", MIN_MAX_POINTS, MAX_MAX_POINTS, DEFAULT_MAX_POINTS
        )
        if start is not None and end is not None and start > end:
            raise errors.InvalidArgumentError(
                f"Bad range: start={start} is after end={end}"
            )
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.series_impl(ctx, experiment, run, metric, start, end, max_points)
        return http_util.Respond(request, body, "application/json")

    @wrappers.Request.application
    def _jumps_route(self, request):
        run = _required(request, "run", "a run name")
        metric = _required(request, "metric", "a metric name")
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.jumps_impl(ctx, experiment, run, metric)
        return http_util.Respond(request, body, "application/json")

    @wrappers.Request.application
    def _download_route(self, request):
        run = _required(request, "run", "a run name")
        metric = _required(request, "metric", "a metric name")
        output_format = _required(request, "format", "'csv' or 'json'")
        if output_format not in ("csv", "json"):
            raise errors.InvalidArgumentError(
                f"Bad format: expected 'csv' or 'json', got {output_format!r}"
            )
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body, content_type = self.download_impl(
            ctx, experiment, run, metric, output_format
        )
        disposition = attachment(f"{run}-{metric}.{output_format}")
        return http_util.Respond(
            request, body, content_type, headers=[("Content-Disposition", disposition)]
        )


class RunCache:
    """Decoded runs, re-read when TensorBoard has new data for them.

    Holds the `CACHED_RUNS` most recently used runs. A run is re-read when the
    largest step or wall time of any of its tags changed, which listing tells
    cheaply. Reading a run again costs about as much as the first time (the
    data provider has no "data since" query); see the benchmark.

    Args:
      data_provider: a TensorBoard `DataProvider`.
      max_runs: int, default `CACHED_RUNS`.
    """

    def __init__(self, data_provider, max_runs=CACHED_RUNS):
        self._data_provider = data_provider
        self._max_runs = max_runs
        self._lock = threading.Lock()
        self._runs = collections.OrderedDict()  # key -> (signature, RunData)
        self._loading = {}  # key -> Lock, so one request reads a run at a time

    @staticmethod
    def signature(tags):
        """What identifies a run's data version: per tag, max step and time.

        Args:
          tags: dict from tag to `TensorTimeSeries`, one run's listing.
        """
        return tuple(
            sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items())
        )

    def get(self, ctx, experiment, run, tags=None):
        """Returns one run's `RunData`, reading it when new or changed.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          run: str, the run name.
          tags: the run's listing (dict from tag to `TensorTimeSeries`) if the
            caller has it; listed here otherwise.

        Returns:
          A `RunData`, or None if the run has no epochjump data.
        """
        if tags is None:
            tags = self._data_provider.list_tensors(
                ctx,
                experiment_id=experiment,
                plugin_name=metadata.PLUGIN_NAME,
                run_tag_filter=provider.RunTagFilter(runs=[run]),
            ).get(run)
        key = (experiment, run)
        if not tags:
            with self._lock:
                self._runs.pop(key, None)
            return None
        # Listed before reading: data newer than the signature only causes
        # one more read later, never a stale answer.
        signature = self.signature(tags)
        with self._lock:
            cached = self._fresh(key, signature)
            if cached is not None:
                return cached
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                cached = self._fresh(key, signature)
            if cached is not None:
                return cached
            data = reader.load_run(self._data_provider, ctx, experiment, run)
            with self._lock:
                if data is None:
                    self._runs.pop(key, None)
                else:
                    self._runs[key] = (signature, data)
                    self._runs.move_to_end(key)
                    while len(self._runs) > self._max_runs:
                        self._runs.popitem(last=False)
            return data

    def _fresh(self, key, signature):
        entry = self._runs.get(key)
        if entry is None or entry[0] != signature:
            return None
        self._runs.move_to_end(key)
        return entry[1]


def series_answer(run, series, start=None, end=None, max_points=None):
    """Builds the `series` answer for one metric of a run.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run`.
      start: int or None, the first global step wanted (inclusive).
      end: int or None, the last global step wanted (inclusive).
      max_points: int, or None for every batch in the range.

    Returns:
      A JSON-ready dict (non-finite floats left as floats).
    """
    steps = series.step
    lo = 0 if start is None else int(np.searchsorted(steps, start, side="left"))
    hi = len(steps) if end is None else int(np.searchsorted(steps, end, side="right"))
    hi = max(lo, hi)
    total = hi - lo
    if max_points is None or total <= max_points:
        picks = slice(lo, hi)
    else:
        picks = lo + downsample.downsample_indices(
            steps[lo:hi], series.epoch[lo:hi], series.batch_value[lo:hi], max_points
        )
    geometry = EpochGeometry(series, run.epoch_starts)
    batch_steps = steps[picks]
    batch_epochs = series.epoch[picks]
    range_start = start if start is not None else _first(steps)
    range_end = end if end is not None else _last(steps)
    return {
        "run": run.name,
        "metric": series.name,
        "epoch_starts": run.epoch_starts.tolist(),
        "range": {"start": range_start, "end": range_end},
        "total_batches": total,
        "downsampled": not isinstance(picks, slice),
        "resolution": resolution(series),
        "batches": {
            "step": batch_steps.tolist(),
            "epoch": batch_epochs.tolist(),
            "epoch_fraction": geometry.fraction(batch_epochs, batch_steps).tolist(),
            "wall_time": series.wall_time[picks].tolist(),
            "batch_value": series.batch_value[picks].tolist(),
            "running_mean": series.running_mean[picks].tolist(),
        },
        "train_eval": _evals(series.train_eval, geometry, start, end),
        "val": _evals(series.val, geometry, start, end),
    }


class EpochGeometry:
    """Where each epoch sits on the "epoch" axis of the chart.

    Epoch `e` spans from its first step (its recorded start, or its first
    batch if earlier) to its last recorded batch, which lands at `e + 1`.

    Args:
      series: `MetricData`.
      epoch_starts: int64 array, the run's epoch starts.
    """

    def __init__(self, series, epoch_starts):
        epoch = series.epoch
        size = max(len(epoch_starts), int(epoch[-1]) + 1 if len(epoch) else 0)
        self._first_step = np.zeros(size, np.int64)
        self._length = np.zeros(size, np.int64)  # 0: no batches recorded
        if not len(epoch):
            return
        change = np.flatnonzero(epoch[1:] != epoch[:-1]) + 1
        first = np.concatenate(([0], change))
        last = np.concatenate((change - 1, [len(epoch) - 1]))
        ids = epoch[first]
        first_step = series.step[first]
        if len(epoch_starts):
            first_step = np.minimum(first_step, epoch_starts[ids])
        self._first_step[ids] = first_step
        self._length[ids] = series.step[last] - first_step + 1

    def fraction(self, epochs, steps):
        """`epoch + (step - first_step + 1) / length`; `epoch + 1` for an
        epoch without recorded batches.

        Args:
          epochs: int64 array, epoch ordinals (each < the number of epochs).
          steps: int64 array, global steps.

        Returns:
          A float64 array.
        """
        epochs = np.asarray(epochs, np.int64)
        length = self._length[epochs]
        within = (steps - self._first_step[epochs] + 1) / np.maximum(length, 1)
        return epochs + np.where(length > 0, within, 1.0)


def resolution(series):
    """How finely batches were recorded, in words.

    Args:
      series: `MetricData` or None.

    Returns:
      "batch" when consecutive records of an epoch are one step apart, else
      "chunks of up to N batches" with N the largest such gap.
    """
    if series is None or len(series) < 2:
        return "batch"
    same_epoch = series.epoch[1:] == series.epoch[:-1]
    gaps = np.diff(series.step)[same_epoch]
    largest = int(gaps.max()) if len(gaps) else 1
    return "batch" if largest <= 1 else f"chunks of up to {largest} batches"


def sampling_warning(flags):
    """The `runs` warning when TensorBoard may drop epochjump data, or None.

    Args:
      flags: TensorBoard's parsed flags (`argparse.Namespace`) or None.

    Returns:
      str or None.
    """
    samples = getattr(flags, "samples_per_plugin", None)
    if not isinstance(samples, Mapping):
        return None  # Not started from the command line (tests, notebooks).
    limit = samples.get(metadata.PLUGIN_NAME)
    if limit is None:
        return (
            "TensorBoard keeps only a sample of epochjump data, so batches may "
            "be missing: it was started without epochjump's plugin loader. "
            "Restart it with --samples_per_plugin=epochjump=0."
        )
    if limit != 0:
        return (
            f"--samples_per_plugin=epochjump={limit} keeps at most {limit} "
            "chunks per series, so batches may be missing. Restart TensorBoard "
            "without it (or with epochjump=0) to keep all data."
        )
    return None


def attachment(filename):
    """A `Content-Disposition` value for a download named `filename`.

    Args:
      filename: str, any characters; `/` and `\\` become `_`.

    Returns:
      str, with an ASCII `filename` and the exact UTF-8 `filename*`
      (RFC 6266).
    """
    filename = re.sub(r"[/\\]", "_", filename)
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    encoded = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _evals(evals, geometry, start, end):
    keep = np.ones(len(evals), bool)
    if start is not None:
        keep &= evals.step >= start
    if end is not None:
        keep &= evals.step <= end
    steps, epochs = evals.step[keep], evals.epoch[keep]
    return {
        "step": steps.tolist(),
        "epoch": epochs.tolist(),
        "epoch_fraction": geometry.fraction(epochs, steps).tolist(),
        "wall_time": evals.wall_time[keep].tolist(),
        "value": evals.value[keep].tolist(),
    }


def _metric(data, metric):
    if metric not in data:
        raise errors.NotFoundError(
            f"No metric {metric!r} in run {data.name!r}; it has {list(data.metrics)}"
        )
    return data[metric]


def _num_epochs(data, series):
    if len(data.epoch_starts):
        return len(data.epoch_starts)
    return 1 if series is not None and len(series) else 0


def _empty_summary(run, problem):
    return {
        "run": run,
        "metrics": [],
        "epochs": 0,
        "batches": 0,
        "has_train_eval": False,
        "has_val": False,
        "resolution": "batch",
        "problems": [problem],
    }


def _first(steps):
    return int(steps[0]) if len(steps) else None


def _last(steps):
    return int(steps[-1]) if len(steps) else None


def _required(request, name, expected):
    value = request.args.get(name)
    if value is None:
        raise errors.InvalidArgumentError(f"Missing {name}: expected {expected}")
    if not value:
        raise errors.InvalidArgumentError(f"Bad {name}: expected {expected}, got ''")
    return value


def _optional_int(request, name, low, high, default):
    value = request.args.get(name)
    if value is None:
        return default
    # Digits only: int() would also take "+5", " 5", "5_0" and other scripts'
    # digits; the length bound keeps huge inputs cheap to reject.
    if re.fullmatch(r"[0-9]{1,20}", value) and low <= int(value) <= high:
        return int(value)
    raise errors.InvalidArgumentError(
        f"Bad {name}: expected an integer from {low} to {high}, got {value!r}"
    )
