"""One picture panel per run and metric, in the tab's visual language (matplotlib)."""

import math
import re
import textwrap

import numpy as np

from epochjump import answers
from epochjump import constants
from epochjump.analysis import jumps as jumps_lib
from epochjump.analysis.epoch_geometry import EpochGeometry
from epochjump.share.visible import visible
from epochjump.words import answer
from epochjump.words import numbers

# The tab's light theme and sizes (constants.json, which the tab reads too).
RUN_COLORS = constants.RUN_COLORS
_LIGHT = constants.CHART_COLORS["light"]


def css_color(css):
    """A matplotlib colour from the tab's CSS one: `#rrggbb` as it is,
    `rgba(r, g, b, a)` as a tuple of floats in [0, 1].

    Args:
      css: str, a colour of `constants.CHART_COLORS`.
    """
    match = re.fullmatch(r"rgba\((\d+), (\d+), (\d+), ([\d.]+)\)", css)
    if match is None:
        return css
    r, g, b, a = match.groups()
    return (int(r) / 255, int(g) / 255, int(b) / 255, float(a))


BRACKET = css_color(_LIGHT["bracket"])
TRAIN_EVAL = css_color(_LIGHT["trainEval"])
VAL = css_color(_LIGHT["val"])
NON_FINITE = css_color(_LIGHT["nonFinite"])
INK = css_color(_LIGHT["ink"])
MUTED = css_color(_LIGHT["muted"])
EPOCH_LINE = css_color(_LIGHT["epochLine"])
# Learning-rate changes and fit starts.
LR_MARK = css_color(_LIGHT["lrMark"])
FIT_MARK = css_color(_LIGHT["fitMark"])
# Changes closer than this share of the x range (the tab's gap in px on a
# chart of its typical width) merge into one bar, when there are BAND_MARKS
# or more.
MARK_GAP = constants.MARK_GAP_PX / constants.CHART_WIDTH_PX
BAND_MARKS = constants.BAND_MIN_MARKS
# The model's level ± stderr at the epoch edges: a box as wide as the tab's.
LEVEL = css_color(_LIGHT["level"])
LEVEL_BOX = constants.LEVEL_BOX_PX / constants.CHART_WIDTH_PX
LEVEL_LABEL = "model level ± stderr"
GRID = css_color(_LIGHT["grid"])
# Evaluation markers, in the panels and the legend; the training subset in
# training mode is train_eval's diamond, hollow.
TRAIN_EVAL_STYLE = dict(marker="D", ms=5, color=TRAIN_EVAL)
TRAINING_MODE_STYLE = dict(marker="D", ms=4.5, mfc="none", mec=TRAIN_EVAL, mew=1.2)
VAL_STYLE = dict(marker="o", ms=6, mfc="none", mec=VAL, mew=1.6)

_X_LABELS = {"epoch": "epochs completed", "step": "step"}


def draw_panel(panel, run, metric, color, x_axis, smoothing):
    panel.suptitle(
        f"{metric} · {run.name}",
        x=0.015,
        ha="left",
        fontsize=11,
        fontweight="bold",
        color=INK,
    )
    ax = panel.subplots()
    if metric not in run:
        ax.axis("off")
        ax.text(0.5, 0.5, f"No {metric!r} in this run", ha="center", color=MUTED)
        return
    series = run[metric]
    explanation = jumps_lib.explained(run, metric)
    jumps = explanation.jumps
    geometry = EpochGeometry(series, run.epoch_starts)

    def xs_of(epochs, steps):
        if x_axis == "epoch":
            return geometry.fraction(epochs, steps)
        return np.asarray(steps, np.float64)

    xs = xs_of(series.epoch, series.step)
    raw = np.where(np.isfinite(series.batch_value), series.batch_value, np.nan)
    ax.plot(xs, raw, color=color, lw=0.6, alpha=0.28)
    ax.plot(xs, smooth(series.batch_value, smoothing), color=color, lw=1.0, alpha=0.7)
    mean = np.where(np.isfinite(series.running_mean), series.running_mean, np.nan)
    ax.plot(xs, mean, color=color, lw=2.4, solid_capstyle="round")
    for evals, style in (
        (series.train_eval, TRAIN_EVAL_STYLE),
        (series.train_eval_training_mode, TRAINING_MODE_STYLE),
        (series.val, VAL_STYLE),
    ):
        if len(evals):
            ax.plot(xs_of(evals.epoch, evals.step), evals.value, ls="none", **style)
    _draw_epoch_lines(ax, run, x_axis)
    _draw_marks(ax, run, series, geometry, x_axis)
    _draw_levels(ax, explanation, series, xs)
    _draw_brackets(ax, jumps, series, xs)
    _draw_non_finite(ax, xs, series)
    ax.set_xlabel(_X_LABELS[x_axis], color=MUTED)
    ax.set_ylabel(metric, color=MUTED)
    if x_axis == "epoch" and len(xs):
        ax.set_xlim(math.floor(float(np.min(xs))), float(np.max(xs)) + 0.04)
    ax.set_title(
        caption(explanation),
        loc="left",
        fontsize=8.5,
        color=MUTED,
    )


