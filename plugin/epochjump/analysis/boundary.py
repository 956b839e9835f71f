"""The level at an epoch's last batch, once the next epoch's batches are in
(pure numpy, no I/O).

`levels.level_at_end` sees only the epoch itself: a line through its last
batches, whose window trades the concave edge's bias (the line overshoots
it) against the noise. Once the next epoch has begun, its first batches
inform the same edge: here the batches on both sides of the boundary are
fitted at once, a line on each side sharing one slope, with a step allowed
between the epoch's last batch and the next one's first (triangular
weights, the same number of batch positions on each side). Its window is
chosen by squared bias plus variance, the bias from a quadratic pilot on
each side, but counted unbiased (`max(B² - V, 0)`, the rule `levels` used
before issue 17): a curvature within the pilots' noise counts as none, so a
straight stretch gets the whole epoch, where the one-sided line, which
counts it (`B² + V`), stays short. The shared slope is an average of the
two sides' slopes, so on a concave curve this fit undershoots the edge
while the one-sided line overshoots it. Their mean is the estimate: on the
benchmark's truths its bias stays small where the joint fit alone is off by
up to 6% of the lag, and its RMSE is below the one-sided line's before
issue 17 on every truth. Both are linear in the batch values,
so the mean's standard error follows from each batch's weight in it and
that batch's local noise, widened by the two fits' mean stated bias.

The progress bar prints `levels.level_at_end` at an epoch's end, before the
next epoch exists; `epochjump explain`, the tab and the reports use this
estimate wherever a next epoch was recorded, so they can differ from the
progress bar within its ±. See docs/analysis.md for the formulas and the
measured accuracy.
"""

import math
import typing

import numpy as np

from epochjump.analysis import levels

# Each side needs this many finite batches for a pilot (as `levels`); with
# fewer, the one-sided estimate is used.
MIN_SIDE = levels.MIN_PILOT


class Boundary(typing.NamedTuple):
    """The model's level on both sides of an epoch boundary.

    Attributes:
      end: `levels.Level` at the last batch before the boundary.
      after: `levels.Level` at the first batch after it
        (`levels.level_at_start` of the next epoch).
      step_stderr: float, the standard error of `after.value - end.value`.
    """

    end: levels.Level
    after: levels.Level
    step_stderr: float


def across(before, after):
    """The levels on both sides of the boundary between two epochs.

    Args:
      before: 1-D array-like of float, the epoch's batch values in order
        (non-finite values are skipped, their positions kept).
      after: 1-D array-like of float, the next epoch's batch values in order.

    Returns:
      A `Boundary`. `end` is the mean of `levels.level_at_end(before)` and
      the joint fit's level, its stderr from the two fits' weights and each
      batch's noise, widened by their mean stated bias; its `window` and
      `noise_sd` are the one-sided fit's. `step_stderr` counts every batch's
      weight in the step and both levels' stated biases, added (their signs
      are unknown). When a side has too few finite batches, noise below float
      rounding, or no standard error, `end` is `levels.level_at_end(before)`
      and `step_stderr` the two stderrs in quadrature.
    """
    one_sided = levels.level_at_end(before)
    level_after = levels.level_at_start(after)
    fallback = Boundary(
        one_sided, level_after, math.hypot(one_sided.stderr, level_after.stderr)
    )
    if not math.isfinite(one_sided.stderr):
        return fallback
    sides = [
        _Side(np.asarray(before, dtype=float)[::-1]),
        _Side(np.asarray(after, dtype=float)),
    ]
    joint = _joint_level(sides)
    if joint is None:
        return fallback
    left, right = sides
    line = levels.line_weights(left.u, one_sided.window)
    # Both estimates are linear in the same batches: the mean's variance
    # counts their covariance instead of assuming the worst.
    end_weights = [(line + joint.weights[0]) / 2, joint.weights[1] / 2]
    end_bias = (_stated_bias(one_sided, line, left) + abs(joint.bias)) / 2
    end_variance = _variance(end_weights, sides)
    after_line = levels.line_weights(right.u, level_after.window)
    step_weights = [end_weights[0], after_line - end_weights[1]]
    step_bias = end_bias + _stated_bias(level_after, after_line, right)
    end = levels.Level(
        (one_sided.value + joint.value) / 2,
        math.sqrt(end_variance + end_bias**2),
        one_sided.window,
        one_sided.noise_sd,
        one_sided.degree,
    )
    return Boundary(
        end, level_after, math.sqrt(_variance(step_weights, sides) + step_bias**2)
    )


def _variance(weights, sides):
    """The variance of sum(weights * y) over both sides, from each batch's
    local noise."""
    return sum(float(np.sum(w**2 * side.noise)) for w, side in zip(weights, sides))


def _stated_bias(level, weights, side):
    """The bias `levels` added to a line fit's variance in its stderr."""
    variance = _variance([weights], [side])
    return math.sqrt(max(level.stderr**2 - variance, 0.0))


class _Joint(typing.NamedTuple):
    """The joint fit's level at the boundary's left edge.

    Attributes:
      value: float, the level.
      bias: float, its bias as the pilots predict it.
      weights: per side, a float array over that side's finite batches
        (nearest the boundary first): value = sum over sides of weights * y.
    """

    value: float
    bias: float
    weights: list


