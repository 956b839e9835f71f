"""Measures the level estimator of `epochjump.analysis.levels` against a known truth.

Simulates runs whose level p(t) is known at every batch (t in epochs), for five
truth families: a concave saturating rise, a nearly linear one, a plateau, a
step down at every epoch start, and a learning-rate drop in the middle of the
run. Each is drawn as an accuracy (binomial batch values) and as a loss (gamma
batch values, sd = level / sqrt(batch size)), at batch sizes 8 to 256 over the
same 4096 samples per epoch (512 to 16 batches), 5 epochs. At every boundary
the true lag is p at the epoch's last batch minus the realised running mean
(what Keras printed), and the true boundary step is p at the next epoch's first
batch minus p at this epoch's last.

Prints, old estimator beside new, per truth and per batch size: the bias of the
lag (% of the mean true lag, and in standard errors), the RMSE of the level
(absolute, and as % of the mean true lag), and how often the 95% intervals
(estimate ± 1.96 stderr) of the level and of the boundary step cover the truth.
"new" is what `explain` computes: the level at an epoch's end from both sides of
the boundary (`analysis.boundary`), the level after it from the next epoch
(`analysis.levels`). "old" is the estimator before issue 17 (one-sided at both
edges), kept here only for the comparison.

Usage: PYTHONPATH=plugin python benchmarks/estimator_accuracy.py [--quick] [--seeds N]
"""

import argparse
import contextlib
import math
import time
from unittest import mock

import numpy as np

from epochjump.analysis import boundary
from epochjump.analysis import levels

SAMPLES = 4096
EPOCHS = 5
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
METRICS = ("accuracy", "loss")
# Time constants (epochs) of the saturating rise, taken in turn by the runs.
TAUS = (0.5, 1.0, 2.0)
STEP_DOWN = 0.06
LR_DROP_AT, LR_DROP_GAIN, LR_DROP_TAU = 2.5, 0.08, 0.1
SEEDS, QUICK_SEEDS = 100, 12


def saturating(t, tau):
    return 0.95 - 0.85 * np.exp(-t / tau)


def nearly_linear(t, run):
    return 0.3 + 0.11 * t - 0.002 * t**2


def plateau(t, run):
    return np.full_like(t, 0.8)


def step_down(t, run):
    """Loses STEP_DOWN at every epoch start and recovers it over the epoch."""
    return saturating(t, 1.0) - STEP_DOWN * (1 - (t - np.floor(t)))


def lr_drop(t, run):
    """A learning-rate drop half-way through epoch 2: a fast extra rise."""
    extra = 1 - np.exp(-np.maximum(t - LR_DROP_AT, 0) / LR_DROP_TAU)
    return 0.85 - 0.75 * np.exp(-t) + LR_DROP_GAIN * extra


# Accuracy-like level p(t, run) in [0, 1]; a loss is 0.05 + 2.3 (1 - p).
TRUTHS = {
    "saturating": lambda t, run: saturating(t, TAUS[run % len(TAUS)]),
    "nearly linear": nearly_linear,
    "plateau": plateau,
    "step down": step_down,
    "lr drop": lr_drop,
}


def simulate(rng, truth, metric, batch_size, run):
    """One run: the true level and the batch values, each (EPOCHS, batches)."""
    batches = SAMPLES // batch_size
    t = np.arange(EPOCHS * batches).reshape(EPOCHS, batches) / batches
    p = np.clip(TRUTHS[truth](t, run), 0.0, 1.0)
    if metric == "accuracy":
        return p, rng.binomial(batch_size, p) / batch_size
    level = 0.05 + 2.3 * (1 - p)
    # The mean of `batch_size` exponential per-sample losses.
    return level, rng.gamma(batch_size, level / batch_size)


def new_estimator(before, after):
    """At the boundary between epochs `before` and `after` (batch values):
    (level at the end of `before`, its stderr, level at the start of `after`,
    its stderr, the stderr of the step between them), as
    `epochjump.analysis.jumps` estimates them."""
    end, start, step_stderr = boundary.across(before, after)
    return end.value, end.stderr, start.value, start.stderr, step_stderr


