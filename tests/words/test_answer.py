"""The answer first: at most three lines per metric, written from the records' numbers.

The expected lines are written here with Python's formatting from the
numbers of hand-built runs, not through epochjump's words.
"""

import dataclasses
import math
import types

import pytest
from support.hand_runs import epoch_values
from support.hand_runs import hand_run
from support.hand_runs import keras
from support.hand_runs import rising_run
from support.hand_runs import with_fields

from epochjump import answers
from epochjump import cli
from epochjump.analysis import jumps as analysis
from epochjump.share import panels
from epochjump.terminal import progress_text
from epochjump.words import answer


def percent(fraction):
    if 0.995 <= fraction < 1:
        return "over 99%"
    if 0 < fraction < 0.005:
        return "under 1%"
    return f"{fraction:.0%}"


def edited(explanation, **fields_by_epoch):
    """A copy of `explanation` whose jumps have some fields set (all jumps
    for the key "all", else the jump after epoch int(key[1:]))."""
    jumps = []
    for jump in explanation.jumps:
        fields = {**fields_by_epoch.get("all", {})}
        fields.update(fields_by_epoch.get(f"e{jump.epoch}", {}))
        jumps.append(with_fields(jump, **fields))
    return types.SimpleNamespace(
        metric=explanation.metric, epoch_ends=explanation.epoch_ends, jumps=jumps
    )


@pytest.fixture(scope="module")
def rising():
    return analysis.explained(rising_run(), "accuracy")


def expected_first_two(explanation):
    """Lines 1 and 2, written from the records' numbers."""
    jumps = explanation.jumps
    j = max(jumps, key=lambda jump: abs(jump.jump))
    end = explanation.epoch_ends[j.epoch]
    first = (
        f"accuracy {keras(end.reported)} is the average over epoch {j.epoch + 1}; "
        f"the model ended it at {keras(end.level_at_end)} ± "
        f"{keras(end.lag_stderr)} (training mode)."
    )
    total_lag = sum(x.lag for x in jumps)
    total_jump = sum(x.jump for x in jumps)
    total_stderr = math.sqrt(sum(x.lag_stderr**2 for x in jumps))
    second = (
        f"Epoch {j.epoch + 2} opened at {keras(j.first_next)}, a jump of "
        f"{keras(j.jump, '+')}: {percent(j.lag / j.jump)} of it is averaging lag "
        f"({keras(j.lag, '+')} ± {keras(j.lag_stderr)}); over all {len(jumps)} "
        f"jumps, {keras(total_lag, '+')} ± {keras(total_stderr)} of "
        f"{keras(total_jump, '+')} ({percent(total_lag / total_jump)}) is lag."
    )
    return [first, second]


def test_rising_run_answer_in_three_lines(rising):
    lines = answer.answer_lines(rising)
    assert lines[:2] == expected_first_two(rising)
    # No boundary of this run steps beyond 2 standard errors (a line through
    # noisy batches), so the rest is said to show no step and no odd batch.
    for j in rising.jumps:
        assert abs(j.boundary_step) <= 2 * j.boundary_step_stderr, j
    rest = sum(j.progress for j in rising.jumps)
    assert lines[2:] == [
        f"The rest ({keras(rest, '+')}) shows no step of the model beyond 2 "
        "standard errors at any boundary, and no first batch beyond 2 "
        "batch-noise SDs."
    ]


def test_a_real_step_and_a_learning_rate_change_are_named(rising):
    stepped = edited(
        rising,
        all={"learning_rate_before": 0.001, "learning_rate_after": 0.001},
        e0={
            "boundary_step": 0.05,
            "boundary_step_stderr": 0.01,
            "learning_rate_after": 0.0005,
        },
    )
    assert answer.answer_lines(stepped)[2] == (
        "The model itself stepped across boundary 1→2 (+0.0500 ± 0.0100); the "
        "learning rate changed at 1→2 (0.001 to 0.0005)."
    )
    # A per-step schedule: the change at the boundary is not singled out.
    scheduled = edited(
        stepped, all={"learning_rate_scheduled": True, "boundary_step": 0.0}
    )
    third = answer.answer_lines(scheduled)[2]
    assert "changed at" not in third
    assert third.endswith("; the learning rate follows a per-step schedule.")


def test_lag_larger_than_the_jump_or_the_other_way_is_said_in_words(rising):
    larger = edited(rising, all={"lag": 0.3, "jump": 0.2, "progress": -0.1})
    second = answer.answer_lines(larger)[1]
    assert ": the averaging lag, +0.3000 ± " in second
    assert "is larger than it: the first batch came in below the model's level" in (
        second
    )
    assert second.endswith(" of +0.4000 is lag, more than the jumps themselves.")
    other = edited(rising, all={"lag": -0.03, "jump": 0.2, "progress": 0.23})
    second = answer.answer_lines(other)[1]
    assert "none of it is averaging lag (the lag, -0.0300 ± " in second
    assert second.endswith(" of +0.4000 is lag, the other way.")
    assert "%" not in second


