"""The prose about one boundary (`explain --detail`) or one validation gap.

Pure text from the analysis records (`jumps.Jump`,
`validation_gap.ValidationGap`); no numbers are computed here beyond a
difference or a ratio of the records' own. Three rules hold for every text:

- values are written as Keras's progress bar writes them
  (`numbers.keras_value`: 4 decimals, e.g. "1.2278"; scientific up to 1e-3);
- an estimate carries its ± (one standard error) where the record has one;
- a share is written as a percentage only when it lies in 0–100%; otherwise
  the sentence says in words what happened (the lag larger than the jump, or
  pointing the other way).
"""

import math

from epochjump.words.numbers import keras_value
from epochjump.words.numbers import learning_rate
from epochjump.words.numbers import percent
from epochjump.words.numbers import share
from epochjump.words.numbers import signed
from epochjump.words.numbers import validation_part
from epochjump.words.numbers import with_error

# A first batch this many batch-noise SDs or fewer from the model's level
# just after the boundary is ordinary batch noise; a boundary step this many
# of its standard errors or fewer is not told apart from no step.
NOISE_SDS = 2.0
STEP_STDERRS = 2.0


def _finite(*values):
    return all(math.isfinite(v) for v in values)


def lr_change(jump):
    """`(before, after)` when the learning rate changed at the boundary and
    not inside the epochs around it (a schedule's step is not the boundary's)."""
    before, after = jump.learning_rate_before, jump.learning_rate_after
    if _finite(before, after) and before != after and not jump.learning_rate_scheduled:
        return before, after
    return None


def _off(difference):
    if difference == 0:
        return "exactly at"  # "... at the model's level"
    side = "above" if difference > 0 else "below"
    return f"{keras_value(abs(difference))} {side}"


def _lag_words(jump):
    text = with_error(jump.lag, jump.lag_stderr, sign=True)
    if _finite(jump.lag, jump.lag_stderr) and abs(jump.lag) <= 2 * jump.lag_stderr:
        text += ", not told apart from zero"
    return text


def _rounding(jump):
    # Noiseless batches give SDs and standard errors of exactly 0 while the
    # fitted levels carry the rounding of the fit's sums.
    return 1e-9 * max(abs(jump.level_after), abs(jump.level_at_end), 1e-300)


def noise_is_small(jump):
    return _finite(jump.first_batch_noise, jump.noise_sd) and (
        abs(jump.first_batch_noise) <= NOISE_SDS * jump.noise_sd + _rounding(jump)
    )


def step_is_real(jump):
    if not math.isfinite(jump.boundary_step):
        return False
    stderr = (
        jump.boundary_step_stderr if math.isfinite(jump.boundary_step_stderr) else 0
    )
    return abs(jump.boundary_step) > STEP_STDERRS * stderr + _rounding(jump)


def rest_clause(jump):
    """What the part of a jump beyond the lag (`progress`) is, in words.

    One batch's noise when the next epoch's first batch lies within
    `NOISE_SDS` batch-noise SDs of the model's level just after the boundary
    and the model's level did not step; otherwise the model's real step
    across the boundary is named, with the learning-rate change there.

    Args:
      jump: a `jumps.Jump`.

    Returns:
      str, one sentence.
    """
    n = jump.epoch + 1
    rest = signed(jump.progress)
    lr = lr_change(jump)
    lr_words = (
        f", with the learning rate changed from {learning_rate(lr[0])} to "
        f"{learning_rate(lr[1])} at this boundary"
        if lr
        else ""
    )
    if not _finite(jump.boundary_step, jump.first_batch_noise, jump.noise_sd):
        return (
            f"The rest, {rest}, is the model's progress plus batch-to-batch noise "
            f"at the start of epoch {n + 1}{lr_words}."
        )
    step = with_error(jump.boundary_step, jump.boundary_step_stderr, sign=True)
    noise = _off(jump.first_batch_noise)
    sd = keras_value(jump.noise_sd)
    level_after = with_error(jump.level_after, jump.level_after_stderr)
    if noise_is_small(jump) and not step_is_real(jump):
        text = (
            f"The rest, {rest}, is one batch's noise: the first batch of epoch "
            f"{n + 1} was {noise} the model's level just after the boundary "
            f"({level_after}), within {NOISE_SDS:g} batch-noise SDs ({sd}), and "
            f"the model itself barely moved across the boundary ({step})"
        )
        if lr:
            text += (
                f", though the learning rate changed from {learning_rate(lr[0])} "
                f"to {learning_rate(lr[1])} there"
            )
        return text + "."
    if noise_is_small(jump):
        return (
            f"The rest, {rest}, is the model's real step across the boundary, "
            f"{step}{lr_words}, plus one batch's noise (the first batch was "
            f"{noise} the level after it; batch-noise SD {sd})."
        )
    return (
        f"The rest, {rest}, is more than one batch's noise: the first batch of "
        f"epoch {n + 1} was {noise} the model's level just after the "
        f"boundary ({level_after}), more than {NOISE_SDS:g} batch-noise SDs "
        f"({sd}); the model's real step across the boundary is {step}{lr_words}."
    )


