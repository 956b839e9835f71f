"""Every JSON answer of the tab and the report, built from `RunData`.

The TensorBoard routes (`serve.plugin`) and the HTML report (`share`) both
answer from here, so a report shows exactly what the tab shows. Answers are
JSON-ready dicts with non-finite floats left as floats (the routes and the
report write them as "NaN"/"Infinity" strings).
"""

import csv
import io

import numpy as np

from epochjump import constants
from epochjump.analysis import comparison
from epochjump.analysis import downsample
from epochjump.analysis import jumps
from epochjump.analysis import validation_gap
from epochjump.analysis.epoch_geometry import EpochGeometry
from epochjump.analysis.epoch_geometry import batches_per_record
from epochjump.words import answer as answer_words
from epochjump.words import numbers
from epochjump.words import runs as run_words
from epochjump.words import sentences
from epochjump.words import table

CSV_HEADER = ("step", "epoch", "wall_time", "batch_value", "running_mean")
BOUNDARY_FIELDS = (
    "epoch",
    "jump",
    "lag",
    "lag_stderr",
    "progress",
    "lag_share",
    "mode_gap",
)


def run_summary(run):
    """One entry of the `runs` answer: what a run recorded.

    Args:
      run: `RunData`.

    Returns:
      A dict: `run`, `metrics`, `epochs`, `batches`, `has_train_eval`,
      `has_val`, `resolution` and `problems`.
    """
    any_series = run[run.metrics[0]] if run.metrics else None
    return {
        "run": run.name,
        "metrics": list(run.metrics),
        "epochs": _num_epochs(run, any_series),
        "batches": run.num_batches,
        "has_train_eval": run.has_train_eval,
        "has_val": run.has_val,
        "resolution": run_words.resolution(batches_per_record(any_series)),
        "problems": list(run.problems),
    }


def empty_summary(run, problem):
    """The `runs` entry of a run that has no data to show.

    Args:
      run: str, the run name.
      problem: str, why.

    Returns:
      A dict shaped as `run_summary`'s.
    """
    return {
        "run": run,
        "metrics": [],
        "epochs": 0,
        "batches": 0,
        "has_train_eval": False,
        "has_val": False,
        "resolution": "batch",
        "problems": [problem],
    }


def series_answer(run, series, start=None, end=None, max_points=None):
    """Builds the `series` answer for one metric of a run.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run`.
      start: int or None, the first global step wanted (inclusive).
      end: int or None, the last global step wanted (inclusive).
      max_points: int, or None for every batch in the range.

    Returns:
      A JSON-ready dict (non-finite floats left as floats).
    """
    steps = series.step
    lo = 0 if start is None else int(np.searchsorted(steps, start, side="left"))
    hi = len(steps) if end is None else int(np.searchsorted(steps, end, side="right"))
    hi = max(lo, hi)
    total = hi - lo
    if max_points is None or total <= max_points:
        picks = slice(lo, hi)
    else:
        picks = lo + downsample.downsample_indices(
            steps[lo:hi], series.epoch[lo:hi], series.batch_value[lo:hi], max_points
        )
    geometry = EpochGeometry(series, run.epoch_starts)
    batch_steps = steps[picks]
    batch_epochs = series.epoch[picks]
    range_start = start if start is not None else _first(steps)
    range_end = end if end is not None else _last(steps)
    return {
        "run": run.name,
        "metric": series.name,
        "epoch_starts": run.epoch_starts.tolist(),
        "range": {"start": range_start, "end": range_end},
        "total_batches": total,
        "downsampled": not isinstance(picks, slice),
        "resolution": run_words.resolution(batches_per_record(series)),
        "batches": {
            "step": batch_steps.tolist(),
            "epoch": batch_epochs.tolist(),
            "epoch_fraction": geometry.fraction(batch_epochs, batch_steps).tolist(),
            "wall_time": series.wall_time[picks].tolist(),
            "batch_value": series.batch_value[picks].tolist(),
            "running_mean": series.running_mean[picks].tolist(),
        },
        # The evaluations in the range; a report's zoom cuts the same ones.
        **{
            name: _evals(getattr(series, name), geometry, start, end)
            for name in constants.RANGE_FILTERED_SERIES
            if name != "batches"
        },
        **chart_marks(run, series, geometry),
    }


