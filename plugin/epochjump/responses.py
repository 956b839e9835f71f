"""The JSON answers of the tab's routes and of a report's data, field by field.

Each dataclass here is the one definition of one answer (or one part of an
answer): `epochjump.answers` builds every answer by constructing them (so a
field not declared here is an error there), and the tab's TypeScript
interfaces and decoders are generated from them at build time
(`frontend/dev/contract_ts.py` writes `frontend/src/generated/contract.ts`).
So this module imports nothing but the standard library and
`analysis.records`, whose records some answers carry, and the generator loads
it without the package's numpy.

Field types: `str`, `int`, `float`, `bool`, `str | None`, `int | None` (null,
read back as NaN), `list[...]` of those or of a dataclass here,
`dict[str, str]`, a dataclass here, or an analysis record flattened into the
entry (`_record`). Non-finite floats stay floats here (the routes write them
as "NaN"/"Infinity", which the decoders read back).
"""

import dataclasses

from epochjump.analysis import records


def _record(without):
    """A field holding an analysis record, sent flattened into its entry: the
    record's `as_dict()` without the fields `without`, which the answer
    around it names once."""
    return dataclasses.field(metadata={"flattened_without": tuple(without)})


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What one run recorded: one entry of the `runs` answer."""

    run: str
    metrics: list[str]
    epochs: int
    batches: int
    has_train_eval: bool
    has_val: bool
    # How many batches each recorded value stands for, in words ("batch").
    resolution: str
    problems: list[str]


@dataclasses.dataclass(frozen=True)
class RunsResponse:
    """The `runs` answer: the runs by name, and a warning about the setup."""

    runs: list[RunInfo]
    warning: str | None


@dataclasses.dataclass(frozen=True)
class StepRange:
    """The global steps a `series` answer covers (null for a run without batches)."""

    start: int | None
    end: int | None


@dataclasses.dataclass(frozen=True)
class BatchPoints:
    """The batches of a `series` answer, one list entry per batch."""

    step: list[int]
    epoch: list[int]
    # Where the batch is on the epoch axis: `e` at the start of epoch `e`.
    epoch_fraction: list[float]
    wall_time: list[float]
    batch_value: list[float]
    running_mean: list[float]


@dataclasses.dataclass(frozen=True)
class EvalPoints:
    """The evaluations of one kind (`train_eval`, `val`, ...) in a `series` answer."""

    step: list[int]
    epoch: list[int]
    epoch_fraction: list[float]
    wall_time: list[float]
    value: list[float]


@dataclasses.dataclass(frozen=True)
class RateMarks:
    """Learning-rate values, each in force from its step on."""

    step: list[int]
    epoch_fraction: list[float]
    value: list[float]


@dataclasses.dataclass(frozen=True)
class StepMarks:
    """Steps the chart marks: the first step of each `fit`."""

    step: list[int]
    epoch_fraction: list[float]


@dataclasses.dataclass(frozen=True)
class SeriesResponse:
    """The `series` answer: one metric's batches, evaluations and marks."""

    run: str
    metric: str
    epoch_starts: list[int]
    range: StepRange
    total_batches: int
    downsampled: bool
    resolution: str
    batches: BatchPoints
    train_eval: EvalPoints
    # The same subset evaluated in training mode (dropout on, batch statistics).
    train_eval_training_mode: EvalPoints
    val: EvalPoints
    learning_rate: RateMarks
    fit_starts: StepMarks


@dataclasses.dataclass(frozen=True)
class TableColumn:
    """One column of the jump table, in the server's order and words."""

    key: str
    label: str
    help: str
    # Shown only on request (`explain --detail`, the tab's "More columns").
    more: bool


@dataclasses.dataclass(frozen=True)
class EpochEndRecord:
    """Where one epoch ended (the last one included) in the `jumps` answer."""

    record: records.EpochEnd = _record(without=["metric"])
    # The epoch's table row, one cell per column key, as shown.
    text: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Boundary(EpochEndRecord):
    """One epoch boundary of the `jumps` answer: its `Jump` and its words."""

    record: records.Jump = _record(without=["metric"])
    # `level_after ± level_after_stderr` as shown.
    level_after_text: str
    # What happened at this boundary, in words.
    detail: str


@dataclasses.dataclass(frozen=True)
class JumpsResponse:
    """The `jumps` answer: every boundary of one metric, decomposed and told."""

    run: str
    metric: str
    estimator: str
    # The answer, at most three lines, said first.
    answer: list[str]
    columns: list[TableColumn]
    boundaries: list[Boundary]
    epoch_ends: list[EpochEndRecord]


@dataclasses.dataclass(frozen=True)
class CompareSummary:
    """One run's jumps of a metric in a few numbers (`analysis.comparison`)."""

    boundaries: int
    mean_jump: float
    mean_lag: float
    mean_progress: float
    mean_mode_gap: float
    lag_share: float
    # The share as shown: a percentage only within 0-100%, else words.
    lag_share_text: str


@dataclasses.dataclass(frozen=True)
class CompareBoundary:
    """One boundary of one run in the `compare` answer (fields of its `Jump`)."""

    epoch: int
    jump: float
    lag: float
    lag_stderr: float
    progress: float
    lag_share: float
    lag_share_text: str
    mode_gap: float


@dataclasses.dataclass(frozen=True)
class PartsText:
    """Each part of a validation gap as shown, "+0.0392 ± 0.0040 (67%)"."""

    lag: str
    subset_gap: str
    mode_gap: str
    generalisation_gap: str


@dataclasses.dataclass(frozen=True)
class ValidationGap:
    """After one epoch, `val - reported` split, with its words."""

    record: records.ValidationGap = _record(without=["metric", "higher_is_better"])
    parts_text: PartsText
    sentence: str


@dataclasses.dataclass(frozen=True)
class RunComparison:
    """One run's side of the `compare` answer."""

    run: str
    summary: CompareSummary
    boundaries: list[CompareBoundary]
    validation: list[ValidationGap]


@dataclasses.dataclass(frozen=True)
class CompareResponse:
    """The `compare` answer: one metric across runs."""

    metric: str
    higher_is_better: bool
    estimator: str
    runs: list[RunComparison]


# Every answer and part, in the order the generated TypeScript declares them.
RESPONSES = (
    RunInfo,
    RunsResponse,
    StepRange,
    BatchPoints,
    EvalPoints,
    RateMarks,
    StepMarks,
    SeriesResponse,
    TableColumn,
    Boundary,
    EpochEndRecord,
    JumpsResponse,
    CompareSummary,
    CompareBoundary,
    PartsText,
    ValidationGap,
    RunComparison,
    CompareResponse,
)


def as_json(value):
    """`value` as the routes send it: dataclasses as dicts (a flattened
    record's fields in its entry), lists and dicts walked, the rest as is.

    Args:
      value: a dataclass of this module, or anything inside one.
    """
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if not dataclasses.is_dataclass(value):
        return value
    answer = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if "flattened_without" in field.metadata:
            if not isinstance(item, field.type):
                raise TypeError(
                    f"{type(value).__name__}.{field.name} must be a "
                    f"{field.type.__name__}; received: {item!r}"
                )
            sent = item.as_dict()
            for name in field.metadata["flattened_without"]:
                del sent[name]
            answer.update(sent)
        else:
            answer[field.name] = as_json(item)
    return answer