def boundary_detail(jump):
    """One boundary's jump explained in a few plain sentences.

    Args:
      jump: a `jumps.Jump`.

    Returns:
      str, e.g. "Keras printed 0.8918 for epoch 1, the mean over all its
      batches; the model's level at the epoch's end was 0.9312 ± 0.0041, and
      epoch 2 opened at 0.9424, a jump of +0.0506. The averaging lag, +0.0394
      ± 0.0041, is 78% of that jump. The rest, +0.0112, is one batch's
      noise: ..."
    """
    n = jump.epoch + 1
    text = (
        f"Keras printed {keras_value(jump.reported)} for epoch {n}, the mean over "
        f"all its batches; the model's level at the epoch's end was "
        f"{with_error(jump.level_at_end, jump.lag_stderr)}, and epoch {n + 1} "
        f"opened at {keras_value(jump.first_next)}, a jump of {signed(jump.jump)}."
    )
    if not _finite(jump.jump, jump.lag):
        text += (
            " The values are not finite (NaN or infinite), so the jump cannot be split."
        )
        return text + _mode_sentence(jump)
    text += " " + lag_clause(jump) + " " + rest_clause(jump)
    return text + _mode_sentence(jump)


def lag_clause(jump):
    """How the averaging lag compares with the jump, in one sentence.

    Args:
      jump: a `jumps.Jump` with a finite `jump` and `lag`.

    Returns:
      str.
    """
    n = jump.epoch + 1
    lag = _lag_words(jump)
    if jump.jump == 0:
        return f"There is no jump; the averaging lag is {lag}."
    fraction = share(jump.lag, jump.jump)
    if fraction is not None:
        return f"The averaging lag, {lag}, is {percent(fraction)} of that jump."
    if jump.lag * jump.jump > 0:
        side = "below" if jump.jump > 0 else "above"
        return (
            f"The lag, {lag}, is larger than the jump, {signed(jump.jump)}: the "
            f"first batch of epoch {n + 1} was {side} the model's level at the "
            f"end of epoch {n} by {keras_value(abs(jump.progress))}."
        )
    side = "below" if jump.lag < 0 else "above"
    return (
        f"The lag, {lag}, points the other way from the jump, "
        f"{signed(jump.jump)}: the model ended epoch {n} {side} what Keras "
        f"printed, so none of the jump is averaging lag."
    )


def _mode_sentence(jump):
    if not math.isfinite(jump.train_eval):
        return ""
    n = jump.epoch + 1
    text = (
        f" Evaluated in inference mode after epoch {n}, the training subset "
        f"scores {keras_value(jump.train_eval)}"
    )
    if math.isfinite(jump.mode_gap):
        text += f" ({signed(jump.mode_gap)} against training mode: dropout, batch norm)"
    return text + "."


def validation_sentence(gap):
    """The gap between validation and what Keras printed, explained.

    Args:
      gap: a `validation_gap.ValidationGap`.

    Returns:
      str, e.g. "After epoch 3, validation (0.9500) is better than the 0.8918
      Keras printed for the epoch (+0.0582). Averaging lag: +0.0392 ± 0.0040
      (67%), ..."
    """
    n = gap.epoch + 1
    comparison = "better than" if gap.val_better else "not better than"
    text = (
        f"After epoch {n}, validation ({keras_value(gap.val)}) is {comparison} "
        f"the {keras_value(gap.reported)} Keras printed for the epoch "
        f"({signed(gap.val_gap)})."
    )
    if not math.isfinite(gap.val_gap) or gap.val_gap == 0:
        return text
    stderr = gap.lag_stderr
    text += (
        f" Averaging lag: {validation_part(gap.lag, gap.val_gap, stderr)}, as "
        f"the model was already at {with_error(gap.level_at_end, stderr)} by "
        f"the epoch's end."
    )
    if math.isnan(gap.train_eval):
        rest = gap.val_gap - gap.lag
        return text + (
            f" The rest ({signed(rest)}) is training-mode regularisation and "
            "the generalisation gap together: pass train_eval_data= to "
            "EpochJumpCallback to split it."
        )
    if math.isnan(gap.mode_gap):
        together = gap.train_eval - gap.level_at_end
        text += (
            f" Training-mode regularisation and the training subset's "
            f"difference from the last batches together: "
            f"{validation_part(together, gap.val_gap)}, as the subset scores "
            f"{keras_value(gap.train_eval)} in inference mode."
        )
    else:
        text += (
            f" The training subset in training mode against the last batches: "
            f"{validation_part(gap.subset_gap, gap.val_gap)}. Dropout and batch "
            f"norm (the subset in inference against training mode): "
            f"{validation_part(gap.mode_gap, gap.val_gap)}, as the subset scores "
            f"{keras_value(gap.train_eval)} in inference mode."
        )
    return text + (
        f" Validation against training data, both in inference mode: "
        f"{validation_part(gap.generalisation_gap, gap.val_gap)}."
    )
