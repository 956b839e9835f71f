"""The prose about one boundary (`explain --detail`) and one validation gap.

Runs are built by hand with known numbers; the expected texts are written
here from those numbers with Python's own formatting, not through
epochjump's words.
"""

import math
import re

import pytest
from support.hand_runs import epoch_values
from support.hand_runs import hand_run
from support.hand_runs import rising_run
from support.hand_runs import with_fields

import epochjump
from epochjump import answers
from epochjump import cli
from epochjump.analysis import jumps as analysis
from epochjump.words import sentences


@pytest.fixture(scope="module")
def rising():
    return rising_run()


@pytest.fixture(scope="module")
def first_jump(rising):
    return epochjump.explain(rising, "accuracy")[0]


SHARE = re.compile(r"(-?\d+(?:\.\d+)?)\s*%")


def assert_shares_in_range(text):
    for match in SHARE.finditer(text):
        assert 0 <= float(match.group(1)) <= 100, (match.group(0), text)


def assert_four_decimals(text):
    """Every decimal number is written with 4 decimals (Keras's `.4f`, or
    `.4e` at or below 1e-3), but learning rates ("lr 0.001") and the "2" of
    "2 batch-noise SDs"."""
    text = re.sub(r"learning rate changed from \S+ to \S+", "", text)
    for match in re.finditer(r"\d+\.\d+(e[+-]\d+)?", text):
        number = match.group(0)
        mantissa = number.split("e")[0]
        assert len(mantissa.split(".")[1]) == 4, (number, text)


def at_boundary(jump, step, first_batch_noise=0.01, **fields):
    """A copy of `jump` whose model steps by `step` ± 0.0100 across the
    boundary and whose first batch is `first_batch_noise` off the model's
    level, with a batch-noise SD of 0.0200; `fields` sets more."""
    return with_fields(
        jump,
        boundary_step=step,
        boundary_step_stderr=0.01,
        first_batch_noise=first_batch_noise,
        noise_sd=0.02,
        **fields,
    )


def test_detail_gives_each_number_with_its_error(first_jump):
    j = first_jump
    text = sentences.boundary_detail(j)
    assert text.startswith(
        f"Keras printed {j.reported:.4f} for epoch 1, the mean over all its batches; "
        f"the model's level at the epoch's end was {j.level_at_end:.4f} ± "
        f"{j.lag_stderr:.4f}, and epoch 2 opened at {j.first_next:.4f}, a jump of "
        f"{j.jump:+.4f}."
    )
    assert f"{j.lag:+.4f} ± {j.lag_stderr:.4f}" in text
    assert f"{j.boundary_step:+.4f} ± {j.boundary_step_stderr:.4f}" in text
    assert f"({j.level_after:.4f} ± {j.level_after_stderr:.4f})" in text
    share = j.lag / j.jump
    assert 0 <= share <= 1
    assert f"is {round(100 * share)}% of that jump" in text
    assert_shares_in_range(text)
    assert_four_decimals(text)


def test_lag_larger_than_the_jump_is_said_in_words(first_jump):
    reported, level_at_end, first_next = 0.70, 0.91, 0.82
    j = with_fields(
        first_jump,
        reported=reported,
        level_at_end=level_at_end,
        first_next=first_next,
        jump=first_next - reported,
        lag=level_at_end - reported,
        progress=first_next - level_at_end,
        lag_stderr=0.004,
    )
    text = sentences.boundary_detail(j)
    assert (
        "The lag, +0.2100 ± 0.0040, is larger than the jump, +0.1200: the first "
        "batch of epoch 2 was below the model's level at the end of epoch 1 by "
        "0.0900." in text
    )
    assert "%" not in text.split("Evaluated")[0]


def test_lag_the_other_way_is_said_in_words(first_jump):
    j = with_fields(first_jump, jump=0.12, lag=-0.03, progress=0.15)
    text = sentences.boundary_detail(j)
    assert "points the other way from the jump, +0.1200" in text
    assert "so none of the jump is averaging lag" in text
    assert_shares_in_range(text)


