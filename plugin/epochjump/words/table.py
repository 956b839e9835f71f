"""The jump table's columns, its cells as text, and the key to them.

One row per epoch (the last one included), made of its `jumps.EpochEnd` and,
but for the last epoch, the `jumps.Jump` into the next one. `explain` prints
these cells, and the `jumps` answer sends them for the tab to show as they
are.
"""

import dataclasses
import math

from epochjump.words import numbers
from epochjump.words.numbers import NO_VALUE
from epochjump.words.numbers import cell


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the jump table.

    Attributes:
      key: str, the column's key in each row's `text`.
      label: str, its header.
      help: str, what it means (the key printed under the table).
      more: bool, shown only on request (`explain --detail`, the tab's
        "More columns").
      text: function `(end, jump) -> str`, the cell of a row; `jump` is None
        for the last epoch.
    """

    key: str
    label: str
    help: str
    more: bool
    text: object


def _of_jump(pick, stderr=None, sign=True):
    def text(end, jump):
        if jump is None:
            return NO_VALUE
        return cell(pick(jump), stderr(jump) if stderr else math.nan, sign)

    return text


def _learning_rate(end, jump):
    if jump is None:
        return NO_VALUE
    before, after = jump.learning_rate_before, jump.learning_rate_after
    if not (math.isfinite(before) and math.isfinite(after)):
        return NO_VALUE
    if before == after:
        return numbers.learning_rate(after)
    return f"{numbers.learning_rate(before)} → {numbers.learning_rate(after)}"


COLUMNS = (
    Column(
        "epoch",
        "epoch",
        "the epoch as Keras numbers it; its row holds the jump into the next one",
        False,
        lambda end, jump: str(end.epoch + 1),
    ),
    Column(
        "printed",
        "printed",
        "what Keras printed for the epoch: the mean over all its batches",
        False,
        lambda end, jump: cell(end.reported),
    ),
    Column(
        "level_at_end",
        "level at end",
        "the model's level at the epoch's last batch (lines fitted to the "
        "batches nearest the edge, on both sides of it when the next epoch "
        "was recorded, their window chosen from the data)",
        False,
        lambda end, jump: cell(end.level_at_end, end.lag_stderr),
    ),
    Column(
        "next",
        "next",
        "the next epoch's first batch, the first number Keras prints in it",
        False,
        _of_jump(lambda j: j.first_next, sign=False),
    ),
    Column(
        "jump",
        "jump",
        "next - printed: the jump on the screen",
        False,
        _of_jump(lambda j: j.jump),
    ),
    Column(
        "lag",
        "lag",
        "level at end - printed: the part of the jump that is the mean trailing "
        "the model (averaging lag)",
        False,
        _of_jump(lambda j: j.lag, lambda j: j.lag_stderr),
    ),
    Column(
        "rest",
        "rest",
        "next - level at end = step + noise: what the lag does not explain",
        True,
        _of_jump(lambda j: j.progress),
    ),
    Column(
        "step",
        "step",
        "the model's level just after the boundary - level at end: the model "
        "itself changing across the boundary",
        False,
        _of_jump(lambda j: j.boundary_step, lambda j: j.boundary_step_stderr),
    ),
    Column(
        "noise",
        "noise",
        "next - the model's level just after the boundary: that one batch's own noise",
        False,
        _of_jump(lambda j: j.first_batch_noise),
    ),
    Column(
        "noise_sd",
        "noise SD",
        "the usual batch-to-batch spread (one standard deviation) near the boundary",
        True,
        _of_jump(lambda j: j.noise_sd, sign=False),
    ),
    Column(
        "train_eval",
        "train eval",
        "the fixed training subset evaluated after the epoch in inference mode",
        False,
        lambda end, jump: cell(end.train_eval),
    ),
    Column(
        "mode_gap",
        "mode gap",
        "train eval - the same subset and weights in training mode: dropout "
        "and batch norm",
        True,
        lambda end, jump: cell(
            end.train_eval - end.train_eval_training_mode, sign=True
        ),
    ),
    Column(
        "val",
        "val",
        "the validation value after the epoch",
        False,
        lambda end, jump: cell(end.val),
    ),
    Column(
        "learning_rate",
        "learning rate",
        "the learning rate across the boundary (before → after)",
        True,
        _learning_rate,
    ),
)


def columns(more=False):
    """The table's columns in order.

    Args:
      more: bool, default False: include the columns shown only on request.

    Returns:
      A list of `Column`.
    """
    return [column for column in COLUMNS if more or not column.more]


def row_text(end, jump):
    """Every cell of one epoch's row, as shown.

    Args:
      end: a `jumps.EpochEnd`.
      jump: the `jumps.Jump` into the next epoch, or None for the last epoch.

    Returns:
      A dict from each column's key to its cell ("0.4171", "0.6869 ±
      0.0329", "+0.2704", "-" where there is no value).
    """
    return {column.key: column.text(end, jump) for column in COLUMNS}


def rows_text(explanation):
    """`row_text` of every epoch of an `Explanation`, in order.

    Args:
      explanation: a `jumps.Explanation`.

    Returns:
      A list of dicts, one per `explanation.epoch_ends` entry.
    """
    by_epoch = {jump.epoch: jump for jump in explanation.jumps}
    return [row_text(end, by_epoch.get(end.epoch)) for end in explanation.epoch_ends]


def format_table(rows, shown):
    """The rows as an aligned text table.

    Args:
      rows: list of dicts from `row_text`.
      shown: list of `Column`, those to print.

    Returns:
      str, a header line and one line per row.
    """
    lines = [[column.label for column in shown]]
    lines.extend([row[column.key] for column in shown] for row in rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(shown))]
    return "\n".join(
        "  ".join(text.rjust(width) for text, width in zip(line, widths))
        for line in lines
    )


def key_text(shown, estimator):
    """The key under the table: what each shown column means.

    Args:
      shown: list of `Column`.
      estimator: str, how the levels are estimated (`jumps.ESTIMATOR`).

    Returns:
      str, one paragraph.
    """
    parts = [f"{column.label}: {column.help}" for column in shown]
    return (
        "(" + "; ".join(parts) + f"; ± one standard error; jump = lag + step + "
        f"noise; the levels: {estimator})"
    )