def _old_squared_bias(fits, sigma):
    # Before issue 17: the unbiased estimate of each window's squared bias.
    return np.maximum(fits.bias**2 - sigma**2 * fits.bias_leverage, 0)


def _old_variance(fits, sigma):
    # Before issue 17: one noise level for the whole window.
    return sigma**2 * fits.leverage


def _old_stated_bias(fits, best, sigma):
    # Before issue 17: only the pilot's estimate of the chosen window's bias.
    return fits.bias[best] ** 2


OLD_RULES = {
    "_squared_bias": _old_squared_bias,
    "_variance": _old_variance,
    "_stated_bias": _old_stated_bias,
}


def old_estimator(before, after):
    """The estimator before issue 17: the same one-sided candidate fits at
    each edge, its old rules for the squared bias, the variance and the
    stated bias."""
    with contextlib.ExitStack() as stack:
        for name, rule in OLD_RULES.items():
            stack.enter_context(mock.patch.object(levels, name, rule))
        end, start = levels.level_at_end(before), levels.level_at_start(after)
        step_stderr = math.hypot(start.stderr, end.stderr)
        return end.value, end.stderr, start.value, start.stderr, step_stderr


ESTIMATORS = {"old": old_estimator, "new": new_estimator}


def collect(
    seeds,
    truths=tuple(TRUTHS),
    metrics=METRICS,
    batch_sizes=BATCH_SIZES,
    estimators=ESTIMATORS,
):
    """Every boundary of `seeds` runs per (truth, metric, batch size).

    Returns:
      dict of equal-length arrays, one entry per boundary: `truth`, `metric`,
      `batch_size`, `true_lag`, `true_step`, and per estimator NAME
      `NAME_lag`, `NAME_lag_stderr`, `NAME_step`, `NAME_step_stderr`.
    """
    rows = []
    for truth in truths:
        for metric in metrics:
            for batch_size in batch_sizes:
                key = [list(TRUTHS).index(truth), METRICS.index(metric), batch_size]
                rng = np.random.default_rng(key + [seeds])
                labels = {"truth": truth, "metric": metric, "batch_size": batch_size}
                for run in range(seeds):
                    level, values = simulate(rng, truth, metric, batch_size, run)
                    for row in _boundaries(level, values, estimators):
                        rows.append(row | labels)
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def _boundaries(level, values, estimators):
    """One run's boundaries: the truth and every estimator's lag and step."""
    reported = values.mean(axis=1)
    rows = [
        {
            "true_lag": level[e, -1] - reported[e],
            "true_step": level[e + 1, 0] - level[e, -1],
        }
        for e in range(EPOCHS - 1)
    ]
    for name, estimate in estimators.items():
        for e, row in enumerate(rows):
            end, end_stderr, start, _, step_stderr = estimate(values[e], values[e + 1])
            row[f"{name}_lag"] = end - reported[e]
            row[f"{name}_lag_stderr"] = end_stderr
            row[f"{name}_step"] = start - end
            row[f"{name}_step_stderr"] = step_stderr
    return rows


def lag_scales(table):
    """Per boundary, the mean true lag of its (truth, metric); NaN for the
    plateau, whose true lag is 0 on average (only noise)."""
    scale = np.full(len(table["true_lag"]), math.nan)
    for truth in set(table["truth"]) - {"plateau"}:
        for metric in set(table["metric"]):
            rows = (table["truth"] == truth) & (table["metric"] == metric)
            scale[rows] = np.mean(table["true_lag"][rows])
    return scale