def chart_marks(run, series, geometry=None):
    """The steps the chart marks: learning-rate changes and fit starts.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run` (for the epoch axis).
      geometry: `EpochGeometry` of `series`, or None to build it.

    Returns:
      A dict: `learning_rate` (`step`, `epoch_fraction`, `value`: the
      learning rate in force from that step on) and `fit_starts` (`step`,
      `epoch_fraction`: the first step of each `fit`). `epoch_fraction` is
      where the batch at `step` begins on the epoch axis: `e` for the first
      batch of epoch `e`, on its epoch line.
    """
    if geometry is None:
        geometry = EpochGeometry(series, run.epoch_starts)
    return {
        "learning_rate": _marks(
            run, geometry, run.learning_rate.step, run.learning_rate.value
        ),
        "fit_starts": _marks(run, geometry, run.fit_starts),
    }


def _marks(run, geometry, steps, values=None):
    """Steps to mark on the chart (learning-rate changes, fit starts), each
    placed where its batch begins: on the epoch axis an epoch's first batch
    begins at `e`, on the epoch line, as a step between batches does."""
    steps = np.asarray(steps, np.int64)
    before = steps - 1
    epochs = np.searchsorted(run.epoch_starts, before, side="right") - 1
    marks = {
        "step": steps.tolist(),
        "epoch_fraction": geometry.fraction(np.maximum(epochs, 0), before).tolist(),
    }
    if values is not None:
        marks["value"] = np.asarray(values, np.float64).tolist()
    return marks


def _evals(evals, geometry, start, end):
    keep = np.ones(len(evals), bool)
    if start is not None:
        keep &= evals.step >= start
    if end is not None:
        keep &= evals.step <= end
    steps, epochs = evals.step[keep], evals.epoch[keep]
    return {
        "step": steps.tolist(),
        "epoch": epochs.tolist(),
        "epoch_fraction": geometry.fraction(epochs, steps).tolist(),
        "wall_time": evals.wall_time[keep].tolist(),
        "value": evals.value[keep].tolist(),
    }


def _first(steps):
    return int(steps[0]) if len(steps) else None


def _last(steps):
    return int(steps[-1]) if len(steps) else None


def jumps_answer(run, metric, explanation=None):
    """The `jumps` answer: the decomposition of every boundary of one metric,
    with the words and the table's cells as shown.

    Args:
      run: `RunData`.
      metric: str, a metric of `run`.
      explanation: the metric's `jumps.Explanation` when the caller has it
        already, or None to compute it.

    Returns:
      A dict: `run`, `metric`, `estimator`, `answer` (the at most three
      lines `explain` prints first), `columns` (the table's columns in
      order: `key`, `label`, `help`, `more`), `boundaries` (one
      `Jump.as_dict()` per boundary without its `metric`, with its row's
      `text`, `level_after_text` and `detail`, the prose about it) and `epoch_ends` (one
      `EpochEnd` per recorded epoch, the last included, without `metric`,
      with its row's `text`).
    """
    if explanation is None:
        explanation = jumps.explained(run, metric)
    rows = dict(
        zip(
            (end.epoch for end in explanation.epoch_ends),
            table.rows_text(explanation),
        )
    )
    boundaries = []
    for jump in explanation.jumps:
        record = jump.as_dict()
        del record["metric"]
        record["text"] = rows[jump.epoch]
        # The tab's chart names the level just after the boundary too.
        record["level_after_text"] = numbers.with_error(
            jump.level_after, jump.level_after_stderr
        )
        record["detail"] = sentences.boundary_detail(jump)
        boundaries.append(record)
    ends = []
    for end in explanation.epoch_ends:
        record = end.as_dict()
        del record["metric"]
        record["text"] = rows[end.epoch]
        ends.append(record)
    return {
        "run": run.name,
        "metric": metric,
        "estimator": jumps.ESTIMATOR,
        "answer": answer_words.answer_lines(explanation),
        "columns": [column.as_dict() for column in table.COLUMNS],
        "boundaries": boundaries,
        "epoch_ends": ends,
    }


