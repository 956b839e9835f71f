"""epochjump.downsample against a brute-force reference, point by point."""

import math

import numpy as np
import pytest

from epochjump.analysis import downsample


def reference_select(steps, epoch, values, num_buckets):
    """The documented rule, one batch at a time in plain Python."""
    steps = [int(s) for s in steps]
    values = [float(v) for v in values]
    span = steps[-1] - steps[0] + 1
    buckets = {}
    for i, step in enumerate(steps):
        buckets.setdefault((step - steps[0]) * num_buckets // span, []).append(i)
    keep = set()
    for members in buckets.values():
        numbers = [i for i in members if not math.isnan(values[i])]
        if numbers:
            low = min(values[i] for i in numbers)
            high = max(values[i] for i in numbers)
            keep.add(next(i for i in numbers if values[i] == low))
            keep.add(next(i for i in numbers if values[i] == high))
        nans = [i for i in members if math.isnan(values[i])]
        if nans:
            keep.add(nans[0])
    for i in range(len(steps)):
        if i == 0 or epoch[i] != epoch[i - 1]:
            keep.add(i)
        if i == len(steps) - 1 or epoch[i] != epoch[i + 1]:
            keep.add(i)
    return sorted(keep)


def random_run(rng, n, num_epochs, gaps=False, specials=0.0, ties=False):
    """Ascending steps, epochs splitting them, values with NaN/Inf/ties."""
    step_gaps = rng.integers(1, 7, n) if gaps else np.ones(n, np.int64)
    steps = 1 + np.cumsum(step_gaps) - step_gaps[0]
    cuts = np.sort(rng.choice(np.arange(1, n), num_epochs - 1, replace=False))
    epoch = np.searchsorted(cuts, np.arange(n), side="right")
    values = rng.normal(size=n)
    if ties:
        values = np.round(values)
    special = rng.random(n) < specials
    values[special] = rng.choice([np.nan, np.inf, -np.inf], special.sum())
    return steps.astype(np.int64), epoch.astype(np.int64), values


def epoch_changes(epoch):
    return np.flatnonzero(epoch[1:] != epoch[:-1])


@pytest.mark.parametrize("seed", range(40))
def test_select_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    steps, epoch, values = random_run(
        rng,
        n,
        num_epochs=int(rng.integers(1, min(n, 6) + 1)),
        gaps=seed % 2 == 0,
        specials=[0.0, 0.05, 0.5, 1.0][seed % 4],
        ties=seed % 3 == 0,
    )
    num_buckets = int(rng.integers(1, n + 5))

    kept = downsample.select(steps, epoch_changes(epoch), values, num_buckets)

    assert kept.tolist() == reference_select(steps, epoch, values, num_buckets)


def test_everything_kept_when_it_fits():
    steps = np.arange(5, 15)
    kept = downsample.downsample_indices(steps, np.zeros(10), np.ones(10), 10)
    assert kept.tolist() == list(range(10))


@pytest.mark.parametrize("max_points", [2, 7, 50, 333, 2000])
@pytest.mark.parametrize("specials", [0.0, 0.01, 1.0])
def test_downsample_indices_keeps_budget_and_epoch_ends(max_points, specials):
    rng = np.random.default_rng(max_points)
    steps, epoch, values = random_run(rng, 20000, 3, gaps=True, specials=specials)

    kept = downsample.downsample_indices(steps, epoch, values, max_points)

    firsts_lasts = {0, len(steps) - 1}
    for i in epoch_changes(epoch):
        firsts_lasts |= {int(i), int(i) + 1}
    assert firsts_lasts <= set(kept.tolist())
    assert len(kept) <= max(max_points, len(firsts_lasts))
    assert np.all(np.diff(kept) > 0)


@pytest.mark.slow
def test_downsample_indices_uses_the_reference_rule():
    rng = np.random.default_rng(7)
    steps, epoch, values = random_run(rng, 5000, 4, gaps=True, specials=0.001)
    kept = downsample.downsample_indices(steps, epoch, values, 500)
    # Some bucket count reproduces the answer exactly: it is `select`.
    matches = [
        nb
        for nb in range(1, 500)
        if reference_select(steps, epoch, values, nb) == kept.tolist()
    ]
    assert matches
    assert 400 <= len(kept) <= 500


def test_spike_and_nan_survive_downsampling():
    n = 100000
    steps = np.arange(1, n + 1)
    epoch = (steps - 1) // 25000
    values = np.sin(steps / 1000.0)
    values[31337] = 50.0
    values[77777] = np.nan
    values[88888] = -np.inf

    kept = downsample.downsample_indices(steps, epoch, values, 200).tolist()

    assert {31337, 77777, 88888} <= set(kept)
    assert {0, 24999, 25000, 49999, 50000, 74999, 75000, 99999} <= set(kept)
    assert len(kept) <= 200


def test_huge_steps_do_not_overflow():
    steps = np.array([0, 1, 2**62, 2**63 - 2], np.int64)
    kept = downsample.select(steps, np.array([], np.int64), np.arange(4.0), 3)
    assert kept.tolist() == reference_select(steps, [0, 0, 0, 0], np.arange(4.0), 3)