def _draw_epoch_lines(ax, run, x_axis):
    transform = ax.get_xaxis_transform()
    for epoch, start in enumerate(run.epoch_starts.tolist()):
        x = epoch if x_axis == "epoch" else start
        ax.axvline(x, color=EPOCH_LINE, lw=1, ls=(0, (4, 3)), zorder=1)
        ax.text(
            x,
            0.985,
            f" epoch {epoch + 1}",
            transform=transform,
            ha="left",
            va="top",
            fontsize=8,
            color=MUTED,
        )


def _draw_marks(ax, run, series, geometry, x_axis):
    """Learning-rate changes (a solid teal tick from the bottom, labelled
    "lr 0.0005") and fit starts (an indigo tick from the top, "fit"), at the
    step where each begins, as in the tab. Only changes are marked: not the
    first learning rate, nor one equal to the one before, nor the first fit
    start (where the data begins). Changes too close to tell apart (a
    per-step schedule) are drawn as one low bar, "lr 0.001 → 0.0001"."""
    marks = answers.chart_marks(run, series)
    transform = ax.get_xaxis_transform()
    key = "epoch_fraction" if x_axis == "epoch" else "step"
    rates = marks["learning_rate"]
    changes = [
        (x, value)
        for i, (x, value) in enumerate(zip(rates[key], rates["value"]))
        if i > 0 and value != rates["value"][i - 1]
    ]
    low, high = ax.get_xlim()
    for group in close_groups([x for x, _ in changes], (high - low) * MARK_GAP):
        (x0, first), (x1, last) = changes[group.start], changes[group.stop - 1]
        if len(group) >= BAND_MARKS:
            ax.plot(
                [x0, x1],
                [0.012, 0.012],
                color=LR_MARK,
                lw=4,
                solid_capstyle="butt",
                transform=transform,
                zorder=4,
            )
            label = (
                f" lr {numbers.learning_rate(first)} → {numbers.learning_rate(last)}"
            )
            _mark_label(ax, x0, 0.03, label, LR_MARK)
            continue
        for x, value in changes[group.start : group.stop]:
            ax.plot(
                [x, x], [0, 0.16], color=LR_MARK, lw=2, transform=transform, zorder=4
            )
            _mark_label(ax, x, 0.17, f" lr {numbers.learning_rate(value)}", LR_MARK)
    for x in marks["fit_starts"][key][1:]:
        ax.plot([x, x], [0.84, 0.94], color=FIT_MARK, lw=2, transform=transform)
        _mark_label(ax, x, 0.83, " fit", FIT_MARK, va="top")


def _mark_label(ax, x, y, text, color, va="bottom"):
    """A mark's label at data `x` and axes-fraction `y`."""
    ax.text(
        x,
        y,
        text,
        transform=ax.get_xaxis_transform(),
        ha="left",
        va=va,
        fontsize=7.5,
        color=color,
    )


def close_groups(xs, min_gap):
    """Splits sorted `xs` into runs of neighbours less than `min_gap` apart.

    Args:
      xs: sorted list of floats.
      min_gap: float, the smallest gap that separates two runs.

    Returns:
      A list of `range`s of indices into `xs`, in order, covering all of it.
    """
    groups, start = [], 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or xs[i] - xs[i - 1] >= min_gap:
            groups.append(range(start, i))
            start = i
    return groups


