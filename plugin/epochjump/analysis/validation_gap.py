"""Why validation beats training: splits the gap between `val` and what Keras printed.

After epoch `e` of a metric, Keras prints the epoch's running mean
(`reported`) next to `val`. Their difference splits exactly into four parts:

- `lag = level_at_end - reported`: the running mean trailing the model
  (averaging lag, as in `jumps.Jump`);
- `subset_gap = train_eval_training_mode - level_at_end`: the training subset
  in training mode with the epoch-end weights against the level estimated
  from the epoch's last batches (other samples, the last updates of the
  epoch, the estimator's error);
- `mode_gap = train_eval - train_eval_training_mode`: the same subset with the
  same weights in inference against training mode, which is exactly dropout
  and batch-norm statistics (as in `jumps.Jump`);
- `generalisation_gap = val - train_eval`: validation data against training
  data, both in inference mode, with the same weights;

so `val_gap = val - reported = lag + subset_gap + mode_gap +
generalisation_gap`. Without a training-mode evaluation (format version 1,
or a model with its own `test_step`) `subset_gap` and `mode_gap` are NaN and
only their sum, `train_eval - level_at_end`, is known. The record,
`ValidationGap`, is in `records.py` with the others the answers carry.
Pure numpy, no I/O.
"""

import math
import re

from epochjump.analysis import jumps
from epochjump.analysis import records
from epochjump.analysis.records import ValidationGap

# Keras's names (and their usual abbreviations) for metrics where lower is
# better; any other metric (accuracy, AUC, precision, IoU, ...) is taken as
# higher-is-better.
_LOWER_IS_BETTER = re.compile(
    r"loss|error|crossentropy|hinge|divergence|poisson|cosh|huber"
    r"|(^|_)(mse|mae|mape|msle|rmse|kld|kl)($|_)",
    re.IGNORECASE,
)


def higher_is_better(metric):
    """Whether a larger value of `metric` is better, judged by its name.

    Args:
      metric: str, e.g. "accuracy" (True) or "loss", "val_mae",
        "sparse_categorical_crossentropy" (False).

    Returns:
      bool.
    """
    return _LOWER_IS_BETTER.search(metric) is None


def validation_gaps(run, metric, level_fraction=jumps.LEVEL_FRACTION):
    """Splits the gap between `val` and the running mean after every epoch.

    Args:
      run: `epochjump.RunData`, from `epochjump.read_run`.
      metric: str, a name in `run.metrics` (without `val_`).
      level_fraction: float in (0, 1], default 0.1, as in `epochjump.explain`.

    Returns:
      A list of `ValidationGap`, one per epoch with recorded batches and a
      recorded `val`, in order; the last epoch included.

    Raises:
      KeyError: if the run has no such metric.
      ValueError: for a bad `level_fraction`.
    """
    return gaps_at(metric, jumps.epoch_ends(run, metric, level_fraction))


def gaps_at(metric, ends):
    """`validation_gaps` from epoch ends already computed.

    Args:
      metric: str, the metric name.
      ends: list of `jumps.EpochEnd` of that metric.

    Returns:
      A list of `ValidationGap`, one per end with a recorded `val`.
    """
    higher = higher_is_better(metric)
    gaps = []
    for end in ends:
        if math.isnan(end.val):
            continue
        gaps.append(
            records.carried_over(
                ValidationGap,
                end,
                metric=metric,
                val_gap=end.val - end.reported,
                lag=end.level_at_end - end.reported,
                mode_gap=end.train_eval - end.train_eval_training_mode,
                generalisation_gap=end.val - end.train_eval,
                higher_is_better=higher,
                subset_gap=end.train_eval_training_mode - end.level_at_end,
            )
        )
    return gaps
