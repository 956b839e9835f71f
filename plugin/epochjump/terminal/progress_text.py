"""What the progress bar adds to Keras's text: live levels and epoch-end lines.

The words and numbers are `epochjump.words`': the epoch-end line is
`answer.epoch_line`, the first line `epochjump explain` prints.
"""

import math
import re

from epochjump.words import answer
from epochjump.words.numbers import keras_value as number

# Keras's bar writes each metric as " - name: 0.1234" (or 1.2340e-04).
_NUMBER = r"-?(?:\d+\.\d+(?:e[-+]\d+)?|nan|inf)"
_CONTROL = re.compile(r"\x1b\[[0-9;]*m|[\b\r\n]")


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
        if math.isfinite(level.value):
            parts.append(
                (
                    metric,
                    level.value,
                    level.stderr,
                    train_eval.get(metric),
                    val.get(metric),
                )
            )
    if compact:
        return [answer.compact_epoch_line(epoch, parts)] if parts else []
    return [
        answer.epoch_line(metric, epoch, reported[metric], level, stderr, subset, value)
        for metric, level, stderr, subset, value in parts
    ]
