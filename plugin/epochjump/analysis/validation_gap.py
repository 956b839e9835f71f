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
only their sum, `train_eval - level_at_end`, is known. Pure numpy, no I/O.
"""

import dataclasses
import math
import re

from epochjump import constants
from epochjump.analysis import jumps

MAX_SHOWN_SHARE = constants.MAX_SHOWN_SHARE

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


@dataclasses.dataclass(frozen=True)
class ValidationGap:
    """The gap between `val` and what Keras printed for one epoch, split.

    Attributes:
      metric: str, the metric name.
      epoch: int, 0-based ordinal of the epoch (Keras prints `epoch + 1`).
      last_step: int, global step of the epoch's last batch.
      reported, level_at_end, train_eval, val: float, as in `jumps.Jump`;
        `train_eval` is NaN when not recorded.
      val_gap: float, `val - reported`.
      lag: float, `level_at_end - reported`.
      mode_gap: float, `train_eval - train_eval_training_mode`.
      generalisation_gap: float, `val - train_eval`.
      higher_is_better: bool, the metric's direction (see `higher_is_better`).
      train_eval_training_mode: float, the training subset in training mode;
        NaN when not recorded.
      subset_gap: float, `train_eval_training_mode - level_at_end`.
    """

    metric: str
    epoch: int
    last_step: int
    reported: float
    level_at_end: float
    train_eval: float
    val: float
    val_gap: float
    lag: float
    mode_gap: float
    generalisation_gap: float
    higher_is_better: bool
    train_eval_training_mode: float = math.nan
    subset_gap: float = math.nan

    @property
    def val_better(self):
        """True when validation is better than what Keras printed."""
        if not math.isfinite(self.val_gap):
            return False
        return self.val_gap > 0 if self.higher_is_better else self.val_gap < 0

    @property
    def lag_share(self):
        """`lag / val_gap`, or NaN when the gap is zero or not finite."""
        return _share(self.lag, self.val_gap)

    @property
    def subset_share(self):
        """`subset_gap / val_gap`, or NaN."""
        return _share(self.subset_gap, self.val_gap)

    @property
    def mode_share(self):
        """`mode_gap / val_gap`, or NaN."""
        return _share(self.mode_gap, self.val_gap)

    @property
    def generalisation_share(self):
        """`generalisation_gap / val_gap`, or NaN."""
        return _share(self.generalisation_gap, self.val_gap)

    @property
    def sentence(self):
        """The gap explained in plain sentences."""
        return describe(self)

    def as_dict(self):
        """A JSON-ready dict of the fields, the shares, `val_better` and
        `sentence`."""
        record = dataclasses.asdict(self)
        record["val_better"] = self.val_better
        record["lag_share"] = self.lag_share
        record["subset_share"] = self.subset_share
        record["mode_share"] = self.mode_share
        record["generalisation_share"] = self.generalisation_share
        record["sentence"] = self.sentence
        return record


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
    higher = higher_is_better(metric)
    gaps = []
    for end in jumps.epoch_ends(run, metric, level_fraction):
        if math.isnan(end.val):
            continue
        gaps.append(
            ValidationGap(
                metric=metric,
                epoch=end.epoch,
                last_step=end.last_step,
                reported=end.reported,
                level_at_end=end.level_at_end,
                train_eval=end.train_eval,
                val=end.val,
                val_gap=end.val - end.reported,
                lag=end.level_at_end - end.reported,
                mode_gap=end.train_eval - end.train_eval_training_mode,
                generalisation_gap=end.val - end.train_eval,
                higher_is_better=higher,
                train_eval_training_mode=end.train_eval_training_mode,
                subset_gap=end.train_eval_training_mode - end.level_at_end,
            )
        )
    return gaps


def describe(gap):
    """Explains one `ValidationGap` in plain language.

    Args:
      gap: a `ValidationGap`.

    Returns:
      str, e.g. "After epoch 3, validation (0.95) is better than the 0.8918
      Keras printed for the epoch (+0.0582). Averaging lag: +0.0392 (67%) ..."
    """
    n = gap.epoch + 1
    comparison = "better than" if gap.val_better else "not better than"
    text = (
        f"After epoch {n}, validation ({_num(gap.val)}) is {comparison} the "
        f"{_num(gap.reported)} Keras printed for the epoch "
        f"({_signed(gap.val_gap)})."
    )
    if not math.isfinite(gap.val_gap) or gap.val_gap == 0:
        return text
    text += (
        f" Averaging lag: {_part(gap.lag, gap.lag_share)}, as the model was "
        f"already at {_num(gap.level_at_end)} by the epoch's end."
    )
    if math.isnan(gap.train_eval):
        rest = gap.val_gap - gap.lag
        return text + (
            f" The rest ({_signed(rest)}) is training-mode regularisation and "
            "the generalisation gap together: pass train_eval_data= to "
            "EpochJumpCallback to split it."
        )
    if math.isnan(gap.mode_gap):
        together = gap.train_eval - gap.level_at_end
        text += (
            f" Training-mode regularisation and the training subset's "
            f"difference from the last batches together: "
            f"{_part(together, _share(together, gap.val_gap))}, as the "
            f"subset scores {_num(gap.train_eval)} in inference mode."
        )
    else:
        text += (
            f" The training subset in training mode against the last batches: "
            f"{_part(gap.subset_gap, gap.subset_share)}. Dropout and batch "
            f"norm (the subset in inference against training mode): "
            f"{_part(gap.mode_gap, gap.mode_share)}, as the subset scores "
            f"{_num(gap.train_eval)} in inference mode."
        )
    return text + (
        f" Validation against training data, both in inference mode: "
        f"{_part(gap.generalisation_gap, gap.generalisation_share)}."
    )


def _share(part, whole):
    if whole == 0 or not math.isfinite(whole):
        return math.nan
    return part / whole


def _part(value, share):
    if math.isfinite(share) and abs(share) <= MAX_SHOWN_SHARE:
        return f"{_signed(value)} ({share:.0%})"
    return _signed(value)


def _num(value):
    return f"{value:.4g}"


def _signed(value):
    return f"{value:+.4g}"
