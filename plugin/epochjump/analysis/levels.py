"""Estimates a metric's training-mode level at an epoch's edges (pure numpy, no I/O).

Each batch value is the model's level at that batch plus the batch's sampling
noise, whose variance may drift over the epoch (an accuracy's shrinks as it
rises, a loss's with the loss). The level at an edge (the epoch's last batch,
or its first) is the intercept of a straight line fitted by weighted least
squares to the batches nearest that edge (triangular weights: the edge batch
counts most, the window's far end least). The window (how many batches) is
chosen per edge to minimise the intercept's squared bias plus variance: the
bias from a quadratic pilot fitted to the whole epoch, counted with the
pilot's own uncertainty (a curvature the pilot cannot rule out shortens the
window), the variance from each batch's weight and its local noise
(Gasser-Sroka-Jennen pseudo-residuals, which a smooth trend barely affects,
averaged over the 33 nearest batches). The standard error is that variance
widened by the chosen window's estimated bias: the pilot's, or the change
from the window half as long when that is larger.
See docs/analysis.md for the formulas and their measured accuracy.
"""

import dataclasses
import math

import numpy as np

# Fewer finite batches than this cannot separate a trend from the noise: the
# level is then their plain mean.
MIN_FIT = 3
# The local polynomials tried at each edge and the degree of the pilot that
# judges their bias. Measured on the saturating curves of the benchmark before
# issue 17: adding means (degree 0) or parabolas, or a cubic pilot, made the
# lag's RMSE worse, as the pilot then misjudges the bias of the wide windows
# it picks; triangular weights (below) beat uniform ones (RMSE 21.4% against
# 22.7% of the lag). On issue 17's wider truths, a pilot degree chosen by BIC
# or equal-weight windows as further candidates did not pay either
# (docs/analysis.md, variants).
DEGREES = (1,)
PILOT_DEGREE = 2
# A pilot needs a few residual degrees of freedom to judge anything.
MIN_PILOT = 5
# `noise_sd` is estimated over at least this many batches nearest the edge: a
# short chosen window alone would give a noisy estimate.
MIN_NOISE_BATCHES = 32
# Each batch's noise variance is its pseudo-residual's, averaged over this
# many batches on either side (fewer in short epochs): the noise drifts
# slowly, and fewer would make the variance of short windows noisy.
NOISE_HALF_WIDTH = 16
# Noise below this share of the values' magnitude is float rounding.
ROUNDING = 1e-12


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
      degree: int, the fitted polynomial's degree (0: the window's mean, 1: a
        line, 2: a parabola).
    """

    value: float
    stderr: float
    window: int
    noise_sd: float
    degree: int


def level_at_start(values):
    """The level at an epoch's first batch, from that epoch's batch values.

    Args:
      values: 1-D array-like of float, the epoch's batch values in order;
        non-finite values are skipped (their positions are kept).

    Returns:
      A `Level` at the position of the first batch.
    """
    return _edge_level(np.asarray(values, dtype=float))


def level_at_end(values):
    """The level at an epoch's last batch: `level_at_start` of the epoch's
    batch values read backwards.

    Args:
      values: as for `level_at_start`, in order.

    Returns:
      A `Level` at the position of the last batch.

    Example:
      ```python
      level_at_end([0.5, 0.6, 0.7, 0.8])  # Level(value≈0.8, stderr=0.0, ...)
      ```
    """
    return level_at_start(np.asarray(values, dtype=float)[::-1])


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
        return float(abs(y[1] - y[0])) / math.sqrt(2)
    return math.sqrt(float(np.mean(_pseudo_variances(x, y))))


def _pseudo_variances(x, y):
    """Per interior point, its squared pseudo-residual scaled to estimate the
    noise variance there (at least 3 points)."""
    left, right = x[1:-1] - x[:-2], x[2:] - x[1:-1]
    a, b = right / (left + right), left / (left + right)
    pseudo = a * y[:-2] + b * y[2:] - y[1:-1]
    return pseudo**2 / (a**2 + b**2 + 1)


def _local_noise(x, y):
    """Each point's noise variance: the pseudo-residual variances averaged
    over its NOISE_HALF_WIDTH neighbours on either side."""
    m = len(y)
    inner = _pseudo_variances(x, y)
    per_point = np.concatenate([inner[:1], inner, inner[-1:]])
    half = min(NOISE_HALF_WIDTH, m // 2)
    sums = np.concatenate([[0.0], np.cumsum(per_point)])
    low = np.maximum(np.arange(m) - half, 0)
    high = np.minimum(np.arange(m) + half + 1, m)
    return (sums[high] - sums[low]) / (high - low)


def _edge_level(y):
    """The level at position 0 of `y` (the edge is its first element)."""
    finite = np.isfinite(y)
    x = np.flatnonzero(finite).astype(float)
    y = y[finite]
    m = len(y)
    if m == 0:
        return Level(math.nan, math.nan, 0, math.nan, 0)
    if m < MIN_FIT:
        sd = _noise_sd(x, y)
        return Level(float(np.mean(y)), sd / math.sqrt(m), m, sd, 0)
    x = x / x[-1] if x[-1] > 0 else x
    fits = _candidates(x, y, _local_noise(x, y))
    rounding = ROUNDING * float(np.max(np.abs(y)))
    sigma = _noise_sd(x, y)
    for _ in range(2):
        sigma = 0.0 if sigma <= rounding else sigma
        if sigma == 0:  # Exact values: the widest line reproduces them.
            risk = np.where(fits.degree == 1, -fits.window, np.inf)
        else:
            risk = _squared_bias(fits, sigma) + _variance(fits, sigma)
        best = int(np.argmin(risk))
        # The pilot's uncertainty scales with the noise near the edge (the
        # noise drifts over an epoch): re-estimate it once a window is chosen.
        nearest = max(int(fits.window[best]), min(m, MIN_NOISE_BATCHES))
        sigma = _noise_sd(x[:nearest], y[:nearest])
    sigma = 0.0 if sigma <= rounding else sigma
    stderr = 0.0
    if sigma > 0:
        variance = _variance(fits, sigma)[best]
        stderr = math.sqrt(variance + _stated_bias(fits, best, sigma))
    return Level(
        float(fits.value[best]),
        stderr,
        int(fits.window[best]),
        sigma,
        int(fits.degree[best]),
    )


def _squared_bias(fits, sigma):
    """What the window rule counts as each candidate's squared bias.

    `fits.bias` is the pilot's estimate B; its variance V comes from the
    pilot's noise. B² + V is the expected squared bias given the pilot (flat
    prior on its curvature); the unbiased B² - V (the rule before issue 17)
    calls a curvature within the pilot's noise zero, and so often chose the
    whole epoch on a concave curve, the main source of the lag's bias
    (docs/analysis.md).
    """
    return fits.bias**2 + sigma**2 * fits.bias_leverage


def _variance(fits, sigma):
    """Each candidate's variance, from the local noise of its batches."""
    return fits.noise_variance


