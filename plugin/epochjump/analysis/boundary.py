"""The level at an epoch's last batch, once the next epoch's batches are in
(pure numpy, no I/O).

`levels.level_at_end` sees only the epoch itself: a line through its last
batches, whose window trades the concave edge's bias (the line overshoots
it) against the noise. Once the next epoch has begun, its first batches
inform the same edge: here the batches on both sides of the boundary are
fitted at once, a line on each side sharing one slope, with a step allowed
between the epoch's last batch and the next one's first (triangular
weights, the same number of batch positions on each side, the window chosen
as in `levels` by squared bias plus variance from a quadratic pilot on each
side). The shared slope is an average of the two sides' slopes, so on a
concave curve this fit undershoots the edge about as much as the one-sided
line overshoots it; their mean is the estimate, with the mean of their
standard errors as its standard error (never less than the standard
deviation of a mean of two estimates, whatever their correlation).

The progress bar prints `levels.level_at_end` at an epoch's end, before the
next epoch exists; `epochjump explain`, the tab and the reports use this
estimate wherever a next epoch was recorded, so they can differ from the
progress bar within its ±. See docs/analysis.md for the formulas and the
measured accuracy.
"""

import math

import numpy as np

from epochjump.analysis import levels

# Each side needs this many finite batches for a pilot (as `levels`); with
# fewer, the one-sided estimate is used.
MIN_SIDE = levels.MIN_PILOT


def level_at_end(before, after):
    """The level at the last batch of `before`, from both sides of the boundary.

    Args:
      before: 1-D array-like of float, the epoch's batch values in order
        (non-finite values are skipped, their positions kept).
      after: 1-D array-like of float, the next epoch's batch values in order.

    Returns:
      A `levels.Level` at the last batch of `before`: the mean of
      `levels.level_at_end(before)` and the joint fit's level, its stderr
      the mean of theirs; `window` and `noise_sd` are the one-sided fit's.
      Just `levels.level_at_end(before)` when a side has too few finite
      batches, noise below float rounding, or no standard error.
    """
    one_sided = levels.level_at_end(before)
    if not math.isfinite(one_sided.stderr):
        return one_sided
    joint = _joint_level(
        np.asarray(before, dtype=float)[::-1], np.asarray(after, dtype=float)
    )
    if joint is None:
        return one_sided
    value, stderr = joint
    return levels.Level(
        (one_sided.value + value) / 2,
        (one_sided.stderr + stderr) / 2,
        one_sided.window,
        one_sided.noise_sd,
        one_sided.degree,
    )


def _joint_level(left, right):
    """(value, stderr) of the joint fit's level at the boundary's left edge,
    or None when it cannot be fitted. `left` runs away from the boundary."""
    sides = [_Side(values) for values in (left, right)]
    if min(len(side.y) for side in sides) < MIN_SIDE or not all(
        side.sigma > 0 for side in sides
    ):
        return None
    fit = _joint_fits(sides)
    if len(fit["window"]) == 0:
        return None
    best = int(np.argmin(fit["bias"] ** 2 + fit["bias_var"] + fit["var"]))
    stderr = math.sqrt(fit["var"][best] + fit["bias"][best] ** 2)
    return float(fit["value"][best]), stderr


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
    }
