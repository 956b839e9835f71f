"""Measures the level estimators of `epochjump.analysis.levels` against a known truth.

Simulates batch accuracies (binomial, batch sizes 16, 32 and 64 over the same
3200 samples per epoch) around saturating level curves p(t), and prints, per
batch size and pooled, the bias and RMSE of the estimated lag (as % of the
mean true lag) for the old estimator (mean of the last 10% of the epoch's
batches) and the new one, the coverage of the stated 95% intervals for `lag`
and `boundary_step`, and how well a sawtooth drop of 0.06 at every epoch start
is recovered, and whether a constant level gives a boundary step
consistent with 0.

Usage: PYTHONPATH=plugin python benchmarks/estimator_accuracy.py [--seeds 400]
"""

import argparse
import math

import numpy as np

from epochjump.analysis import levels

SAMPLES = 3200
BATCH_SIZES = (16, 32, 64)
EPOCHS = 5
# Time constants of the saturating curves, in epochs.
TAUS = (0.5, 1.0, 2.0)
DROP = 0.06


def level_curve(batches, tau, drop=0.0, plateau=None):
    """p per batch, shape (EPOCHS, batches): a saturating rise, optionally
    recovering `drop` over each epoch and losing it at the next start; or the
    constant `plateau`."""
    t = np.arange(EPOCHS * batches).reshape(EPOCHS, batches) / batches
    if plateau is not None:
        return np.full_like(t, plateau)
    p = 0.95 - 0.85 * np.exp(-t / tau)
    if drop:
        p = p - drop + drop * np.linspace(0, 1, batches)
    return np.clip(p, 0.0, 1.0)


def old_level_at_end(values):
    """The previous estimator: mean of the last 10% of batches (at least 1)."""
    window = max(1, math.ceil(0.1 * len(values)))
    return float(np.mean(values[-window:]))


def boundaries(rng, batch_size, tau, **curve):
    """One simulated run: per boundary, the true lag and step, the old lag,
    and the new lag and boundary step with their standard errors."""
    batches = SAMPLES // batch_size
    p = level_curve(batches, tau, **curve)
    values = rng.binomial(batch_size, p) / batch_size
    rows = []
    for e in range(EPOCHS - 1):
        reported = float(np.mean(values[e]))
        end = levels.level_at_end(values[e])
        start = levels.level_at_start(values[e + 1])
        rows.append(
            {
                "true_lag": p[e, -1] - reported,
                "true_step": p[e + 1, 0] - p[e, -1],
                "old_lag": old_level_at_end(values[e]) - reported,
                "lag": end.value - reported,
                "lag_stderr": end.stderr,
                "step": start.value - end.value,
                "step_stderr": math.hypot(start.stderr, end.stderr),
            }
        )
    return rows


def collect(seeds, batch_sizes=BATCH_SIZES, taus=TAUS, **curve):
    """All boundaries of `seeds` runs per (batch size, tau), as arrays."""
    rows = []
    for batch_size in batch_sizes:
        for tau in taus:
            rng = np.random.default_rng([batch_size, int(tau * 100), seeds])
            for _ in range(seeds):
                for row in boundaries(rng, batch_size, tau, **curve):
                    rows.append(dict(row, batch_size=batch_size))
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def summary(table):
    """Bias and RMSE (% of the mean true lag) and coverage (%)."""
    true = table["true_lag"]
    scale = np.mean(true)
    new_err, old_err = table["lag"] - true, table["old_lag"] - true
    return {
        "boundaries": len(true),
        "mean_true_lag": scale,
        "bias_old": 100 * np.mean(old_err) / scale,
        "bias_new": 100 * np.mean(new_err) / scale,
        "rmse_old": 100 * np.sqrt(np.mean(old_err**2)) / scale,
        "rmse_new": 100 * np.sqrt(np.mean(new_err**2)) / scale,
        "cover_lag": 100 * np.mean(np.abs(new_err) <= 1.96 * table["lag_stderr"]),
        "cover_step": 100
        * np.mean(
            np.abs(table["step"] - table["true_step"]) <= 1.96 * table["step_stderr"]
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400)
    args = parser.parse_args(argv)
    print(
        f"{args.seeds} seeds x taus {TAUS} epochs x {EPOCHS} epochs "
        f"({EPOCHS - 1} boundaries), {SAMPLES} samples per epoch"
    )
    header = (
        f"{'batch':>6} {'n':>7} {'lag':>7} {'bias old':>9} {'bias new':>9} "
        f"{'rmse old':>9} {'rmse new':>9} {'cov lag':>8} {'cov step':>9}"
    )
    print(header)
    table = collect(args.seeds)
    for batch_size in (*BATCH_SIZES, "all"):
        mask = (
            np.ones(len(table["lag"]), bool)
            if batch_size == "all"
            else table["batch_size"] == batch_size
        )
        s = summary({k: v[mask] for k, v in table.items()})
        print(
            f"{batch_size!s:>6} {s['boundaries']:>7} {s['mean_true_lag']:>7.4f} "
            f"{s['bias_old']:>8.1f}% {s['bias_new']:>8.1f}% "
            f"{s['rmse_old']:>8.1f}% {s['rmse_new']:>8.1f}% "
            f"{s['cover_lag']:>7.1f}% {s['cover_step']:>8.1f}%"
        )
    saw = collect(args.seeds, drop=DROP)
    s = summary(saw)
    print(
        f"sawtooth (level drops {DROP} at every epoch start): mean boundary_step "
        f"{np.mean(saw['step']):+.4f} (true {np.mean(saw['true_step']):+.4f}), "
        f"coverage {s['cover_step']:.1f}%; lag bias {s['bias_new']:+.1f}%, "
        f"rmse {s['rmse_new']:.1f}% (old {s['rmse_old']:.1f}%), "
        f"coverage {s['cover_lag']:.1f}%"
    )
    flat = collect(args.seeds, taus=(1.0,), plateau=0.8)
    z = flat["step"] / flat["step_stderr"]
    print(
        f"plateau (constant level 0.8, no step): mean boundary_step "
        f"{np.mean(flat['step']):+.5f}, mean z {np.mean(z):+.3f}, "
        f"|z| <= 1.96 in {100 * np.mean(np.abs(z) <= 1.96):.1f}%"
    )


if __name__ == "__main__":
    main()
