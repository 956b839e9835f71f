"""Estimates a metric's training-mode level at an epoch's edges (pure numpy, no I/O).

Each batch value is the model's level at that batch plus the batch's sampling
noise. The level at an edge (the epoch's last batch, or its first) is the
intercept of a straight line fitted by least squares to the batches nearest
that edge. The window (how many batches) is chosen per edge to minimise the
estimated squared bias plus variance of that intercept: the bias comes from a
cubic pilot fitted to the whole epoch, the variance from the batch-to-batch
noise (Gasser-Sroka-Jennen pseudo-residuals, which a smooth trend barely
affects). The standard error is that of the fit (leverage of the edge point
times the noise variance), widened by the estimated bias of the chosen window.
See docs/analysis.md for the formulas and their measured accuracy.
"""

import dataclasses
import math

import numpy as np

# Fewer finite batches than this cannot separate a trend from the noise: the
# level is then their plain mean.
MIN_FIT = 3
# A cubic pilot needs enough batches to be less noisy than the lines it judges.
MIN_CUBIC_PILOT = 8
MIN_QUADRATIC_PILOT = 5
# The noise is estimated over at least this many batches nearest the edge: a
# short chosen window alone would give a noisy estimate (and under-cover).
MIN_NOISE_BATCHES = 32


@dataclasses.dataclass(frozen=True)
class Level:
    """The model's level at one edge of an epoch, with its uncertainty.

    Attributes:
      value: float, the estimated level at the edge batch; NaN without finite
        batch values.
      stderr: float, its standard error (fit variance plus the estimated bias
        of the window, in quadrature); NaN when it cannot be estimated (a
        single finite batch).
      window: int, how many finite batches nearest the edge the fit used.
      noise_sd: float, the batch-to-batch noise standard deviation near the
        edge; NaN with fewer than 2 finite batches.
    """

    value: float
    stderr: float
    window: int
    noise_sd: float


def level_at_end(values):
    """The level at an epoch's last batch, from that epoch's batch values.

    Args:
      values: 1-D array-like of float, the epoch's batch values in order;
        non-finite values are skipped (their positions are kept).

    Returns:
      A `Level` at the position of the last batch.

    Example:
      ```python
      level_at_end([0.5, 0.6, 0.7, 0.8])  # Level(value=0.8, stderr=0.0, ...)
      ```
    """
    return _edge_level(np.asarray(values, dtype=float)[::-1])


def level_at_start(values):
    """The level at an epoch's first batch, from that epoch's batch values.

    Args:
      values: 1-D array-like of float, the epoch's batch values in order;
        non-finite values are skipped (their positions are kept).

    Returns:
      A `Level` at the position of the first batch.
    """
    return _edge_level(np.asarray(values, dtype=float))


def noise_sd(values):
    """The batch-to-batch noise standard deviation of a sequence of batches.

    Uses Gasser-Sroka-Jennen pseudo-residuals: each batch against the line
    through its two neighbours, so a smooth trend contributes only through its
    curvature.

    Args:
      values: 1-D array-like of float, batch values in order; non-finite
        values are skipped (their positions are kept).

    Returns:
      float; NaN with fewer than 2 finite values. With exactly 2, the
      difference of the two (which includes any trend).
    """
    y = np.asarray(values, dtype=float)
    x = np.flatnonzero(np.isfinite(y)).astype(float)
    return _noise_sd(x, y[np.isfinite(y)])


def _noise_sd(x, y):
    if len(y) < 2:
        return math.nan
    if len(y) == 2:
        return abs(y[1] - y[0]) / math.sqrt(2)
    left, right = x[1:-1] - x[:-2], x[2:] - x[1:-1]
    a, b = right / (left + right), left / (left + right)
    pseudo = a * y[:-2] + b * y[2:] - y[1:-1]
    return math.sqrt(float(np.mean(pseudo**2 / (a**2 + b**2 + 1))))


def _edge_level(y):
    """The level at position 0 of `y` (the edge is its first element)."""
    finite = np.isfinite(y)
    x = np.flatnonzero(finite).astype(float)
    y = y[finite]
    m = len(y)
    if m == 0:
        return Level(math.nan, math.nan, 0, math.nan)
    if m < MIN_FIT:
        sd = _noise_sd(x, y)
        return Level(float(np.mean(y)), sd / math.sqrt(m), m, sd)
    # Intercepts at x = 0 of the lines through the h nearest batches, for
    # every h at once, and the same for the pilot's fitted values (whose
    # intercept error is the line's bias under the pilot).
    intercept, leverage = _line_intercepts(x, y)
    pilot_at_x, pilot_at_0 = _pilot(x, y)
    bias, _ = _line_intercepts(x, pilot_at_x)
    bias = bias - pilot_at_0
    sigma = _noise_sd(x, y)
    for _ in range(2):
        # The noise varies over an epoch (a binomial accuracy's shrinks as it
        # rises): re-estimate it near the edge once a window is chosen.
        h = m if sigma == 0 else _best_window(bias, sigma**2 * leverage)
        nearest = max(h, min(m, MIN_NOISE_BATCHES))
        sigma = _noise_sd(x[:nearest], y[:nearest])
    i = h - 1
    stderr = math.sqrt(sigma**2 * leverage[i] + bias[i] ** 2)
    return Level(float(intercept[i]), stderr, h, sigma)


def _line_intercepts(x, y):
    """Least-squares lines through the first h points, for h = 1..len(x).

    Returns:
      (intercept, leverage): arrays of the fitted value at x = 0 and of its
      variance per unit noise variance; NaN for h < MIN_FIT.
    """
    s0 = np.arange(1, len(x) + 1, dtype=float)
    s1, s2 = np.cumsum(x), np.cumsum(x * x)
    t0, t1 = np.cumsum(y), np.cumsum(x * y)
    det = s0 * s2 - s1 * s1
    with np.errstate(divide="ignore", invalid="ignore"):
        intercept = (s2 * t0 - s1 * t1) / det
        leverage = s2 / det
    intercept[: MIN_FIT - 1] = math.nan
    leverage[: MIN_FIT - 1] = math.nan
    return intercept, leverage


def _pilot(x, y):
    """A low-degree polynomial over all the points: values at x and at 0."""
    if len(y) >= MIN_CUBIC_PILOT:
        degree = 3
    elif len(y) >= MIN_QUADRATIC_PILOT:
        degree = 2
    else:
        return y * 0.0, 0.0  # Too few batches to judge the line's bias.
    scale = x[-1] if x[-1] > 0 else 1.0
    coef = np.polynomial.polynomial.polyfit(x / scale, y, degree)
    fitted = np.polynomial.polynomial.polyval(x / scale, coef)
    return fitted, float(coef[0])


def _best_window(bias, variance):
    """The window (a number of points) minimising bias² + variance."""
    risk = bias**2 + variance
    risk[~np.isfinite(risk)] = math.inf
    return int(np.argmin(risk)) + 1
