"""The answer first: at most three lines per metric, and the progress bar's epoch line.

`answer_lines` is what `epochjump explain` prints first, what the tab shows
above its chart (the `jumps` answer's `answer`) and the pictures' caption;
its first line is `epoch_line`, the sentence the progress bar prints after
every epoch, so the terminal, the CLI, the tab and the report say the same
about what the printed number is.
"""

import math

from epochjump.words import sentences
from epochjump.words.numbers import keras_value
from epochjump.words.numbers import learning_rate
from epochjump.words.numbers import percent
from epochjump.words.numbers import share
from epochjump.words.numbers import signed
from epochjump.words.numbers import with_error

# A mode gap (inference - training mode on the same subset and weights) is
# named when it is more than this many standard errors of the level at the
# epoch's end: larger than what the estimator can resolve there.
MODE_GAP_STDERRS = 2.0
# Boundaries named one by one in a list; the rest are counted.
NAMED_BOUNDARIES = 3


def epoch_line(metric, epoch, reported, level, stderr, train_eval=None, val=None):
    """What the number Keras printed for an epoch is, in one sentence.

    Args:
      metric: str, the metric name.
      epoch: int, the epoch as Keras numbers it (1-based).
      reported: float, what Keras printed for the epoch.
      level: float, the model's level at the epoch's end (`level_at_end`).
      stderr: float, its standard error, NaN for none.
      train_eval: float or None, the training subset in inference mode.
      val: float or None, the validation value.

    Returns:
      str, e.g. "accuracy 0.4171 is the average over epoch 1; the model
      ended it at 0.6869 ± 0.0329 (training mode)".
    """
    line = (
        f"{metric} {keras_value(reported)} is the average over epoch {epoch}; "
        f"the model ended it at {with_error(level, stderr)} (training mode)"
    )
    if train_eval is not None:
        line += f", {keras_value(train_eval)} on the training subset in inference mode"
    if val is not None:
        line += f"; val {keras_value(val)}"
    return line


def compact_epoch_line(epoch, parts):
    """The progress bar's one-line epoch summary, all metrics together.

    Args:
      epoch: int, the epoch as Keras numbers it (1-based).
      parts: list of `(metric, level, stderr, train_eval, val)`, with
        `train_eval` and `val` None where not known.

    Returns:
      str, e.g. "Epoch 1 ended at (training mode, not the averages printed):
      accuracy 0.5001 ± 0.0308 (training subset 0.5605, val 0.5063)".
    """
    texts = []
    for metric, level, stderr, train_eval, val in parts:
        extras = [
            f"{label} {keras_value(value)}"
            for label, value in (("training subset", train_eval), ("val", val))
            if value is not None
        ]
        texts.append(
            f"{metric} {with_error(level, stderr)}"
            + (f" ({', '.join(extras)})" if extras else "")
        )
    return (
        f"Epoch {epoch} ended at (training mode, not the averages printed): "
        + "; ".join(texts)
    )


def answer_lines(explanation):
    """The answer about one metric, first and in at most three lines.

    1. what the printed number is (`epoch_line` for the epoch before the
       largest jump, or the last epoch when there is no jump);
    2. the jump, and how much of it (and of all the jumps) is averaging lag,
       with its ±;
    3. what else happened: a real step across a boundary (distinguishable
       from zero), a learning-rate change, a mode gap worth naming; or that
       the rest shows no step beyond 2 standard errors nor an odd first batch.

    Args:
      explanation: a `jumps.Explanation`.

    Returns:
      A list of one to three str; empty when no epoch is recorded.
    """
    metric, ends = explanation.metric, explanation.epoch_ends
    if not ends:
        return [f"No epoch of {metric} recorded yet."]
    finite = [j for j in explanation.jumps if _finite(j.jump, j.lag)]
    if finite:
        largest = max(finite, key=lambda j: abs(j.jump))
        end = next(e for e in ends if e.epoch == largest.epoch)
    else:
        end = ends[-1]
    lines = [
        epoch_line(
            metric, end.epoch + 1, end.reported, end.level_at_end, end.lag_stderr
        )
        + "."
    ]
    if not finite:
        if explanation.jumps:
            lines.append(
                f"The {metric} jumps are not finite (NaN or infinite values), "
                "so they cannot be split."
            )
        else:
            lines.append("No jump yet: no next epoch recorded.")
    else:
        lines.append(_jump_line(largest, finite))
    other = _other_line(finite, ends)
    if other:
        lines.append(other)
    return lines


