"""epochjump.analysis.levels against a known truth, and its use in explain().

The simulations are those of benchmarks/estimator_accuracy.py (written
independently of epochjump): batch accuracies drawn as binomial(batch size,
p) / batch size and batch losses as the mean of exponential per-sample losses
around a known level curve, so the true level at every batch is known. The
true lag at a boundary is the level at the epoch's last batch minus the
realised running mean (what Keras would print). "old" is the earlier one-sided
estimator (unbiased squared-bias window rule), as the benchmark keeps it.
"""

import importlib.util
import math
import pathlib

import numpy as np
import pytest
from support.hand_runs import keras_batches

import epochjump
from epochjump.analysis import boundary
from epochjump.analysis import jumps
from epochjump.analysis import levels
from epochjump.read import run_data as reader

BENCHMARK = (
    pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "estimator_accuracy.py"
)
spec = importlib.util.spec_from_file_location("estimator_accuracy", BENCHMARK)
estimator_accuracy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(estimator_accuracy)

simulate = estimator_accuracy.collect
summary = estimator_accuracy.summary
CURVED = ("saturating", "step down", "lr drop")
FEW_BATCH_SIZES = (16, 64, 256)


def bias_percent(table, name, rows=None):
    """The lag's mean error as % of the mean true lag (see the benchmark)."""
    error = table[f"{name}_lag"] - table["true_lag"]
    scale = estimator_accuracy.lag_scales(table)
    rows = np.isfinite(scale) if rows is None else rows & np.isfinite(scale)
    return 100 * np.mean(error[rows] / scale[rows])


@pytest.fixture(scope="module")
def curved():
    return simulate(seeds=16, truths=CURVED, batch_sizes=FEW_BATCH_SIZES)


@pytest.fixture(scope="module")
def straight():
    return simulate(
        seeds=6,
        truths=("nearly linear", "plateau"),
        batch_sizes=FEW_BATCH_SIZES,
        estimators={"new": estimator_accuracy.new_estimator},
    )


@pytest.mark.slow
def test_lag_bias_is_within_3_percent_and_below_the_old(curved):
    for truth in CURVED:
        rows = curved["truth"] == truth
        new, old = bias_percent(curved, "new", rows), bias_percent(curved, "old", rows)
        # Measured with these seeds: saturating -1.8% (old +3.5%), step
        # down -0.4% (old +4.1%), lr drop +1.5% (old +7.2%).
        assert abs(new) <= 3.0, (truth, new, old)
    new, old = bias_percent(curved, "new"), bias_percent(curved, "old")
    assert abs(new) <= abs(old) - 2.0, (new, old)


@pytest.mark.slow
def test_rmse_is_no_worse_than_the_old_on_curved_truths(curved):
    for truth in CURVED:
        rows = curved["truth"] == truth
        new, old = summary(curved, "new", rows), summary(curved, "old", rows)
        assert new["rmse"] <= 1.02 * old["rmse"], (truth, new["rmse"], old["rmse"])


@pytest.mark.slow
def test_stated_intervals_cover(curved, straight):
    for table in (curved, straight):
        for truth in set(table["truth"]):
            result = summary(table, "new", table["truth"] == truth)
            assert 92 <= result["cover"] <= 98, (truth, result["cover"])
            assert 92 <= result["cover_step"] <= 98, (truth, result["cover_step"])


def test_straight_truths_are_unbiased(straight):
    for truth in ("nearly linear", "plateau"):
        result = summary(straight, "new", straight["truth"] == truth)
        assert abs(result["bias_se"]) < 0.15, (truth, result["bias_se"])


def test_no_step_is_consistent_with_zero(straight):
    flat = straight["truth"] == "plateau"
    assert np.all(straight["true_step"][flat] == 0)
    z = straight["new_step"][flat] / straight["new_step_stderr"][flat]
    assert 0.92 <= np.mean(np.abs(z) <= 1.96) <= 0.98
    assert abs(np.mean(z)) < 3 / math.sqrt(len(z))


@pytest.mark.slow
def test_step_down_is_found_by_boundary_step(curved):
    # The truth loses 0.06 of accuracy at every epoch start (less the rise
    # over one batch); as a loss, 2.3 times that, upwards.
    for metric, want in (("accuracy", -0.06), ("loss", 2.3 * 0.06)):
        rows = (curved["truth"] == "step down") & (curved["metric"] == metric)
        true = np.mean(curved["true_step"][rows])
        assert true == pytest.approx(want, rel=0.1)
        assert np.mean(curved["new_step"][rows]) == pytest.approx(true, rel=0.15)


def test_noise_sd_of_binomial_batches():
    rng = np.random.default_rng(0)
    for batch_size in (16, 32, 64):
        values = rng.binomial(batch_size, 0.7, size=2000) / batch_size
        want = math.sqrt(0.7 * 0.3 / batch_size)
        assert levels.noise_sd(values) == pytest.approx(want, rel=0.05)
        assert levels.level_at_end(values).noise_sd == pytest.approx(want, rel=0.15)


