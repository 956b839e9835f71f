"""Reads what epochjump.ProgressBar printed back into numbers, for the tests.

Written from the documented format, independently of epochjump's own
formatting code.
"""

import dataclasses
import math
import re

import numpy as np

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NUM = r"-?(?:\d+\.\d+(?:e[-+]\d+)?|nan|inf)"
_BAR = re.compile(r"^\s*(\d+)/(\d+) ")
_METRIC = re.compile(rf" - (\w+): ({_NUM})(?: \(now ({_NUM})\))?")
_LINE = re.compile(
    rf"^(\w+) ({_NUM}) is the average over epoch (\d+); the model ended it at "
    rf"({_NUM})(?: ± ({_NUM}))? \(training mode\)"
    rf"(?:, ({_NUM}) on the training subset in inference mode)?"
    rf"(?:; val ({_NUM}))?$"
)
_COMPACT = re.compile(
    r"^Epoch (\d+) ended at \(training mode, not the averages printed\): (.*)$"
)
_COMPACT_PART = re.compile(
    rf"^(\w+) ({_NUM})(?: ± ({_NUM}))?"
    rf"(?: \((?:training subset ({_NUM}))?(?:, )?(?:val ({_NUM}))?\))?$"
)


def keras_number(value):
    """How Keras's bar prints a value: 4 decimals, or 4 significant digits
    in e-notation for magnitudes up to 1e-3."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def weighted_levels(batch_values, half_life):
    """The live level after each batch: the mean of the finite batch values
    so far, the one `k` batches back weighted 0.5 ** (k / half_life)."""
    levels = []
    for i in range(len(batch_values)):
        weights = [
            0.5 ** ((i - j) / half_life)
            for j in range(i + 1)
            if math.isfinite(batch_values[j])
        ]
        values = [v for v in batch_values[: i + 1] if math.isfinite(v)]
        levels.append(
            sum(w * v for w, v in zip(weights, values)) / sum(weights)
            if weights
            else math.nan
        )
    return np.array(levels)


@dataclasses.dataclass
class Line:
    """One metric's epoch-end explanation, as printed (strings)."""

    reported: str
    level: str
    stderr: str
    train_eval: str
    val: str


@dataclasses.dataclass
class Block:
    """One epoch as printed: its last bar line, the live levels shown during
    it and the explanation below it.

    Attributes:
      epoch: int, the epoch number printed (1-based).
      ordinal: int, its position in the output (0-based).
      final: dict metric -> value printed on the epoch's last bar line.
      live: list of (batches counted, {metric: "now" value}).
      lines: dict metric -> `Line`.
    """

    epoch: int
    ordinal: int
    final: dict
    live: list
    lines: dict


def screen_segments(text):
    """The printed text cut where the terminal would redraw (\\n and \\r),
    with colours and backspaces removed."""
    text = _ANSI.sub("", text).replace("\b", "")
    return [s for line in text.split("\n") for s in line.split("\r") if s.strip()]


def epoch_blocks(text):
    """The `Block`s of a fit's output, in order."""
    blocks, bars, live = [], [], []
    for segment in screen_segments(text):
        segment = segment.rstrip()
        line, compact = _LINE.match(segment), _COMPACT.match(segment)
        if line or compact:
            if bars:  # The first explanation line of an epoch.
                assert "(now" not in bars[-1], bars[-1]
                final = {m: v for m, v, _ in _METRIC.findall(bars[-1])}
                blocks.append(Block(0, len(blocks), final, live, {}))
                bars, live = [], []
            block = blocks[-1]
        if line:
            metric, reported, epoch, level, stderr, train_eval, val = line.groups()
            block.epoch = int(epoch)
            block.lines[metric] = Line(reported, level, stderr, train_eval, val)
        elif compact:
            block.epoch = int(compact.group(1))
            for part in compact.group(2).split("; "):
                match = _COMPACT_PART.match(part)
                assert match, part
                metric, level, stderr, train_eval, val = match.groups()
                block.lines[metric] = Line(None, level, stderr, train_eval, val)
        elif _BAR.match(segment):
            bars.append(segment)
            shown = {m: now for m, _, now in _METRIC.findall(segment) if now}
            if shown:
                live.append((int(_BAR.match(segment).group(1)), shown))
    return blocks
