"""The Epoch Jump tab's HTTP routes; see `docs/http_api.md`.

Routes are thin (parse, call, respond); the `*_impl` methods return plain data
and read only through TensorBoard's data provider, so the tab works with both
the Python ingester and the Rust data server.
"""

import logging
import os
from collections.abc import Mapping
from concurrent import futures

import numpy as np
from tensorboard import errors
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from epochjump import answers
from epochjump import constants
from epochjump import metadata
from epochjump.read import ingesters
from epochjump.read.opener import RunOpener
from epochjump.serve import params
from epochjump.serve.run_cache import RunCache
from epochjump.serve.run_summaries import RunSummaries

logger = logging.getLogger(__name__)

DEFAULT_MAX_POINTS = constants.DEFAULT_MAX_POINTS
MIN_MAX_POINTS, MAX_MAX_POINTS = constants.MAX_POINTS_RANGE
MAX_STEP = np.iinfo(np.int64).max
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDEX_JS = os.path.join(PACKAGE_DIR, "static", "index.js")


class EpochJumpPlugin(base_plugin.TBPlugin):
    """Serves batch series and epoch-boundary jumps of epochjump runs."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context):
        """Instantiates the plugin via TensorBoard core.

        Args:
          context: A `base_plugin.TBContext`.
        """
        self._data_provider = context.data_provider
        self._opener = RunOpener(
            context.data_provider, logdir=getattr(context, "logdir", None)
        )
        self._runs = RunCache(self._opener)
        self._summaries = RunSummaries(self._runs)
        self._background = futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="epochjump"
        )
        warnings = (
            sampling_warning(context.flags),
            ingesters.logdir_warning(
                getattr(context, "logdir", None), context.data_provider
            ),
        )
        self._warning = " ".join(w for w in warnings if w) or None

    def get_plugin_apps(self):
        routes = {
            "/index.js": self._index_js_route,
            "/runs": self._runs_route,
            "/series": self._series_route,
            "/jumps": self._jumps_route,
            "/download": self._download_route,
            "/compare": self._compare_route,
        }
        return {path: params.read_only(app) for path, app in routes.items()}

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
          The `runs` answer (`answers.runs_answer`), its runs by name.
        """
        names = None
        if self._opener.run_dir(".") is not None:
            # Asked meanwhile: each answer of the Rust data server takes at
            # least ~40 ms, whatever its size.
            names = self._background.submit(
                self._data_provider.list_runs, ctx, experiment_id=experiment
            )
        listing = self._opener.list_runs(ctx, experiment)
        summaries = self._summaries.summaries(ctx, experiment, listing)
        runs = list(summaries.values())
        runs.extend(self._runs_without_data(listing, names))
        runs.sort(key=lambda summary: summary["run"])
        return answers.runs_answer(runs, self._warning)

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
          InvalidArgumentError: for a range that ends before it starts, the
            bound not given being the run's first or last step.
        """
        data = self._load(ctx, experiment, run)
        series = _metric(data, metric)
        params.check_range(start, end, series.step)
        return answers.series_answer(data, series, start, end, max_points)

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
        return answers.jumps_answer(data, metric)

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
        return answers.csv_answer(series), "text/csv"

    def compare_impl(self, ctx, experiment, runs, metric):
        """Several runs' jump decompositions of one metric, side by side.

        Args:
          ctx: A `tensorboard.context.RequestContext`.
          experiment: str, the experiment ID.
          runs: list of str, the run names, in the order wanted.
          metric: str, the metric name (without `val_`).

        Returns:
          The `compare` answer as a dict.

        Raises:
          NotFoundError: for an unknown run, or a run without the metric.
        """
        loaded = [self._load(ctx, experiment, run) for run in runs]
        for data in loaded:
            _metric(data, metric)
        return answers.compare_answer(loaded, metric)

    def _load(self, ctx, experiment, run):
        data = self._runs.get(ctx, experiment, run)
        if data is None:
            raise errors.NotFoundError(f"No epochjump data for run {params.shown(run)}")
        return data

    def _runs_without_data(self, listing, names):
        """Summaries of the runs that hold an epochjump event file but no data
        yet (local logdirs only: the data provider cannot tell), given the
        future of TensorBoard's run list (None when not local)."""
        if names is None:
            return []
        try:
            names = [r.run_name for r in names.result()]
        except Exception:  # noqa: BLE001 - the other runs are still listed.
            logger.exception("Could not list TensorBoard's runs")
            return []
        summaries = []
        for run in names:
            problems = () if run in listing else self._opener.problems_without_data(run)
            if problems:
                summaries.append(answers.empty_summary(run, "; ".join(problems)))
        return summaries

    @wrappers.Request.application
    def _index_js_route(self, request):
        try:
            with open(INDEX_JS, "rb") as f:
                contents = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(
                "frontend not built: epochjump/static/index.js is missing; run "
                "`npm ci && npm run build` in frontend/ or reinstall epochjump"
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
        run = params.required(request, "run", "a run name")
        metric = params.required(request, "metric", "a metric name")
        start = params.optional_int(request, "start", 0, MAX_STEP, None)
        end = params.optional_int(request, "end", 0, MAX_STEP, None)
        max_points = params.optional_int(
            request, "max_points", MIN_MAX_POINTS, MAX_MAX_POINTS, DEFAULT_MAX_POINTS
        )
        params.check_range(start, end)  # Before reading, when both are given.
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.series_impl(ctx, experiment, run, metric, start, end, max_points)
        return http_util.Respond(request, body, "application/json")

    @wrappers.Request.application
    def _jumps_route(self, request):
        run = params.required(request, "run", "a run name")
        metric = params.required(request, "metric", "a metric name")
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.jumps_impl(ctx, experiment, run, metric)
        return http_util.Respond(request, body, "application/json")

    @wrappers.Request.application
    def _download_route(self, request):
        run = params.required(request, "run", "a run name")
        metric = params.required(request, "metric", "a metric name")
        output_format = params.required(request, "format", "'csv' or 'json'")
        if output_format not in ("csv", "json"):
            raise errors.InvalidArgumentError(
                "Bad format: expected 'csv' or 'json', "
                f"got {params.shown(output_format)}"
            )
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body, content_type = self.download_impl(
            ctx, experiment, run, metric, output_format
        )
        disposition = params.attachment(f"{run}-{metric}.{output_format}")
        return http_util.Respond(
            request, body, content_type, headers=[("Content-Disposition", disposition)]
        )

    @wrappers.Request.application
    def _compare_route(self, request):
        runs = list(dict.fromkeys(request.args.getlist("run")))
        if not runs:
            raise errors.InvalidArgumentError("Missing run: expected run names")
        if "" in runs:
            raise errors.InvalidArgumentError("Bad run: expected a run name, got ''")
        if len(runs) > constants.COMPARE_MAX_RUNS:
            raise errors.InvalidArgumentError(
                f"Bad run: expected at most {constants.COMPARE_MAX_RUNS} run names, "
                f"got {len(runs)}"
            )
        metric = params.required(request, "metric", "a metric name")
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        body = self.compare_impl(ctx, experiment, runs, metric)
        return http_util.Respond(request, body, "application/json")


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


def _metric(data, metric):
    if metric not in data:
        message = (
            f"No metric {params.shown(metric)} in run {params.shown(data.name)}; "
            f"it has {list(data.metrics)}"
        )
        if not data.metrics and data.problems:
            message += f" ({'; '.join(data.problems)})"
        raise errors.NotFoundError(message)
    return data[metric]
