"""epochjump.analysis.boundary: the level at an epoch's end from both sides.

The joint fit is checked against a direct weighted least squares written here
(numpy's lstsq on the weighted design), the combination against its
definition, and the fallbacks against `levels.level_at_end`. Its accuracy on
known truths is tested with the benchmark's simulations in test_levels.py.
"""

import dataclasses
import math

import numpy as np
import pytest

from epochjump.analysis import boundary
from epochjump.analysis import levels


def noisy_epochs(seed=0, batches=(80, 80), level=0.7, slope=0.001, sd=0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(sum(batches), dtype=float)
    values = level + slope * t + rng.normal(0, sd, len(t))
    return values[: batches[0]], values[batches[0] :]


def weighted_hat_row(design, weights):
    """The row r with r @ y = the first coefficient of the weighted least
    squares fit of y on `design` (numpy's pseudo-inverse of the weighted
    design)."""
    root = np.sqrt(weights)[:, None]
    return (np.linalg.pinv(design * root) * root[:, 0])[0]


def direct_joint(before, after, span):
    """`a` of y = a - b v before the boundary, c + b v after it, v = u / span,
    triangular weights 1 - v, over the batches with u < span on each side:
    (each batch's weight in `a`, before's reversed then after's, NaN ones
    skipped; the finite batch values in the same order)."""
    rows, targets, weights = [], [], []
    for side, values in ((0, before[::-1]), (1, after)):
        for u, y in enumerate(values):
            if not math.isfinite(y):
                continue
            v = u / span
            rows.append([1 - side, side, -v if side == 0 else v])
            targets.append(y)
            weights.append(max(1 - v, 0.0))
    return weighted_hat_row(np.array(rows), np.array(weights)), np.array(targets)


def direct_joint_value(before, after, span):
    hat, targets = direct_joint(before, after, span)
    return hat @ targets


def direct_line_weights(values, window):
    """Each batch's weight in the one-sided line's level at the last batch
    (reversed order), the span one mean spacing past the window."""
    u = np.arange(len(values), dtype=float)
    span = u[window - 1] * window / (window - 1)
    v = u / span
    design = np.stack([np.ones(len(u)), v], axis=1)
    return weighted_hat_row(design, np.maximum(1 - v, 0.0))


def test_joint_fits_match_a_direct_weighted_least_squares():
    before, after = noisy_epochs()
    before[10] = math.nan  # Skipped in place.
    sides = [boundary._Side(before[::-1]), boundary._Side(after)]
    fit = boundary._joint_fits(sides)
    for i in (0, len(fit["window"]) // 2, len(fit["window"]) - 1):
        span = int(fit["window"][i])
        want = direct_joint_value(before, after, span)
        assert fit["value"][i] == pytest.approx(want, rel=1e-9, abs=1e-12), span


def both_fits(seed):
    """Two noisy epochs, the one-sided level, both sides and the joint fit."""
    before, after = noisy_epochs(seed=seed)
    left = boundary._Side(np.asarray(before)[::-1])
    right = boundary._Side(np.asarray(after))
    joint = boundary._joint_level([left, right])
    return before, after, levels.level_at_end(before), left, right, joint


def test_the_level_is_the_mean_of_the_one_sided_and_the_joint_estimates():
    before, after, one_sided, left, right, joint = both_fits(seed=1)
    level = boundary.across(before, after).end
    assert level.value == pytest.approx((one_sided.value + joint.value) / 2)
    assert (level.window, level.noise_sd) == (one_sided.window, one_sided.noise_sd)
    # The standard error, from each batch's weight in the mean of the two
    # fits (written here as direct weighted least squares) and its noise,
    # widened by the two fits' mean stated bias.
    span = int(np.flatnonzero(joint.weights[0])[-1]) + 1
    joint_hat, _ = direct_joint(before, after, span)
    line_hat = direct_line_weights(before[::-1], one_sided.window)
    np.testing.assert_allclose(
        np.concatenate(joint.weights), joint_hat, rtol=1e-9, atol=1e-12
    )
    mean_hat = joint_hat / 2
    mean_hat[: len(before)] += line_hat / 2
    noise = np.concatenate([left.noise, right.noise])
    line_bias = math.sqrt(one_sided.stderr**2 - np.sum(line_hat**2 * left.noise))
    bias = (line_bias + abs(joint.bias)) / 2
    want = math.sqrt(np.sum(mean_hat**2 * noise) + bias**2)
    assert level.stderr == pytest.approx(want, rel=1e-9)
    # Below the mean of the two stderrs, the bound for any correlation.
    joint_stderr = math.hypot(math.sqrt(np.sum(joint_hat**2 * noise)), joint.bias)
    assert level.stderr < (one_sided.stderr + joint_stderr) / 2


def test_the_step_stderr_counts_every_batch_weight_and_both_biases():
    before, after, one_sided, left, right, joint = both_fits(seed=4)
    end, level_after, step_stderr = boundary.across(before, after)
    assert level_after == levels.level_at_start(after)
    span = int(np.flatnonzero(joint.weights[0])[-1]) + 1
    joint_hat, _ = direct_joint(before, after, span)
    end_hat = joint_hat / 2
    end_hat[: len(before)] += direct_line_weights(before[::-1], one_sided.window) / 2
    after_hat = direct_line_weights(after, level_after.window)
    step_hat = -end_hat
    step_hat[len(before) :] += after_hat
    noise = np.concatenate([left.noise, right.noise])
    end_variance = np.sum(end_hat**2 * noise)
    end_bias = math.sqrt(end.stderr**2 - end_variance)
    after_bias = math.sqrt(level_after.stderr**2 - np.sum(after_hat**2 * right.noise))
    want = math.sqrt(np.sum(step_hat**2 * noise) + (end_bias + after_bias) ** 2)
    assert step_stderr == pytest.approx(want, rel=1e-9)


def test_a_straight_line_across_the_boundary_is_found():
    # On a line the joint fit is unbiased: over many draws, the estimate's
    # mean error is within its own standard error of zero, and the stated
    # intervals cover about 95% of the time.
    errors, covered = [], []
    for seed in range(300):
        before, after = noisy_epochs(seed=seed, batches=(60, 60))
        level = boundary.across(before, after).end
        error = level.value - (0.7 + 0.001 * 59)
        errors.append(error)
        covered.append(abs(error) <= 1.96 * level.stderr)
    errors = np.array(errors)
    assert abs(errors.mean()) < 3 * errors.std() / math.sqrt(len(errors))
    assert 0.92 <= np.mean(covered) <= 0.995


@pytest.mark.parametrize(
    "after",
    [
        [0.8, 0.81, 0.79],  # Too few batches after the boundary.
        [math.nan] * 20,  # No finite batch after it.
        [0.8] * 20,  # No noise after it.
    ],
)
def test_one_sided_when_the_next_epoch_cannot_be_fitted(after):
    before, _ = noisy_epochs(seed=2)
    assert boundary.across(before, after).end == levels.level_at_end(before)


def test_exact_values_keep_the_exact_one_sided_level():
    before = 0.5 + 0.01 * np.arange(30)
    after = 0.5 + 0.01 * np.arange(30, 60)
    level = boundary.across(before, after).end
    # NaN fields compare equal here, as they should.
    np.testing.assert_equal(
        dataclasses.astuple(level), dataclasses.astuple(levels.level_at_end(before))
    )
    assert level.value == pytest.approx(0.79) and level.stderr == 0


@pytest.mark.parametrize("before", [[], [0.5], [0.5, 0.6], [math.nan] * 5])
def test_tiny_epochs_do_not_raise(before):
    _, after = noisy_epochs(seed=3)
    level = boundary.across(before, after).end
    # NaN fields compare equal here, as they should.
    np.testing.assert_equal(
        dataclasses.astuple(level), dataclasses.astuple(levels.level_at_end(before))
    )