@pytest.mark.parametrize("slope", [0.01, -0.03, 0.0])
def test_a_noiseless_line_is_reproduced(slope):
    values = 0.2 + slope * np.arange(50)
    end, start = levels.level_at_end(values), levels.level_at_start(values)
    assert end.value == pytest.approx(values[-1], abs=1e-12)
    assert start.value == pytest.approx(values[0], abs=1e-12)
    assert end.stderr == 0 and end.window == 50 and end.noise_sd == 0
    assert start.stderr == 0
    holed = values.copy()
    holed[[0, 7, 49]] = math.nan
    # Still the level at the (missing) edge batches' positions.
    assert levels.level_at_end(holed).value == pytest.approx(values[-1], abs=1e-12)
    assert levels.level_at_start(holed).value == pytest.approx(values[0], abs=1e-12)


def test_constant_values_are_their_level():
    level = levels.level_at_end([0.625] * 7)
    assert level.value == pytest.approx(0.625, abs=1e-12)
    assert level.stderr == 0


def test_stderr_is_finite_and_positive_on_noisy_batches():
    rng = np.random.default_rng(4)
    for batches in (3, 4, 5, 16, 100, 1000):
        values = 0.5 + 0.1 * np.linspace(0, 1, batches) + rng.normal(0, 0.05, batches)
        for level in (levels.level_at_end(values), levels.level_at_start(values)):
            assert math.isfinite(level.value), batches
            assert math.isfinite(level.stderr) and level.stderr > 0, batches


def test_candidate_fits_match_a_direct_weighted_least_squares():
    rng = np.random.default_rng(5)
    x = np.sort(rng.choice(200, 80, replace=False)).astype(float)
    x = (x - x[0]) / (x[-1] - x[0])
    y = 0.3 + 0.4 * x - 0.2 * x**2 + rng.normal(0, 0.02, len(x))
    noise = rng.uniform(0.5, 2.0, len(x)) * 1e-4
    fits = levels._candidates(x, y, noise)
    for i in (3, 20, len(fits.window) - 1):
        h = fits.window[i]
        span = x[h - 1] * h / (h - 1)
        kernel = 1 - x[:h] / span
        design = np.stack([np.ones(h), x[:h]], axis=1)
        gram = design.T @ (kernel[:, None] * design)
        weights = kernel * (design @ np.linalg.solve(gram, [1.0, 0.0]))
        assert fits.value[i] == pytest.approx(weights @ y[:h], abs=1e-10)
        assert fits.leverage[i] == pytest.approx(weights @ weights, rel=1e-8)
        assert fits.noise_variance[i] == pytest.approx(
            np.sum(weights**2 * noise[:h]), rel=1e-8
        )


def test_the_stderr_follows_the_local_noise():
    # Noise 4 times larger in the first half of the epoch: the level at the
    # quiet end must not borrow the loud start's noise.
    rng = np.random.default_rng(6)
    sd = np.where(np.arange(400) < 200, 0.08, 0.02)
    ends, starts = [], []
    for _ in range(120):
        values = 0.5 + rng.normal(0, sd)
        ends.append(levels.level_at_end(values))
        starts.append(levels.level_at_start(values))
    for found in (ends, starts):
        errors = np.array([level.value - 0.5 for level in found])
        stderrs = np.array([level.stderr for level in found])
        assert 0.92 <= np.mean(np.abs(errors) <= 1.96 * stderrs) <= 0.98
    assert np.median([e.stderr for e in ends]) < 0.5 * np.median(
        [s.stderr for s in starts]
    )


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0.5],
        [0.5, 0.75],
        [0.5, 0.75, 0.625],
        [math.nan],
        [math.nan, math.inf, -math.inf],
        [0.5, math.nan, 0.75, math.inf, 0.625, 0.5],
        [math.nan] * 3 + [0.5] + [math.nan] * 3,
    ],
)
def test_tiny_and_non_finite_epochs_do_not_raise(values):
    for level in (levels.level_at_end(values), levels.level_at_start(values)):
        finite = [v for v in values if math.isfinite(v)]
        assert level.window == len(finite) or level.window <= len(finite)
        for field in (level.value, level.stderr, level.noise_sd):
            assert isinstance(field, float)
            assert math.isfinite(field) or math.isnan(field)
        assert math.isnan(level.value) == (not finite)
        if finite:
            assert min(finite) - 1 <= level.value <= max(finite) + 1


def test_one_to_three_batches():
    assert levels.level_at_end([0.5]).value == 0.5
    assert math.isnan(levels.level_at_end([0.5]).stderr)
    two = levels.level_at_end([0.5, 0.75])
    assert two.value == 0.625
    assert two.noise_sd == pytest.approx(0.25 / math.sqrt(2))
    assert two.stderr == pytest.approx(0.25 / 2)
    # Three points: too few to judge curvature; a line through all of them.
    three = levels.level_at_end([0.5, 0.75, 0.75])
    assert three.window == 3 and three.degree == 1
    # Triangular weights 1/3, 2/3, 1 (the edge batch most); polyfit weighs
    # residuals, so their square roots.
    line = np.polyfit([0, 1, 2], [0.5, 0.75, 0.75], 1, w=np.sqrt([1 / 3, 2 / 3, 1]))
    assert three.value == pytest.approx(np.polyval(line, 2), abs=1e-12)