def _joint_level(sides):
    """The joint fit at the window its rule picks, as a `_Joint`, or None
    when it cannot be fitted."""
    if min(len(side.y) for side in sides) < MIN_SIDE or not all(
        side.sigma > 0 for side in sides
    ):
        return None
    fit = _joint_fits(sides)
    if len(fit["window"]) == 0:
        return None
    # The unbiased squared bias: a curvature within the pilots' noise counts
    # as none, so a straight stretch gets the whole epoch (see the module
    # docstring for why this half uses it and the one-sided line does not).
    squared_bias = np.maximum(fit["bias"] ** 2 - fit["bias_var"], 0.0)
    best = int(np.argmin(squared_bias + fit["var"]))
    span = fit["window"][best]
    weights = []
    for side, c in zip(sides, fit["coefficients"]):
        v = side.u / span
        weights.append(np.where(v < 1, (1 - v) * (c[best, 0] + c[best, 1] * v), 0.0))
    return _Joint(float(fit["value"][best]), float(fit["bias"][best]), weights)


class _Side:
    """One side of the boundary, positions counted in batches from it.

    Attributes:
      u: float array, the finite batches' distances from the boundary's
        batch on this side (0 for the edge batch itself).
      y: their values; noise: each one's local noise variance.
      sigma: the noise sd near the edge; pilot, pilot_inverse: the pilot
        polynomial over the whole epoch in x = u / u.max() and its (X'X)^-1.
    """

    def __init__(self, values):
        finite = np.isfinite(values)
        self.u = np.flatnonzero(finite).astype(float)
        self.y = values[finite]
        self.sigma = math.nan
        if len(self.y) < MIN_SIDE:
            return
        rounding = levels.ROUNDING * float(np.max(np.abs(self.y)))
        self.noise = levels._local_noise(self.u, self.y)
        near = min(len(self.y), levels.MIN_NOISE_BATCHES)
        sigma = levels._noise_sd(self.u[:near], self.y[:near])
        self.sigma = sigma if sigma > rounding else 0.0
        x = self.u / self.u[-1]
        design = np.vander(x, levels.PILOT_DEGREE + 1, increasing=True)
        self.pilot_inverse = np.linalg.pinv(design.T @ design)
        self.pilot = self.pilot_inverse @ design.T @ self.y


def _windows(sides):
    """Candidate spans in batch positions, each side holding 2+ batches."""
    reach = min(int(side.u[-1]) + 1 for side in sides)
    spans = levels._windows(reach)
    enough = np.ones(len(spans), bool)
    for side in sides:
        enough &= np.searchsorted(side.u, spans, side="left") >= 2
    return spans[enough]


def _sums(side, spans, weights, top):
    """sum over u < span of weights * (u / span)^j, j = 0..top, per span."""
    length = int(side.u[-1]) + 1
    dense = np.zeros(length)
    dense[side.u.astype(int)] = weights
    u = np.arange(length, dtype=float)
    out = np.empty((len(spans), top + 1))
    for j in range(top + 1):
        out[:, j] = np.cumsum(dense * u**j)[spans - 1] / spans.astype(float) ** j
    return out


def _joint_fits(sides, target=(1.0, 0.0, 0.0)):
    """The joint fit at every candidate span, as a dict of arrays.

    Model (v = u / span, per side): before the boundary y = a - b v, after
    it y = c + b v; the value is a (`target` picks the combination of a, c
    and b). Triangular weights 1 - v.
    """
    spans = _windows(sides)
    top = levels.PILOT_DEGREE + 2
    kernel, squared, cross = [], [], []
    for side in sides:
        plain = _sums(side, spans, np.ones(len(side.y)), top + 1)
        noise = _sums(side, spans, side.noise, top + 1)
        y = _sums(side, spans, side.y, 2)
        kernel.append(plain[:, :-1] - plain[:, 1:])
        squared.append(noise[:, :-2] - 2 * noise[:, 1:-1] + noise[:, 2:])
        cross.append(y[:, :-1] - y[:, 1:])
    (kl, kr), (tl, tr) = kernel, cross
    n = len(spans)
    gram = np.zeros((n, 3, 3))
    gram[:, 0, 0], gram[:, 1, 1] = kl[:, 0], kr[:, 0]
    gram[:, 0, 2] = gram[:, 2, 0] = -kl[:, 1]
    gram[:, 1, 2] = gram[:, 2, 1] = kr[:, 1]
    gram[:, 2, 2] = kl[:, 2] + kr[:, 2]
    rhs = np.stack([tl[:, 0], tr[:, 0], tr[:, 1] - tl[:, 1]], axis=1)
    unit = np.broadcast_to(np.asarray(target, float)[None, :, None], (n, 3, 1))
    g = np.linalg.solve(gram, unit)[:, :, 0]
    # Each side's weights are kernel * (c0 + c1 v).
    coefficients = (np.stack([g[:, 0], -g[:, 2]], 1), np.stack([g[:, 1], g[:, 2]], 1))
    value = np.sum(g * rhs, axis=1)
    var = np.zeros(n)
    bias = np.zeros(n)
    bias_var = np.zeros(n)
    for i, (side, k, noise, c) in enumerate(zip(sides, kernel, squared, coefficients)):
        var += (
            c[:, 0] ** 2 * noise[:, 0]
            + 2 * c[:, 0] * c[:, 1] * noise[:, 1]
            + c[:, 1] ** 2 * noise[:, 2]
        )
        # Sums of weights * x^j in the pilot's x = u / u_max; the truth is
        # the target side's pilot at 0, so its d_0 is 1 less.
        j = np.arange(levels.PILOT_DEGREE + 1)
        scale = (spans[:, None] / side.u[-1]) ** j
        d = (c[:, :1] * k[:, j] + c[:, 1:] * k[:, j + 1]) * scale
        d[:, 0] -= target[i]
        bias += d @ side.pilot
        bias_var += side.sigma**2 * np.einsum("wj,jk,wk->w", d, side.pilot_inverse, d)
    return {
        "window": spans,
        "value": value,
        "var": var,
        "bias": bias,
        "bias_var": bias_var,
        "coefficients": coefficients,
    }
