"""`epochjump export`: runs as one self-contained HTML report, or a PNG/SVG picture."""

import os

from epochjump import answers
from epochjump import constants
from epochjump.read.logdir import Logdir
from epochjump.share import html_report
from epochjump.share.problems import print_problems

FORMATS = {".html": "html", ".htm": "html", ".png": "png", ".svg": "svg"}
DEFAULT_DPI = 150
DEFAULT_MAX_POINTS = html_report.DEFAULT_MAX_POINTS
MAX_POINTS_RANGE = constants.MAX_POINTS_RANGE
DPI_RANGE = (10, 1200)


def export(
    path,
    output,
    metrics=None,
    run=None,
    max_points=DEFAULT_MAX_POINTS,
    dpi=DEFAULT_DPI,
):
    """Writes runs as an HTML report or a picture, chosen by `output`'s extension.

    ```python
    from epochjump.share.export import export

    export("logs", "report.html", metrics=["accuracy"])
    ```

    Args:
      path: str or os.PathLike, a run directory or a logdir of runs.
      output: str or os.PathLike, ending in `.html` (or `.htm`): the tab's
        charts and tables in one file that opens offline; `.png` or `.svg`:
        a picture (needs matplotlib).
      metrics: list of str, or None (default) for every metric.
      run: str or None, a regular expression; only runs whose name it
        matches (`re.search`) are exported.
      max_points: int, default 5000: HTML only, the most batch points per
        series (each series is downsampled above it, keeping every epoch's
        first and last batch and each bucket's extremes).
      dpi: int, default 150: PNG only, pixels per inch.

    Problems of the runs read (damaged event files, unreadable data) are
    printed on stderr, one line each; the runs' other data is exported.

    Returns:
      A dict from each exported run's name to its exported metrics.

    Raises:
      FileNotFoundError: if `path` is not a directory.
      ValueError: for an unknown extension or metric, no matching run, or
        a `max_points` or `dpi` out of range.
      ImportError: for a picture without matplotlib.
    """
    output = os.fspath(output)
    output_format = format_of(output)
    _check_range("max_points", max_points, MAX_POINTS_RANGE)
    _check_range("dpi", dpi, DPI_RANGE)
    logdir = Logdir(path)
    names = logdir.run_names(run)
    if not names:
        where = f" matching {run!r}" if run is not None else ""
        raise ValueError(f"No epochjump run{where} in {logdir.path!r}")
    runs = {name: logdir.load(name) for name in names}
    selection = select_metrics(
        {name: list(data.metrics) for name, data in runs.items()}, metrics
    )
    print_problems(runs.values(), logdir.runs_without_data() if run is None else None)
    chosen = [runs[name] for name in selection]
    if output_format == "html":
        _export_html(logdir, chosen, selection, output, max_points)
    else:
        _export_picture(chosen, selection, output, output_format, dpi)
    return selection


def format_of(output):
    """The export format for an output file name.

    Args:
      output: str, a file name.

    Returns:
      "html", "png" or "svg".

    Raises:
      ValueError: for any other extension, naming it.
    """
    extension = os.path.splitext(output)[1].lower()
    if extension not in FORMATS:
        raise ValueError(
            "Bad output: expected a file name ending in .html, .png or .svg, "
            f"got {output!r}"
        )
    return FORMATS[extension]


def select_metrics(available, metrics):
    """Keeps the chosen metrics of each run; drops runs left without any.

    Args:
      available: dict from run name to its list of metrics.
      metrics: list of str, or None for all.

    Returns:
      A dict from run name to the list of its metrics to export, in the
      run's order.

    Raises:
      ValueError: for a metric that no run has, naming it.
    """
    if metrics is None:
        return {run: list(names) for run, names in available.items() if names}
    everywhere = [m for names in available.values() for m in names]
    for metric in metrics:
        if metric not in everywhere:
            raise ValueError(
                f"No metric {metric!r} in the runs; they have {sorted(set(everywhere))}"
            )
    chosen = {
        run: [m for m in names if m in metrics] for run, names in available.items()
    }
    return {run: names for run, names in chosen.items() if names}


def _export_html(logdir, runs, selection, output, max_points):
    summaries = [
        {**answers.run_summary(data), "metrics": selection[data.name]} for data in runs
    ]
    data = html_report.report_data(
        runs,
        summaries,
        max_points,
        source=os.path.basename(os.path.abspath(logdir.path)),
    )
    page = html_report.render_html(
        data, html_report.read_bundle(), title=_title(list(selection))
    )
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)


def _export_picture(runs, selection, output, output_format, dpi):
    from epochjump.share import plotting

    panels = []
    for chosen in selection.values():
        panels.extend(m for m in chosen if m not in panels)
    figure = plotting.draw_figure(runs, panels)
    plotting.save(figure, output, output_format, dpi)


def _title(runs):
    shown = ", ".join(runs[:3])
    more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
    return f"Epoch jumps: {shown}{more}"


def _check_range(name, value, bounds):
    low, high = bounds
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"Bad {name}: expected an integer from {low} to {high}, got {value!r}"
        )