def test_non_finite_values_are_skipped_in_place():
    rng = np.random.default_rng(1)
    values = 0.5 + 0.001 * np.arange(100) + rng.normal(0, 0.01, 100)
    holed = values.copy()
    holed[[3, 40, 98]] = [math.nan, math.inf, -math.inf]
    level = levels.level_at_end(holed)
    assert math.isfinite(level.value) and math.isfinite(level.stderr)
    # Still the level at the (non-finite) last batch's position.
    assert abs(level.value - (0.5 + 0.099)) <= 3 * level.stderr + 0.01


def metric_data(name, epochs_values):
    """A `MetricData` with Keras-style running means, steps from 1."""
    steps, epochs, values, means = keras_batches(epochs_values)
    empty = reader.EvalSeries(*(np.zeros(0) for _ in range(4)))
    return reader.MetricData(
        name=name,
        step=steps,
        epoch=epochs,
        wall_time=np.arange(len(steps), dtype=float),
        batch_value=values,
        running_mean=means,
        train_eval=empty,
        val=empty,
    )


def run_data(epochs_values):
    series = metric_data("accuracy", epochs_values)
    starts = np.flatnonzero(np.diff(series.epoch, prepend=-1)) + 1
    return reader.RunData(
        name="hand",
        metrics=("accuracy",),
        epoch_starts=series.step[starts - 1],
        problems=(),
        _series={"accuracy": series},
    )


NEW_FIELDS = (
    "lag_stderr",
    "level_after",
    "level_after_stderr",
    "boundary_step",
    "boundary_step_stderr",
    "first_batch_noise",
    "noise_sd",
)


def test_explain_keeps_both_identities():
    rng = np.random.default_rng(2)
    t = np.arange(300).reshape(3, 100) / 100
    p = estimator_accuracy.step_down(t, 0)
    epochs_values = list(rng.binomial(32, p) / 32)
    epochs_values.append(np.array([0.9]))  # A one-batch epoch.
    jumps = epochjump.explain(run_data(epochs_values), "accuracy")
    assert [j.epoch for j in jumps] == [0, 1, 2]
    for j in jumps:
        record = j.as_dict()
        assert set(NEW_FIELDS) <= set(record)
        assert j.jump == pytest.approx(j.lag + j.progress, abs=1e-12)
        assert j.progress == pytest.approx(
            j.boundary_step + j.first_batch_noise, abs=1e-12
        )
        assert j.boundary_step == pytest.approx(j.level_after - j.level_at_end)
    for j in jumps[:2]:
        assert all(math.isfinite(getattr(j, f)) for f in NEW_FIELDS)
        end = boundary.across(epochs_values[j.epoch], epochs_values[j.epoch + 1]).end
        after = levels.level_at_start(epochs_values[j.epoch + 1])
        assert (j.level_at_end, j.lag_stderr) == (end.value, end.stderr)
        assert (j.level_after, j.level_after_stderr) == (after.value, after.stderr)
        assert j.level_batches == end.window
    # The one-batch epoch's level is its value; its noise is unknown.
    last = jumps[2]
    assert last.level_after == 0.9 and last.first_batch_noise == 0
    assert math.isnan(last.level_after_stderr)
    assert math.isnan(last.boundary_step_stderr)


def test_epoch_ends_without_a_next_epoch_are_nan():
    rng = np.random.default_rng(3)
    epochs_values = [rng.binomial(16, 0.6, 40) / 16, rng.binomial(16, 0.7, 40) / 16]
    ends = jumps.epoch_ends(run_data(epochs_values), "accuracy")
    assert math.isfinite(ends[0].boundary_step)
    assert math.isfinite(ends[1].lag_stderr)
    for field in ("level_after", "boundary_step", "first_batch_noise"):
        assert math.isnan(getattr(ends[1], field))
    assert math.isfinite(ends[1].noise_sd)  # The end's own noise.


def test_explain_with_non_finite_batches_does_not_raise():
    epochs_values = [
        [0.5, math.nan, 0.625, 0.75],
        [math.inf, 0.75, 0.8125],
        [math.nan, math.nan],
    ]
    jumps = epochjump.explain(run_data(epochs_values), "accuracy")
    assert len(jumps) == 2
    # Estimates are finite or NaN; what Keras recorded (an infinite first
    # batch of epoch 2) passes through to `first_next`, `reported` and what
    # uses them.
    estimated = set(NEW_FIELDS + ("level_at_end",)) - {"first_batch_noise"}
    for j in jumps:
        for field in sorted(estimated):
            value = getattr(j, field)
            assert math.isfinite(value) or math.isnan(value), (j.epoch, field)
    first, second = jumps
    assert math.isinf(first.first_next) and math.isinf(first.first_batch_noise)
    assert math.isfinite(first.level_after) and math.isfinite(first.boundary_step)
    assert math.isnan(second.level_after) and math.isnan(second.boundary_step)
