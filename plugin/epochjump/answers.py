"""Every JSON answer of the tab and the report, built from `RunData`.

The TensorBoard routes (`serve.plugin`) and the HTML report (`share`) both
answer from here, so a report shows exactly what the tab shows. Each answer is
built from its declaration in `epochjump.responses` (the one definition of
its fields, which the tab's types are generated from) and returned as a
JSON-ready dict with non-finite floats left as floats (the routes and the
report write them as "NaN"/"Infinity" strings).
"""

import csv
import io

import numpy as np

from epochjump import constants
from epochjump import responses
from epochjump.analysis import comparison
from epochjump.analysis import downsample
from epochjump.analysis import jumps
from epochjump.analysis import records
from epochjump.analysis import validation_gap
from epochjump.analysis.epoch_geometry import EpochGeometry
from epochjump.analysis.epoch_geometry import batches_per_record
from epochjump.words import answer as answer_words
from epochjump.words import numbers
from epochjump.words import runs as run_words
from epochjump.words import sentences
from epochjump.words import table

CSV_HEADER = ("step", "epoch", "wall_time", "batch_value", "running_mean")


def run_summary(run):
    """One entry of the `runs` answer: what a run recorded.

    Args:
      run: `RunData`.

    Returns:
      A `responses.RunInfo` as a dict.
    """
    any_series = run[run.metrics[0]] if run.metrics else None
    return responses.as_json(
        responses.RunInfo(
            run=run.name,
            metrics=list(run.metrics),
            epochs=_num_epochs(run, any_series),
            batches=run.num_batches,
            has_train_eval=run.has_train_eval,
            has_val=run.has_val,
            resolution=run_words.resolution(batches_per_record(any_series)),
            problems=list(run.problems),
        )
    )


def empty_summary(run, problem):
    """The `runs` entry of a run that has no data to show.

    Args:
      run: str, the run name.
      problem: str, why.

    Returns:
      A `responses.RunInfo` as a dict.
    """
    return responses.as_json(
        responses.RunInfo(
            run=run,
            metrics=[],
            epochs=0,
            batches=0,
            has_train_eval=False,
            has_val=False,
            resolution="batch",
            problems=[problem],
        )
    )


def runs_answer(summaries, warning):
    """The `runs` answer.

    Args:
      summaries: list of `run_summary` / `empty_summary` dicts, in order.
      warning: str, what to say about the setup, or None.

    Returns:
      A `responses.RunsResponse` as a dict.
    """
    return responses.as_json(responses.RunsResponse(runs=summaries, warning=warning))