def test_a_mode_gap_is_named_when_beyond_two_standard_errors():
    epochs = [epoch_values(0.5, 0.9), epoch_values(0.93, 0.96)]
    run = hand_run(
        epochs,
        val=[0.91, 0.955],
        train_eval=[0.92, 0.965],
        training_mode=[0.85, 0.90],
    )
    explanation = analysis.explained(run, "accuracy")
    last = explanation.epoch_ends[-1]
    assert abs(0.965 - 0.90) > 2 * last.lag_stderr
    assert answer.answer_lines(explanation)[2].endswith(
        "; the mode gap (inference - training mode: dropout, batch norm) is "
        f"{keras(0.965 - 0.90, '+')} after epoch 2."
    )
    # Within what the estimator resolves at the epoch's end: not named.
    small = 0.5 * last.lag_stderr
    run = hand_run(
        epochs,
        val=[0.91, 0.955],
        train_eval=[0.92, 0.965],
        training_mode=[0.85, 0.965 - small],
    )
    assert "mode gap" not in " ".join(
        answer.answer_lines(analysis.explained(run, "accuracy"))
    )


def test_without_a_jump_the_answer_says_so():
    run = hand_run([epoch_values(0.5, 0.9)], val=[0.9])
    explanation = analysis.explained(run, "accuracy")
    (end,) = explanation.epoch_ends
    assert answer.answer_lines(explanation) == [
        f"accuracy {keras(end.reported)} is the average over epoch 1; the model "
        f"ended it at {keras(end.level_at_end)} ± {keras(end.lag_stderr)} "
        "(training mode).",
        "No jump yet: no next epoch recorded.",
    ]
    nothing = types.SimpleNamespace(metric="loss", epoch_ends=[], jumps=[])
    assert answer.answer_lines(nothing) == ["No epoch of loss recorded yet."]


def test_non_finite_jumps_cannot_be_split(rising):
    broken = edited(rising, all={"jump": math.nan, "lag": math.nan})
    lines = answer.answer_lines(broken)
    last = rising.epoch_ends[-1]
    assert lines[0].startswith(
        f"accuracy {keras(last.reported)} is the average over epoch 3;"
    )
    assert lines[1] == (
        "The accuracy jumps are not finite (NaN or infinite values), so they "
        "cannot be split."
    )
    assert len(lines) == 2


def test_every_place_says_the_same_answer(rising):
    run = rising_run()
    lines = answer.answer_lines(rising)
    assert answers.jumps_answer(run, "accuracy")["answer"] == lines
    assert cli.explain_text(run).splitlines()[: len(lines)] == lines
    assert panels.caption(rising).replace("\n", " ") == " ".join(lines)
    # The progress bar's line for that epoch is the first line, with the
    # training subset and val added.
    j = max(rising.jumps, key=lambda jump: abs(jump.jump))
    end = rising.epoch_ends[j.epoch]
    level = types.SimpleNamespace(value=end.level_at_end, stderr=end.lag_stderr)
    (said,) = progress_text.epoch_lines(
        j.epoch + 1,
        {"accuracy": end.reported},
        {"accuracy": level},
        {"accuracy": end.train_eval},
        {"accuracy": end.val},
    )
    assert said == (
        lines[0][:-1] + f", {keras(end.train_eval)} on the training subset in "
        f"inference mode; val {keras(end.val)}"
    )


def test_table_cells_are_the_records_numbers(rising):
    explanation = rising
    rows = answers.jumps_answer(rising_run(), "accuracy")["epoch_ends"]
    for end, row in zip(explanation.epoch_ends, rows):
        record = dataclasses.asdict(end)
        assert row["text"]["printed"] == keras(record["reported"])
        assert row["text"]["level_at_end"] == (
            f"{keras(record['level_at_end'])} ± {keras(record['lag_stderr'])}"
        )
        assert row["text"]["val"] == keras(record["val"])
        assert row["text"]["mode_gap"] == "-"  # No training-mode evaluation.
    assert rows[-1]["text"]["jump"] == "-"


def test_a_first_batch_beyond_two_noise_sds_is_not_called_noise(rising):
    odd = edited(
        rising,
        all={"boundary_step": 0.0, "first_batch_noise": 0.01, "noise_sd": 0.02},
        e1={"first_batch_noise": 0.05},
    )
    rest = sum(j.progress for j in rising.jumps)
    assert answer.answer_lines(odd)[2] == (
        f"The rest ({keras(rest, '+')}) is not a step of the model; the first "
        "batch after 2→3 was more than 2 batch-noise SDs off the model's level."
    )
    named = answer.answer_lines(
        edited(odd, all={"boundary_step": 0.05, "boundary_step_stderr": 0.01})
    )[2]
    assert named == (
        "The model itself stepped across boundaries 1→2 (+0.0500 ± 0.0100), "
        "2→3 (+0.0500 ± 0.0100)."
    )