def test_noise_or_real_step_switches_at_two_noise_sds(first_jump):
    within = at_boundary(first_jump, 0.002, first_batch_noise=1.9 * 0.02)
    beyond = at_boundary(first_jump, 0.002, first_batch_noise=2.1 * 0.02)
    said = sentences.rest_clause(within)
    assert said.startswith(
        f"The rest, {first_jump.progress:+.4f}, is one batch's noise"
    )
    assert "0.0380 above the model's level just after the boundary" in said
    assert "within 2 batch-noise SDs (0.0200)" in said
    assert "barely moved across the boundary (+0.0020 ± 0.0100)" in said
    said = sentences.rest_clause(beyond)
    assert "is more than one batch's noise" in said
    assert "0.0420 above the model's level" in said
    assert "the model's real step across the boundary is +0.0020 ± 0.0100" in said
    # A step beyond two standard errors is named even when the batch is ordinary.
    said = sentences.rest_clause(at_boundary(first_jump, 0.05))
    assert "is the model's real step across the boundary, +0.0500 ± 0.0100" in said
    assert "plus one batch's noise" in said


def test_a_learning_rate_change_is_named(first_jump):
    rates = dict(learning_rate_before=0.001, learning_rate_after=0.0005)
    stepped = at_boundary(first_jump, 0.05, **rates)
    said = sentences.boundary_detail(stepped)
    assert (
        "real step across the boundary, +0.0500 ± 0.0100, with the learning rate "
        "changed from 0.001 to 0.0005 at this boundary" in said
    )
    said = sentences.boundary_detail(at_boundary(first_jump, 0.002, **rates))
    assert "though the learning rate changed from 0.001 to 0.0005 there" in said
    same = with_fields(stepped, learning_rate_after=0.001)
    assert "learning rate" not in sentences.boundary_detail(same)


def all_texts(runs):
    """Every text a user reads about `runs`: CLI, answers, captions."""
    from epochjump.share import panels

    texts = [cli.explain_text(run, detail=True) for run in runs]
    for run in runs:
        answer = answers.jumps_answer(run, "accuracy")
        texts += answer["answer"]
        texts += [b["detail"] for b in answer["boundaries"]]
        texts += [t for e in answer["epoch_ends"] for t in e["text"].values()]
        texts.append(panels.caption(analysis.explained(run, "accuracy")))
    compare = answers.compare_answer(runs, "accuracy")
    for entry in compare["runs"]:
        texts.append(entry["summary"]["lag_share_text"])
        texts += [b["lag_share_text"] for b in entry["boundaries"]]
        for v in entry["validation"]:
            texts.append(v["sentence"])
            texts += list(v["parts_text"].values())
    return texts


def test_no_share_outside_0_to_100_anywhere():
    # Rising (lag inside the jump), falling first batches (lag larger than the
    # jump), and a model worse at its epoch's end (lag the other way).
    noisy = [epoch_values(0.5, 0.9), epoch_values(0.75, 0.95), epoch_values(0.95, 0.97)]
    worse = [epoch_values(0.9, 0.6), epoch_values(0.8, 0.85), epoch_values(0.85, 0.86)]
    rising = [
        epoch_values(0.5, 0.9),
        epoch_values(0.93, 0.96),
        epoch_values(0.98, 0.99),
    ]
    runs = [
        hand_run(rising, [0.91, 0.955, 0.97], [0.92, 0.965, 0.985], name="rising"),
        hand_run(noisy, [0.6, 0.7, 0.99], name="noisy"),
        hand_run(worse, [0.95, 0.5, 0.86], [0.7, 0.9, 0.8], name="worse"),
    ]
    shares = [
        j.lag / j.jump for run in runs for j in epochjump.explain(run, "accuracy")
    ]
    assert any(s > 1 for s in shares) and any(s < 0 for s in shares), shares
    for text in all_texts(runs):
        assert_shares_in_range(text)


def test_no_mode_gap_without_a_training_mode_evaluation(first_jump):
    j = with_fields(first_jump, train_eval=0.5, mode_gap=math.nan)
    text = sentences.boundary_detail(j)
    assert text.endswith("the training subset scores 0.5000.")
    assert "nan" not in text.lower()


def test_a_per_step_schedule_is_not_a_boundary_change(first_jump):
    scheduled = at_boundary(
        first_jump,
        0.002,
        learning_rate_before=0.00284,
        learning_rate_after=0.002837,
        learning_rate_scheduled=True,
    )
    assert "learning rate" not in sentences.boundary_detail(scheduled)