def _stated_bias(fits, best, sigma):
    """The squared bias added to the chosen window's variance in `stderr`.

    The pilot's estimate, or, when larger, the change from the window half as
    long beyond what their noise explains: a quadratic pilot does not see a
    bend inside the epoch (a learning-rate drop), the two windows do.
    """
    half = int(np.searchsorted(fits.window, fits.window[best] / 2))
    change = 0.0
    if half < best and fits.degree[half] == fits.degree[best]:
        noise = fits.noise_variance[half] - fits.noise_variance[best]
        change = (fits.value[best] - fits.value[half]) ** 2 - max(noise, 0.0)
    return max(fits.bias[best] ** 2, change)


@dataclasses.dataclass(frozen=True)
class _Candidates:
    """Estimates of the level at x = 0, one per (degree, window), as arrays.

    Attributes:
      degree, window: int arrays, the local polynomial's degree and how many
        points nearest the edge it fits.
      value: the fitted value at x = 0.
      leverage: its variance per unit noise variance (sum of squared weights).
      bias: the error the pilot polynomial predicts for it.
      bias_leverage: the variance of `bias` per unit noise variance.
      noise_variance: the value's variance from each point's local noise
        (sum of squared weights times that noise).
    """

    degree: np.ndarray
    window: np.ndarray
    value: np.ndarray
    leverage: np.ndarray
    bias: np.ndarray
    bias_leverage: np.ndarray
    noise_variance: np.ndarray


