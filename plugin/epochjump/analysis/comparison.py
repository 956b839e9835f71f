"""Sums up one run's jumps in a few numbers, to compare runs (pure numpy, no I/O)."""

import math

import numpy as np


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
      up the way a mean of per-boundary shares can, and `total_jump`,
      `total_lag`, the sums it is made of.
    """
    jump = np.array([j.jump for j in jumps], np.float64)
    lag = np.array([j.lag for j in jumps], np.float64)
    both = np.isfinite(jump) & np.isfinite(lag)
    total_jump = float(np.sum(jump[both]))
    total_lag = float(np.sum(lag[both]))
    return {
        "boundaries": len(jumps),
        "mean_jump": _finite_mean(jump),
        "mean_lag": _finite_mean(lag),
        "mean_progress": _finite_mean([j.progress for j in jumps]),
        "mean_mode_gap": _finite_mean([j.mode_gap for j in jumps]),
        "lag_share": total_lag / total_jump if total_jump != 0 else math.nan,
        "total_jump": total_jump,
        "total_lag": total_lag,
    }


def _finite_mean(values):
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if len(finite) else math.nan