def _draw_levels(ax, explanation, series, xs):
    """The model's level ± its standard error: a box reaching back from each
    epoch's last batch, and one reaching forward from the next epoch's first."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    x_of_step = dict(zip(series.step.tolist(), xs.tolist()))
    span = float(np.nanmax(xs) - np.nanmin(xs)) if len(xs) else 1.0
    width = LEVEL_BOX * (span or 1.0)
    boxes = [
        (end.last_step, -width, end.level_at_end, end.lag_stderr)
        for end in explanation.epoch_ends
    ] + [
        (j.first_next_step, width, j.level_after, j.level_after_stderr)
        for j in explanation.jumps
    ]
    for step, reach, level, stderr in boxes:
        if step not in x_of_step or not math.isfinite(level):
            continue
        x = x_of_step[step]
        error = stderr if math.isfinite(stderr) else 0.0
        ax.add_patch(
            Rectangle(
                (min(x, x + reach), level - error),
                width,
                2 * error,
                facecolor=to_rgba(LEVEL, 0.22),
                edgecolor=to_rgba(LEVEL, 0.7),
                lw=0.8,
                zorder=4,
            )
        )
        ax.plot([x, x + reach], [level, level], color=LEVEL, lw=2.2, zorder=4)


def _draw_brackets(ax, jumps, series, xs):
    """Each jump as a bracket from what Keras printed to the next epoch's
    first value."""
    x_of_step = dict(zip(series.step.tolist(), xs.tolist()))
    span = float(np.nanmax(xs) - np.nanmin(xs)) if len(xs) else 1.0
    arm = 0.012 * (span or 1.0)
    for j in jumps:
        if not (math.isfinite(j.reported) and math.isfinite(j.first_next)):
            continue
        xm = (x_of_step[j.last_step] + x_of_step[j.first_next_step]) / 2
        ax.plot([xm - arm, xm], [j.reported, j.reported], color=BRACKET, lw=2)
        ax.plot([xm, xm + arm], [j.first_next, j.first_next], color=BRACKET, lw=2)
        ax.annotate(
            "",
            xy=(xm, j.first_next),
            xytext=(xm, j.reported),
            arrowprops=dict(
                arrowstyle="-|>",
                color=BRACKET,
                lw=2,
                shrinkA=0,
                shrinkB=0,
                mutation_scale=11,
            ),
            zorder=5,
        )
        ax.plot(xm, j.reported, "o", color=BRACKET, ms=4.5, zorder=6)
        ax.annotate(
            numbers.signed(j.jump),
            xy=(xm, (j.reported + j.first_next) / 2),
            xytext=(7, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
            fontweight="bold",
            color=BRACKET,
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85),
            zorder=7,
        )


def _draw_non_finite(ax, xs, series):
    bad = ~np.isfinite(series.batch_value) | ~np.isfinite(series.running_mean)
    if not bad.any():
        return
    ax.plot(
        xs[bad],
        np.full(int(bad.sum()), 0.97),
        ls="none",
        marker="^",
        ms=6,
        color=NON_FINITE,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
    )


def legend_handles(color):
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def line(label, **style):
        return Line2D([], [], label=label, **style)

    return [
        line("running mean (what Keras prints)", color=color, lw=2.4),
        line("each batch", color=color, lw=1.0, alpha=0.7),
        line("train_eval", ls="none", **TRAIN_EVAL_STYLE),
        line("train_eval (training mode)", ls="none", **TRAINING_MODE_STYLE),
        line("val", ls="none", **VAL_STYLE),
        Patch(facecolor=to_rgba(LEVEL, 0.22), edgecolor=LEVEL, label=LEVEL_LABEL),
        line("jump", color=BRACKET, lw=2, marker="o", ms=4),
        line("learning-rate change", color=LR_MARK, lw=2),
    ]


def caption(explanation):
    """The caption of a panel: the metric's answer (`answer.answer_lines`),
    each line wrapped, its hidden characters escaped (`visible`).

    Args:
      explanation: the metric's `analysis.jumps.Explanation`.

    Returns:
      str, e.g. "accuracy 0.4171 is the average over epoch 1; the model
      ended it at 0.6869 ± 0.0329 (training mode).\nEpoch 2 opened at ..."
    """
    return "\n".join(
        textwrap.fill(visible(line), width=92)
        for line in answer.answer_lines(explanation)
    )


def smooth(values, weight):
    """TensorBoard's debiased exponential moving average, skipping non-finite values.

    Args:
      values: 1-D float array.
      weight: float in [0, 1); 0 returns the finite values unchanged.

    Returns:
      A float64 array, NaN where `values` is not finite.
    """
    values = np.asarray(values, np.float64)
    out = np.full(len(values), np.nan)
    last, count = 0.0, 0
    for i, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out[i] = last / (1 - weight**count)
    return out
