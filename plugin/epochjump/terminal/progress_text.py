"""What the progress bar adds to Keras's text: live levels and epoch-end lines."""

import math
import re

# Keras's bar writes each metric as " - name: 0.1234" (or 1.2340e-04).
_NUMBER = r"-?(?:\d+\.\d+(?:e[-+]\d+)?|nan|inf)"
_CONTROL = re.compile(r"\x1b\[[0-9;]*m|[\b\r\n]")


def number(value):
    """`value` as Keras's progress bar prints it (4 decimals)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def with_live_levels(message, levels):
    """Keras's bar line with each metric's live level beside it.

    Args:
      message: str, a line as Keras's `Progbar` prints it.
      levels: dict from metric name to float.

    Returns:
      str, e.g. "... - accuracy: 0.8918 (now 0.9310) - loss: ...".
    """
    for metric, level in levels.items():
        pattern = re.compile(rf"( - {re.escape(metric)}: {_NUMBER})")
        message = pattern.sub(rf"\1 (now {number(level)})", message, count=1)
    return message


def visible_width(message):
    """How many columns `message` takes on the last line it prints."""
    return len(_CONTROL.sub("", message.rsplit("\r", 1)[-1]))


def epoch_lines(epoch, reported, ends, train_eval, val, compact=False):
    """What the numbers of one epoch's last line mean, in words.

    Args:
      epoch: int, the epoch as Keras numbers it on screen (1-based).
      reported: dict from metric name to what Keras printed for the epoch.
      ends: dict from metric name to `analysis.levels.Level`, the model's
        level at the epoch's end.
      train_eval: dict from metric name to the training subset's value in
        inference mode, or None when it was not evaluated.
      val: dict from metric name (without `val_`) to the validation value.
      compact: bool, one line for all metrics instead of one per metric.

    Returns:
      A list of str, one per line.
    """
    train_eval = train_eval or {}
    parts = []
    # In the order Keras printed them.
    for metric in [m for m in reported if m in ends]:
        level = ends[metric]
        if not math.isfinite(level.value):
            continue
        level = _level(level)
        if compact:
            extras = [
                f"{label} {number(v)}"
                for label, v in (
                    ("training subset", train_eval.get(metric)),
                    ("val", val.get(metric)),
                )
                if v is not None
            ]
            parts.append(
                f"{metric} {level}" + (f" ({', '.join(extras)})" if extras else "")
            )
            continue
        line = (
            f"{metric} {number(reported[metric])} is the average over epoch "
            f"{epoch}; the model ended it at {level} (training mode)"
        )
        if metric in train_eval:
            line += (
                f", {number(train_eval[metric])} on the training subset in "
                "inference mode"
            )
        if metric in val:
            line += f"; val {number(val[metric])}"
        parts.append(line)
    if compact and parts:
        return [
            f"Epoch {epoch} ended at (training mode, not the averages printed): "
            + "; ".join(parts)
        ]
    return parts


def _level(level):
    if math.isfinite(level.stderr):
        return f"{number(level.value)} ± {number(level.stderr)}"
    return number(level.value)
