"""Puts runs' jump decompositions side by side for one metric (pure numpy, no I/O).

Each run's entry depends on that run alone, so a subset of runs is compared
by taking a subset of the entries.
"""

import math

import numpy as np

from epochjump import analysis
from epochjump import validation_gap

# The most runs one `compare` request may name; the tab asks in batches.
MAX_RUNS = 20
BOUNDARY_FIELDS = ("epoch", "jump", "lag", "progress", "lag_share", "mode_gap")


def compare_answer(runs, metric, level_fraction=analysis.LEVEL_FRACTION):
    """The `compare` answer: one entry per run for one metric.

    Args:
      runs: list of `epochjump.RunData`, each holding `metric`.
      metric: str, the metric name (without `val_`).
      level_fraction: float in (0, 1], default 0.1, as in `epochjump.explain`.

    Returns:
      A JSON-ready dict (non-finite floats left as floats): `metric`,
      `higher_is_better`, `estimator` and `runs`, a list of `run_entry`
      results in the order given.

    Raises:
      KeyError: if a run has no such metric.
    """
    return {
        "metric": metric,
        "higher_is_better": validation_gap.higher_is_better(metric),
        "estimator": analysis.ESTIMATOR,
        "runs": [run_entry(run, metric, level_fraction) for run in runs],
    }


def run_entry(run, metric, level_fraction=analysis.LEVEL_FRACTION):
    """One run's side of the comparison.

    Args:
      run: `epochjump.RunData`.
      metric: str, a metric of `run`.
      level_fraction: float in (0, 1], default 0.1.

    Returns:
      A dict: `run` (its name), `summary` (see `summarize`), `boundaries`
      (per epoch boundary: `epoch`, `jump`, `lag`, `progress`, `lag_share`,
      `mode_gap`) and `validation` (`ValidationGap.as_dict()` per epoch with
      a recorded `val`, without `metric`).
    """
    jumps = analysis.explain(run, metric, level_fraction)
    gaps = validation_gap.validation_gaps(run, metric, level_fraction)
    boundaries = []
    for jump in jumps:
        record = jump.as_dict()
        boundaries.append({field: record[field] for field in BOUNDARY_FIELDS})
    validation = []
    for gap in gaps:
        record = gap.as_dict()
        del record["metric"], record["higher_is_better"]
        validation.append(record)
    return {
        "run": run.name,
        "summary": summarize(jumps),
        "boundaries": boundaries,
        "validation": validation,
    }


def summarize(jumps):
    """One run's jumps in a few numbers.

    Args:
      jumps: list of `analysis.Jump`.

    Returns:
      A dict: `boundaries` (how many), `mean_jump`, `mean_lag`,
      `mean_progress`, `mean_mode_gap` (each the mean over the boundaries
      where it is finite; NaN when there are none) and `lag_share`, the
      summed lag over the summed jump of the boundaries where both are
      finite (NaN when that jump sums to 0), which small jumps cannot blow
      up the way a mean of per-boundary shares can.
    """
    jump = np.array([j.jump for j in jumps], np.float64)
    lag = np.array([j.lag for j in jumps], np.float64)
    both = np.isfinite(jump) & np.isfinite(lag)
    total_jump = float(np.sum(jump[both]))
    return {
        "boundaries": len(jumps),
        "mean_jump": _finite_mean(jump),
        "mean_lag": _finite_mean(lag),
        "mean_progress": _finite_mean([j.progress for j in jumps]),
        "mean_mode_gap": _finite_mean([j.mode_gap for j in jumps]),
        "lag_share": (
            float(np.sum(lag[both])) / total_jump if total_jump != 0 else math.nan
        ),
    }


def _finite_mean(values):
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if len(finite) else math.nan