def series_answer(run, series, start=None, end=None, max_points=None):
    """Builds the `series` answer for one metric of a run.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run`.
      start: int or None, the first global step wanted (inclusive).
      end: int or None, the last global step wanted (inclusive).
      max_points: int, or None for every batch in the range.

    Returns:
      A `responses.SeriesResponse` as a dict.
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
    answer = responses.SeriesResponse(
        run=run.name,
        metric=series.name,
        epoch_starts=run.epoch_starts.tolist(),
        range=responses.StepRange(start=range_start, end=range_end),
        total_batches=total,
        downsampled=not isinstance(picks, slice),
        resolution=run_words.resolution(batches_per_record(series)),
        batches=responses.BatchPoints(
            step=batch_steps.tolist(),
            epoch=batch_epochs.tolist(),
            epoch_fraction=geometry.fraction(batch_epochs, batch_steps).tolist(),
            wall_time=series.wall_time[picks].tolist(),
            batch_value=series.batch_value[picks].tolist(),
            running_mean=series.running_mean[picks].tolist(),
        ),
        # The evaluations in the range; a report's zoom cuts the same ones.
        **{
            name: _evals(getattr(series, name), geometry, start, end)
            for name in constants.RANGE_FILTERED_SERIES
            if name != "batches"
        },
        **_chart_marks(run, series, geometry),
    )
    return responses.as_json(answer)


def chart_marks(run, series, geometry=None):
    """The steps the chart marks: learning-rate changes and fit starts.

    Args:
      run: `RunData`.
      series: `MetricData`, one metric of `run` (for the epoch axis).
      geometry: `EpochGeometry` of `series`, or None to build it.

    Returns:
      A dict: `learning_rate` (a `responses.RateMarks` as a dict: the
      learning rate in force from each step on) and `fit_starts` (a
      `responses.StepMarks` as a dict: the first step of each `fit`).
      `epoch_fraction` is where the batch at `step` begins on the epoch axis:
      `e` for the first batch of epoch `e`, on its epoch line.
    """
    if geometry is None:
        geometry = EpochGeometry(series, run.epoch_starts)
    return responses.as_json(_chart_marks(run, series, geometry))


def _chart_marks(run, series, geometry):
    """`chart_marks` as the `responses` dataclasses."""
    rates = _marks(run, geometry, run.learning_rate.step)
    return {
        "learning_rate": responses.RateMarks(
            **rates, value=np.asarray(run.learning_rate.value, np.float64).tolist()
        ),
        "fit_starts": responses.StepMarks(**_marks(run, geometry, run.fit_starts)),
    }


def _marks(run, geometry, steps):
    """Steps to mark on the chart (learning-rate changes, fit starts), each
    placed where its batch begins: on the epoch axis an epoch's first batch
    begins at `e`, on the epoch line, as a step between batches does."""
    steps = np.asarray(steps, np.int64)
    before = steps - 1
    epochs = np.searchsorted(run.epoch_starts, before, side="right") - 1
    return {
        "step": steps.tolist(),
        "epoch_fraction": geometry.fraction(np.maximum(epochs, 0), before).tolist(),
    }


def _evals(evals, geometry, start, end):
    keep = np.ones(len(evals), bool)
    if start is not None:
        keep &= evals.step >= start
    if end is not None:
        keep &= evals.step <= end
    steps, epochs = evals.step[keep], evals.epoch[keep]
    return responses.EvalPoints(
        step=steps.tolist(),
        epoch=epochs.tolist(),
        epoch_fraction=geometry.fraction(epochs, steps).tolist(),
        wall_time=evals.wall_time[keep].tolist(),
        value=evals.value[keep].tolist(),
    )


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
      A `responses.JumpsResponse` as a dict: `answer` holds the at most
      three lines `explain` prints first, `boundaries` one
      `responses.Boundary` per boundary, `epoch_ends` one
      `responses.EpochEndRecord` per recorded epoch, the last included.
    """
    if explanation is None:
        explanation = jumps.explained(run, metric)
    rows = dict(
        zip(
            (end.epoch for end in explanation.epoch_ends),
            table.rows_text(explanation),
        )
    )
    boundaries = [
        responses.Boundary(
            record=jump,
            text=rows[jump.epoch],
            # The tab's chart names the level just after the boundary too.
            level_after_text=numbers.with_error(
                jump.level_after, jump.level_after_stderr
            ),
            detail=sentences.boundary_detail(jump),
        )
        for jump in explanation.jumps
    ]
    answer = responses.JumpsResponse(
        run=run.name,
        metric=metric,
        estimator=jumps.ESTIMATOR,
        answer=answer_words.answer_lines(explanation),
        columns=[
            responses.TableColumn(
                key=column.key, label=column.label, help=column.help, more=column.more
            )
            for column in table.COLUMNS
        ],
        boundaries=boundaries,
        epoch_ends=[
            responses.EpochEndRecord(record=end, text=rows[end.epoch])
            for end in explanation.epoch_ends
        ],
    )
    return responses.as_json(answer)


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
      A `responses.CompareResponse` as a dict, its `runs` in the order given.

    Raises:
      KeyError: if a run has no such metric.
    """
    answer = responses.CompareResponse(
        metric=metric,
        higher_is_better=validation_gap.higher_is_better(metric),
        estimator=jumps.ESTIMATOR,
        runs=[
            _run_entry(run, metric, level_fraction, (explained or {}).get(run.name))
            for run in runs
        ],
    )
    return responses.as_json(answer)


def run_entry(run, metric, level_fraction=jumps.LEVEL_FRACTION, explanation=None):
    """One run's side of the comparison.

    Args:
      run: `epochjump.RunData`.
      metric: str, a metric of `run`.
      level_fraction: float in (0, 1], default 0.1.
      explanation: the metric's `jumps.Explanation`, or None to compute it.

    Returns:
      A `responses.RunComparison` as a dict: its `summary` (see
      `comparison.summarize`), one entry per boundary, and one
      `responses.ValidationGap` per epoch with a recorded `val`.
    """
    return responses.as_json(_run_entry(run, metric, level_fraction, explanation))


def _run_entry(run, metric, level_fraction, explanation):
    """`run_entry` as a `responses.RunComparison`."""
    if explanation is None:
        explanation = jumps.explained(run, metric, level_fraction)
    found = explanation.jumps
    gaps = validation_gap.gaps_at(metric, explanation.epoch_ends)
    boundaries = [
        records.carried_over(
            responses.CompareBoundary,
            jump,
            lag_share_text=numbers.share_text(jump.lag, jump.jump),
        )
        for jump in found
    ]
    validation = [
        responses.ValidationGap(
            record=gap,
            parts_text=responses.PartsText(
                lag=numbers.validation_part(gap.lag, gap.val_gap, gap.lag_stderr),
                **{
                    part: numbers.validation_part(getattr(gap, part), gap.val_gap)
                    for part in ("subset_gap", "mode_gap", "generalisation_gap")
                },
            ),
            sentence=sentences.validation_sentence(gap),
        )
        for gap in gaps
    ]
    summary = comparison.summarize(found)
    total_lag, total_jump = summary.pop("total_lag"), summary.pop("total_jump")
    return responses.RunComparison(
        run=run.name,
        summary=responses.CompareSummary(
            **summary, lag_share_text=numbers.share_text(total_lag, total_jump)
        ),
        boundaries=boundaries,
        validation=validation,
    )


def _num_epochs(run, series):
    if len(run.epoch_starts):
        return len(run.epoch_starts)
    return 1 if series is not None and len(series) else 0