def summary(table, name, rows=None):
    """One estimator's accuracy over the boundaries `rows` (default all).

    Returns:
      dict: `boundaries`; `bias` (text, with the standard error of that
      mean) and `rmse`, the lag's mean error and RMSE as % of its (truth,
      metric)'s mean true lag ("n/a" and NaN for the plateau alone);
      `bias_se`, the mean error in stated standard errors, in the direction
      of the lag; `rmse_level`, the
      level's RMSE in the metric's units; `cover`, `cover_step`, % of 95%
      intervals of the level and of the boundary step holding the truth.
    """
    rows = np.ones(len(table["true_lag"]), bool) if rows is None else rows
    error = (table[f"{name}_lag"] - table["true_lag"])[rows]
    stderr = table[f"{name}_lag_stderr"][rows]
    step_error = (table[f"{name}_step"] - table["true_step"])[rows]
    scale = lag_scales(table)[rows]
    relative = (error / scale)[np.isfinite(scale)]
    # Errors in the lag's direction (a loss's lag is negative); the plateau's
    # as they are.
    direction = np.where(np.isfinite(scale), np.sign(scale), 1.0)
    bias = 100 * np.mean(relative) if len(relative) else math.nan
    spread = 100 * np.std(relative) / math.sqrt(len(relative)) if len(relative) else 0
    return {
        "boundaries": int(np.sum(rows)),
        "bias": f"{bias:+.1f} ± {spread:.1f}" if len(relative) else "n/a",
        "rmse": 100 * np.sqrt(np.mean(relative**2)) if len(relative) else math.nan,
        "bias_se": float(np.mean(direction * error / stderr)),
        "rmse_level": float(np.sqrt(np.mean(error**2))),
        "cover": 100 * np.mean(np.abs(error) <= 1.96 * stderr),
        "cover_step": 100
        * np.mean(np.abs(step_error) <= 1.96 * table[f"{name}_step_stderr"][rows]),
    }


COLUMNS = (
    ("bias", "bias %", "{}"),
    ("bias_se", "bias/se", "{:+.2f}"),
    ("rmse_level", "RMSE level", "{:.4f}"),
    ("rmse", "RMSE %", "{:.1f}"),
    ("cover", "cover", "{:.1f}"),
    ("cover_step", "cover step", "{:.1f}"),
)


def table_rows(table, groups):
    """Markdown rows, old | new for each column, one per (label, rows)."""
    head = " | ".join(f"{title} old | {title} new" for _, title, _ in COLUMNS)
    lines = [f"| group | boundaries | {head} |", "|---" * (2 + 2 * len(COLUMNS)) + "|"]
    for label, rows in groups:
        old, new = summary(table, "old", rows), summary(table, "new", rows)
        cells = " | ".join(
            f"{_cell(form, old[key])} | {_cell(form, new[key])}"
            for key, _, form in COLUMNS
        )
        lines.append(f"| {label} | {new['boundaries']} | {cells} |")
    return lines


def _cell(form, value):
    return (
        "n/a" if isinstance(value, float) and math.isnan(value) else form.format(value)
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SEEDS} seeds instead"
    )
    args = parser.parse_args(argv)
    seeds = QUICK_SEEDS if args.quick else args.seeds
    began = time.perf_counter()
    table = collect(seeds)
    runs = len(TRUTHS) * len(METRICS) * len(BATCH_SIZES) * seeds
    print(
        f"{runs} simulated runs ({seeds} per truth, metric and batch size "
        f"{BATCH_SIZES[0]}-{BATCH_SIZES[-1]}), {EPOCHS} epochs of {SAMPLES} "
        f"samples, {runs * (EPOCHS - 1)} boundaries; "
        f"{time.perf_counter() - began:.0f} s"
    )
    everything = np.ones(len(table["true_lag"]), bool)
    by_truth = [
        (f"{truth}, {metric}", (table["truth"] == truth) & (table["metric"] == metric))
        for truth in TRUTHS
        for metric in METRICS
    ]
    print("\nPer truth (all batch sizes):\n")
    print("\n".join(table_rows(table, by_truth + [("all", everything)])))
    by_batch = [
        (
            f"{metric}, batch {size}",
            (table["batch_size"] == size) & (table["metric"] == metric),
        )
        for metric in METRICS
        for size in BATCH_SIZES
    ]
    print("\nPer batch size (all truths; bias % and RMSE % without the plateau):\n")
    print("\n".join(table_rows(table, by_batch)))


if __name__ == "__main__":
    main()