def csv_answer(series):
    """The full-resolution batches of one metric as CSV.

    Args:
      series: `MetricData`.

    Returns:
      str, a header line (`CSV_HEADER`) and one line per batch; non-finite
      values written as nan, inf and -inf.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    # csv writes floats with repr(): nan, inf and -inf for non-finite ones.
    writer.writerows(
        zip(
            series.step.tolist(),
            series.epoch.tolist(),
            series.wall_time.tolist(),
            series.batch_value.tolist(),
            series.running_mean.tolist(),
        )
    )
    return out.getvalue()


def compare_answer(runs, metric, level_fraction=jumps.LEVEL_FRACTION, explained=None):
    """The `compare` answer: one entry per run for one metric.

    Args:
      runs: list of `epochjump.RunData`, each holding `metric`.
      metric: str, the metric name (without `val_`).
      level_fraction: float in (0, 1], default 0.1, as in `epochjump.explain`.
      explained: dict from run name to the metric's `jumps.Explanation`
        for the runs the caller has explained already, or None.

    Returns:
      A JSON-ready dict (non-finite floats left as floats): `metric`,
      `higher_is_better`, `estimator` and `runs`, a list of `run_entry`
      results in the order given.

    Raises:
      KeyError: if a run has no such metric.
    """
    return {
        "metric": metric,
        "higher_is_better": validation_gap.higher_is_better(metric),
        "estimator": jumps.ESTIMATOR,
        "runs": [
            run_entry(run, metric, level_fraction, (explained or {}).get(run.name))
            for run in runs
        ],
    }


def run_entry(run, metric, level_fraction=jumps.LEVEL_FRACTION, explanation=None):
    """One run's side of the comparison.

    Args:
      run: `epochjump.RunData`.
      metric: str, a metric of `run`.
      level_fraction: float in (0, 1], default 0.1.
      explanation: the metric's `jumps.Explanation`, or None to compute it.

    Returns:
      A dict: `run` (its name), `summary` (see `comparison.summarize`), `boundaries`
      (per epoch boundary: `epoch`, `jump`, `lag`, `progress`, `lag_share`,
      `mode_gap`) and `validation` (`ValidationGap.as_dict()` per epoch with
      a recorded `val`, without `metric`).
    """
    if explanation is None:
        explanation = jumps.explained(run, metric, level_fraction)
    found = explanation.jumps
    gaps = validation_gap.gaps_at(metric, explanation.epoch_ends)
    boundaries = []
    for jump in found:
        record = jump.as_dict()
        boundary = {field: record[field] for field in BOUNDARY_FIELDS}
        boundary["lag_share_text"] = numbers.share_text(jump.lag, jump.jump)
        boundaries.append(boundary)
    validation = []
    for gap in gaps:
        record = gap.as_dict()
        del record["metric"], record["higher_is_better"]
        record["parts_text"] = {
            "lag": numbers.validation_part(gap.lag, gap.val_gap, gap.lag_stderr),
            **{
                part: numbers.validation_part(getattr(gap, part), gap.val_gap)
                for part in ("subset_gap", "mode_gap", "generalisation_gap")
            },
        }
        record["sentence"] = sentences.validation_sentence(gap)
        validation.append(record)
    summary = comparison.summarize(found)
    summary["lag_share_text"] = numbers.share_text(
        summary.pop("total_lag"), summary.pop("total_jump")
    )
    return {
        "run": run.name,
        "summary": summary,
        "boundaries": boundaries,
        "validation": validation,
    }


def _num_epochs(run, series):
    if len(run.epoch_starts):
        return len(run.epoch_starts)
    return 1 if series is not None and len(series) else 0
