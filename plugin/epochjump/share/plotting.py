"""Static pictures of epoch jumps with matplotlib: `epochjump.plot` and PNG/SVG export.

The picture speaks the tab's visual language: the running mean (what Keras
printed) bold in the run's colour, each batch alone thin (faint raw, smoothed
on top), train_eval as dark diamonds, val as purple rings, dashed epoch
lines and a magenta bracket for each jump, with a caption per panel: the
answer `epochjump explain` prints first (each panel is drawn by `panels`). matplotlib is
imported only in these two modules, and only when a picture is drawn.
"""

import functools
import io
import os
import re

from epochjump.share import panels
from epochjump.share.problems import print_problems

# Inches: one panel per (run, metric); the legend runs along the bottom.
PANEL_WIDTH = 6.4
PANEL_HEIGHT = 3.8
LEGEND_HEIGHT = 0.8
SMOOTHING = 0.6
X_AXES = ("epoch", "step")


def plot(run_or_logdir, metric=None, *, run=None, x="epoch", smoothing=SMOOTHING):
    """Draws the epoch jumps of runs as a matplotlib figure.

    In Jupyter, a cell ending in `epochjump.plot(...)` shows the picture
    (once: the figure is not registered with pyplot). Elsewhere, save it:

    ```python
    fig = epochjump.plot("logs/run1", metric="accuracy")
    fig.savefig("accuracy.png", dpi=150)
    ```

    Args:
      run_or_logdir: a `RunData` (from `epochjump.read_run`), a list of them,
        or the path of a run directory or logdir (str or os.PathLike).
      metric: str, list of str, or None (default) for every metric of the
        runs. One panel per (run, metric): a row per run, a column per metric.
      run: str or None, a regular expression; only runs whose name it
        matches are drawn.
      x: "epoch" (default; epoch `e` ends at `e + 1`) or "step".
      smoothing: float in [0, 1), default 0.6: the weight of the debiased
        moving average drawn over the raw batch values, as in the tab.

    Returns:
      A `matplotlib.figure.Figure`, `PANEL_WIDTH` inches wide per metric and
      `PANEL_HEIGHT` high per run, plus `LEGEND_HEIGHT`.

    Raises:
      ImportError: if matplotlib is not installed.
      ValueError: for an unknown metric, no matching run, or a bad `x` or
        `smoothing`.
    """
    if x not in X_AXES:
        raise ValueError(f"`x` must be one of {X_AXES}. Received: x={x!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"`smoothing` must be in [0, 1). Received: {smoothing!r}")
    runs = _runs(run_or_logdir, run)
    metrics = _metrics(runs, metric)
    return draw_figure(runs, metrics, x=x, smoothing=smoothing)


def draw_figure(runs, metrics, x="epoch", smoothing=SMOOTHING):
    """Draws one panel per (run, metric), without checking the arguments.

    Args:
      runs: non-empty list of `RunData`; row `i` is drawn in `panels.RUN_COLORS[i]`.
      metrics: non-empty list of str; a run without a metric gets an empty
        panel that says so.
      x: "epoch" or "step".
      smoothing: float in [0, 1).

    Returns:
      A `matplotlib.figure.Figure`.
    """
    figure_class = _figure_class()
    size = (PANEL_WIDTH * len(metrics), PANEL_HEIGHT * len(runs) + LEGEND_HEIGHT)
    with _style():
        fig = figure_class(figsize=size, layout="constrained")
        grid = fig.subfigures(len(runs), len(metrics), squeeze=False)
        for i, run in enumerate(runs):
            color = panels.RUN_COLORS[i % len(panels.RUN_COLORS)]
            for j, metric in enumerate(metrics):
                panels.draw_panel(grid[i][j], run, metric, color, x, smoothing)
        fig.legend(
            handles=panels.legend_handles(
                panels.RUN_COLORS[0] if len(runs) == 1 else panels.INK
            ),
            loc="outside lower center",
            # Three entries a row fit one panel's width; six fit two.
            ncols=3 * min(len(metrics), 2),
            frameon=False,
            fontsize=8,
            handlelength=1.8,
            columnspacing=1.4,
        )
    return fig


def save(figure, output, output_format, dpi):
    """Writes a figure as PNG or SVG, keeping its size (no tight cropping).

    SVG text stays text (`svg.fonttype: none`), so captions can be selected,
    searched and edited.

    Args:
      figure: a `matplotlib.figure.Figure`.
      output: str or os.PathLike, or a binary file object.
      output_format: "png" or "svg".
      dpi: int, pixels per inch (PNG).
    """
    with _matplotlib().rc_context({"svg.fonttype": "none"}):
        figure.savefig(output, format=output_format, dpi=dpi)


def _runs(run_or_logdir, pattern):
    from epochjump.read.run_data import RunData

    if isinstance(run_or_logdir, RunData):
        runs = [run_or_logdir]
    elif isinstance(run_or_logdir, (str, os.PathLike)):
        from epochjump.read.logdir import Logdir

        logdir = Logdir(run_or_logdir)
        names = logdir.run_names(pattern)
        if not names:
            raise ValueError(
                f"No epochjump run in {os.fspath(run_or_logdir)!r}"
                + (f" matches {pattern!r}" if pattern is not None else "")
            )
        runs = [logdir.load(name) for name in names]
        print_problems(runs, logdir.runs_without_data() if pattern is None else None)
        return runs
    else:
        runs = list(run_or_logdir)
        if not all(isinstance(r, RunData) for r in runs):
            raise ValueError(
                "Expected a RunData, a list of them or a path. "
                f"Received: {run_or_logdir!r}"
            )
    if pattern is not None:
        runs = [r for r in runs if re.search(pattern, r.name)]
    if not runs:
        raise ValueError(f"No run to plot (pattern {pattern!r})")
    return runs


def _metrics(runs, metric):
    available = []
    for run in runs:
        available.extend(m for m in run.metrics if m not in available)
    if metric is None:
        return available
    wanted = [metric] if isinstance(metric, str) else list(metric)
    for name in wanted:
        if name not in available:
            raise ValueError(f"No metric {name!r} in the runs; they have {available}")
    return wanted


def _style():
    matplotlib = _matplotlib()
    return matplotlib.rc_context(
        {
            "font.size": 9,
            "axes.edgecolor": (0, 0, 0, 0.25),
            "axes.grid": True,
            "grid.color": panels.GRID,
            "grid.linewidth": 1,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "xtick.color": panels.MUTED,
            "ytick.color": panels.MUTED,
        }
    )


def _matplotlib():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "epochjump.plot and PNG/SVG export need matplotlib: "
            "pip install 'epochjump[plot]' (or pip install matplotlib)"
        ) from e
    return matplotlib


@functools.cache
def _figure_class():
    _matplotlib()
    from matplotlib.figure import Figure

    class JumpFigure(Figure):
        """A Figure that Jupyter shows as PNG, without pyplot."""

        def _repr_png_(self):
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=110)
            return buffer.getvalue()

    return JumpFigure