def _jump_line(largest, finite):
    n = largest.epoch + 1
    lag = with_error(largest.lag, largest.lag_stderr, sign=True)
    text = (
        f"Epoch {n + 1} opened at {keras_value(largest.first_next)}, a jump of "
        f"{signed(largest.jump)}: "
    )
    if largest.jump == 0:
        text = f"Epoch {n + 1} opened at {keras_value(largest.first_next)}, no jump: "
        text += f"the averaging lag is {lag}"
    else:
        text += _lag_part(largest.lag, largest.jump, lag, "it")
    if len(finite) > 1:
        total_jump = math.fsum(j.jump for j in finite)
        total_lag = math.fsum(j.lag for j in finite)
        stderrs = [j.lag_stderr for j in finite]
        total_stderr = (
            math.sqrt(math.fsum(s * s for s in stderrs))
            if all(math.isfinite(s) for s in stderrs)
            else math.nan
        )
        over = with_error(total_lag, total_stderr, sign=True)
        text += f"; over all {len(finite)} jumps, {over} of {signed(total_jump)}"
        fraction = share(total_lag, total_jump)
        if fraction is not None:
            text += f" ({percent(fraction)}) is lag"
        elif total_jump != 0 and total_lag * total_jump > 0:
            text += " is lag, more than the jumps themselves"
        else:
            text += " is lag, the other way"
    return text + "."


def _lag_part(lag_value, jump_value, lag, whole):
    fraction = share(lag_value, jump_value)
    if fraction is not None:
        return f"{percent(fraction)} of {whole} is averaging lag ({lag})"
    if lag_value * jump_value > 0:
        side = "below" if jump_value > 0 else "above"
        return (
            f"the averaging lag, {lag}, is larger than {whole}: the first batch "
            f"came in {side} the model's level"
        )
    return f"none of {whole} is averaging lag (the lag, {lag}, points the other way)"


def _other_line(finite, ends):
    """Line 3: what else happened, or "" when there is nothing to say."""
    items = []
    steps = [j for j in finite if sentences.step_is_real(j)]
    if steps:
        items.append(
            "the model itself stepped across "
            + ("boundary " if len(steps) == 1 else "boundaries ")
            + _named(
                steps,
                lambda j: with_error(j.boundary_step, j.boundary_step_stderr, True),
            )
        )
    elif finite and all(_finite(j.boundary_step) for j in finite):
        rest = math.fsum(j.progress for j in finite)
        odd = [j for j in finite if not sentences.noise_is_small(j)]
        if odd:
            items.append(
                f"the rest ({signed(rest)}) is not a step of the model; the first "
                f"batch after {_named(odd)} was more than "
                f"{sentences.NOISE_SDS:g} batch-noise SDs off the model's level"
            )
        else:
            items.append(
                f"the rest ({signed(rest)}) shows no step of the model beyond "
                f"{sentences.STEP_STDERRS:g} standard errors at any boundary, and "
                f"no first batch beyond {sentences.NOISE_SDS:g} batch-noise SDs"
            )
    changed = [j for j in finite if sentences.lr_change(j)]
    if changed:
        items.append(
            "the learning rate changed at "
            + ", ".join(
                f"{_boundary(j)} ({learning_rate(j.learning_rate_before)} to "
                f"{learning_rate(j.learning_rate_after)})"
                for j in changed
            )
        )
    if any(j.learning_rate_scheduled for j in finite):
        items.append("the learning rate follows a per-step schedule")
    gap = _mode_gap(ends)
    if gap:
        items.append(gap)
    if not items:
        return ""
    text = "; ".join(items)
    return text[:1].upper() + text[1:] + "."


def _mode_gap(ends):
    """The last epoch's mode gap in words when it is worth naming, else ""."""
    for end in reversed(ends):
        gap = end.train_eval - end.train_eval_training_mode
        if not math.isfinite(gap):
            continue
        resolution = MODE_GAP_STDERRS * end.lag_stderr
        if gap == 0 or (math.isfinite(resolution) and abs(gap) <= resolution):
            return ""
        return (
            f"the mode gap (inference - training mode: dropout, batch norm) is "
            f"{signed(gap)} after epoch {end.epoch + 1}"
        )
    return ""


def _named(jumps, value=None):
    """`jumps`' boundaries listed ("1→2 (+0.0500 ± 0.0100), 3→4"), the first
    `NAMED_BOUNDARIES` by name and the others counted."""
    named = ", ".join(
        _boundary(j) + (f" ({value(j)})" if value else "")
        for j in jumps[:NAMED_BOUNDARIES]
    )
    more = len(jumps) - NAMED_BOUNDARIES
    return named + (f" and {more} more" if more > 0 else "")


def _boundary(jump):
    return f"{jump.epoch + 1}→{jump.epoch + 2}"


def _finite(*values):
    return all(math.isfinite(v) for v in values)
