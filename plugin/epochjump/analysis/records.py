"""The analysis records the routes send: `EpochEnd`, `Jump` and `ValidationGap`.

Their fields are the one definition of those records: the answers carrying
them are declared in `epochjump.responses`, and the TypeScript tab's types
and decoders are generated from both at build time
(`frontend/dev/contract_ts.py` writes `frontend/src/generated/contract.ts`),
so this module imports nothing but the standard library (the generator loads
it without the package's numpy). Field types are `str`, `int`, `float` or
`bool`; NaN marks a float not recorded.
"""

import dataclasses
import math


class _Record:
    """What the records share: `as_dict()`."""

    def as_dict(self):
        """A JSON-ready dict of the fields and the properties (numbers only:
        the words about a record are `epochjump.words`')."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in computed(type(self)):
            record[name] = getattr(self, name)
        return record


def carried_over(record_class, source, **computed):
    """A `record_class` whose fields are `computed`, and `source`'s attribute
    of the same name for every other field.

    Args:
      record_class: a dataclass.
      source: any object holding the fields not in `computed`.
      **computed: the fields `source` does not hold as they are.
    """
    names = [f.name for f in dataclasses.fields(record_class) if f.name not in computed]
    return record_class(**{name: getattr(source, name) for name in names}, **computed)


@dataclasses.dataclass(frozen=True)
class EpochEnd(_Record):
    """Where one epoch ended, with the same estimator as `Jump`.

    Attributes:
      metric: str, the metric name.
      epoch: int, 0-based ordinal of the epoch (Keras prints it as
        `epoch + 1`).
      last_step: int, global step of the epoch's last batch.
      level_batches: int, how many batches the fit for `level_at_end` used
        (its data-driven window).
      reported: float, the running mean at the epoch's last batch (what Keras
        printed for the epoch).
      level_at_end: float, the estimated level at the epoch's last batch.
      train_eval, val: float, the evaluations after the epoch; NaN where not
        recorded.
      lag_stderr: float, the standard error of `level_at_end` (and so of
        `level_at_end - reported`).
      level_after, level_after_stderr: float, the level at the first batch of
        the next epoch and its standard error; NaN for an epoch not followed
        by the next one (as the three below).
      boundary_step, boundary_step_stderr: float, `level_after -
        level_at_end` and its standard error.
      first_batch_noise: float, the next epoch's first value - `level_after`.
      noise_sd: float, the batch noise near the epoch's end, pooled with that
        at the next epoch's start when there is one.
      train_eval_training_mode: float, the training subset evaluated after
        the epoch in training mode; NaN where not recorded (runs of format
        version 1).
    """

    metric: str
    epoch: int
    last_step: int
    level_batches: int
    reported: float
    level_at_end: float
    train_eval: float
    val: float
    lag_stderr: float
    level_after: float
    level_after_stderr: float
    boundary_step: float
    boundary_step_stderr: float
    first_batch_noise: float
    noise_sd: float
    train_eval_training_mode: float


@dataclasses.dataclass(frozen=True)
class Jump(EpochEnd):
    """The boundary after epoch `epoch`: its `EpochEnd`, the next epoch's
    first batch, and the jump between them decomposed (see
    `epochjump.analysis.jumps`).

    Attributes:
      (those of `EpochEnd`, for the epoch that ends), and:
      first_next_step: int, global step of the next epoch's first batch.
      first_next: float, the first value Keras prints in the next epoch.
      jump, lag, progress: float, `first_next - reported`, `level_at_end -
        reported` and `first_next - level_at_end`.
      mode_gap: float, `train_eval - train_eval_training_mode`.
      learning_rate_before, learning_rate_after: float, the learning rate at
        `last_step` and at `first_next_step`; NaN where not recorded.
      learning_rate_scheduled: bool, whether the learning rate also changes
        after the first batch of the epoch or of the next one.
    """

    first_next_step: int
    first_next: float
    jump: float
    lag: float
    progress: float
    mode_gap: float
    learning_rate_before: float
    learning_rate_after: float
    learning_rate_scheduled: bool

    @property
    def lag_share(self) -> float:
        """`lag / jump`, or NaN when the jump is zero or not finite."""
        return _share(self.lag, self.jump)


def _share_of(term):
    """A property: the share of `val_gap` that the field `term` is."""

    def share(gap) -> float:
        return _share(getattr(gap, term), gap.val_gap)

    return property(
        share, doc=f"`{term} / val_gap`, or NaN when the gap is zero or not finite."
    )


@dataclasses.dataclass(frozen=True)
class ValidationGap(_Record):
    """The gap between `val` and what Keras printed for one epoch, split (see
    `epochjump.analysis.validation_gap`).

    Attributes:
      metric: str, the metric name.
      epoch: int, 0-based ordinal of the epoch (Keras prints `epoch + 1`).
      last_step: int, global step of the epoch's last batch.
      reported, level_at_end, train_eval, val: float, as in `Jump`;
        `train_eval` is NaN when not recorded.
      val_gap: float, `val - reported`.
      lag: float, `level_at_end - reported`.
      mode_gap: float, `train_eval - train_eval_training_mode`.
      generalisation_gap: float, `val - train_eval`.
      higher_is_better: bool, the metric's direction
        (`validation_gap.higher_is_better`).
      lag_stderr: float, the standard error of `lag` (and of `level_at_end`).
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
    lag_stderr: float
    train_eval_training_mode: float = math.nan
    subset_gap: float = math.nan

    @property
    def val_better(self) -> bool:
        """True when validation is better than what Keras printed."""
        if not math.isfinite(self.val_gap):
            return False
        return self.val_gap > 0 if self.higher_is_better else self.val_gap < 0

    lag_share = _share_of("lag")
    subset_share = _share_of("subset_gap")
    mode_share = _share_of("mode_gap")
    generalisation_share = _share_of("generalisation_gap")


def _share(part, whole):
    """`part / whole`, or NaN when `whole` is zero or not finite."""
    if whole == 0 or not math.isfinite(whole):
        return math.nan
    return part / whole


def computed(record_class):
    """The names of `record_class`'s properties, which `as_dict` adds to its
    fields (each annotated with its return type, for the TypeScript types)."""
    return [
        name
        for klass in reversed(record_class.__mro__)
        for name, value in vars(klass).items()
        if isinstance(value, property)
    ]