def _candidates(x, y, noise):
    """Every (degree, window) estimate, with the pilot's view of its bias.

    Args:
      x: float array, ascending positions in [0, 1], the edge at 0.
      y: float array, the values there.
      noise: float array, the noise variance at each point.

    Returns:
      A `_Candidates`.
    """
    pilot_degree = _pilot_degree(len(y))
    top = max(DEGREES)
    powers = np.arange(max(2 * top, top + pilot_degree, 2 * pilot_degree) + 3)
    cross_powers = max(top + 1, pilot_degree) + 1
    all_windows = _windows(len(y))
    # Power sums S_k = sum x^k, T_k = sum x^k y and N_k = sum x^k noise over
    # the h nearest points, at each candidate h only (memory stays
    # O(len(y)) for huge epochs).
    starts = np.append(0, all_windows[:-1])
    moments = np.empty((len(all_windows), len(powers)))
    noise_moments = np.empty((len(all_windows), len(powers)))
    cross = np.empty((len(all_windows), cross_powers))
    xk = np.ones_like(x)
    for k in powers:
        moments[:, k] = np.cumsum(np.add.reduceat(xk, starts))
        noise_moments[:, k] = np.cumsum(np.add.reduceat(xk * noise, starts))
        if k < cross_powers:
            cross[:, k] = np.cumsum(np.add.reduceat(xk * y, starts))
        xk = xk * x
    pilot, pilot_inverse = _pilot(moments[-1], cross[-1], pilot_degree)
    reach = np.arange(pilot_degree + 1)
    parts = []
    for degree in DEGREES:
        usable = all_windows >= degree + 2
        windows = all_windows[usable]
        if len(windows) == 0:
            continue
        # Rescale to each window's own span so small windows stay
        # well-conditioned; values at x = 0 do not depend on the scale.
        span = window_span(x, windows)
        scale = np.where(span > 0, span, 1.0)[:, None] ** -powers
        s = moments[usable] * scale
        t = cross[usable] * scale[:, :cross_powers]
        # Triangular weights 1 - x / span (the edge batch counts most): sums
        # over them follow from the plain power sums.
        ks = s[:, :-2] - s[:, 1:-1]
        kt = t[:, :-1] - t[:, 1:]
        k = np.arange(degree + 1)
        pairs = k[:, None] + k[None, :]
        gram = ks[:, pairs]
        unit = np.zeros((len(windows), degree + 1, 1))
        unit[:, 0, 0] = 1.0
        g = np.linalg.solve(gram, unit)[:, :, 0]
        leverage = np.einsum("wj,wjk,wk->w", g, _squared_kernel(s)[:, pairs], g)
        noise_variance = np.einsum(
            "wj,wjk,wk->w",
            g,
            _squared_kernel(noise_moments[usable] * scale)[:, pairs],
            g,
        )
        # Moments of the fit's weights, sum_i w_i x_i^j, in the pilot's scale;
        # those up to the fit's degree are reproduced exactly (no bias).
        weight_moments = np.einsum("wjk,wk->wj", ks[:, reach[:, None] + k], g)
        d = weight_moments / scale[:, : pilot_degree + 1]
        d[:, : degree + 1] = 0.0
        parts.append(
            _Candidates(
                degree=np.full(len(windows), degree),
                window=windows,
                value=np.sum(g * kt[:, : degree + 1], axis=1),
                leverage=leverage,
                bias=d @ pilot,
                bias_leverage=np.einsum("wj,jk,wk->w", d, pilot_inverse, d),
                noise_variance=noise_variance,
            )
        )
    return _Candidates(
        *(
            np.concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(_Candidates)
        )
    )


def window_span(x, windows):
    """Where the triangular weights of the `windows` nearest points reach 0.

    One average spacing past the window's last point, so that point still
    has some weight.

    Args:
      x: float array, ascending positions, the edge at 0.
      windows: int or int array, how many points nearest the edge (2+ each).

    Returns:
      The span per window, in the units of `x`.
    """
    windows = np.asarray(windows)
    return x[windows - 1] * windows / np.maximum(windows - 1, 1)


def line_weights(x, window):
    """The weight of each point in the level a window's line gives at x = 0.

    The level `level_at_end` / `level_at_start` report for a line fit is
    `sum(weights * y)`; its variance is `sum(weights**2 * noise)`.

    Args:
      x: float array, ascending positions of the finite points, the edge at 0.
      window: int, how many points nearest the edge the line fits (3+).

    Returns:
      A float array like `x`, zero beyond the window.
    """
    v = x[:window] / window_span(x, window)
    kernel = 1 - v
    gram = [[np.sum(kernel * v**j * v**k) for k in (0, 1)] for j in (0, 1)]
    g = np.linalg.solve(gram, [1.0, 0.0])
    weights = np.zeros(len(x))
    weights[:window] = kernel * (g[0] + g[1] * v)
    return weights


def _squared_kernel(sums):
    """Sums of (1 - x)^2 x^k from the power sums of x^k (k, k + 1, k + 2)."""
    return sums[:, :-2] - 2 * sums[:, 1:-1] + sums[:, 2:]


def _pilot_degree(m):
    # A pilot of the fits' own degree sees no bias: the widest window wins.
    return PILOT_DEGREE if m >= MIN_PILOT else max(DEGREES)


def _pilot(total_moments, total_cross, degree):
    """The pilot polynomial over all points: coefficients and (X'X)^-1."""
    k = np.arange(degree + 1)
    inverse = np.linalg.pinv(total_moments[k[:, None] + k[None, :]])
    return inverse @ total_cross[: degree + 1], inverse


def _windows(m):
    """Candidate window sizes: every size up to 64, then a geometric grid."""
    small = np.arange(1, min(m, 64) + 1)
    large = np.geomspace(64, m, 48).round() if m > 64 else []
    return np.unique(np.concatenate([small, large, [m]]).astype(int))
