"""The words epochjump says (sentences, headline, why-paragraph, tables, CLI).

Runs are built by hand with known numbers; the expected texts are written
here from those numbers with Python's own formatting (and Keras's progress
bar, for "as Keras prints it"), not through epochjump's wording.
"""

import dataclasses
import io
import math
import re
import types

import numpy as np
import pytest

import epochjump
from epochjump import answers
from epochjump import cli
from epochjump.analysis import jumps as analysis
from epochjump.analysis import sentences
from epochjump.analysis import validation_gap
from epochjump.analysis import wording
from epochjump.read import run_data as model

BATCHES = 40
# Alternating batch noise around a line: the level estimates stay near the line.
NOISE = 0.02


def epoch_values(start, stop):
    ramp = np.linspace(start, stop, BATCHES)
    return ramp + NOISE * np.where(np.arange(BATCHES) % 2, 1.0, -1.0)


def evals(steps, values):
    steps = np.asarray(steps, np.int64)
    return model.EvalSeries(
        step=steps,
        epoch=np.arange(len(steps), dtype=np.int64),
        wall_time=steps.astype(float),
        value=np.asarray(values, float),
    )


def hand_run(epochs, val, train_eval=None, name="hand"):
    """A run of one metric ("accuracy") from per-epoch batch values, with
    Keras-style running means, one `val` per epoch (the last included)."""
    steps, epoch_ids, values, means = [], [], [], []
    for e, batch_values in enumerate(epochs):
        total = 0.0
        for i, value in enumerate(batch_values):
            steps.append(len(steps) + 1)
            epoch_ids.append(e)
            values.append(float(value))
            total += float(value)
            means.append(total / (i + 1))
    steps = np.array(steps, np.int64)
    epoch_ids = np.array(epoch_ids, np.int64)
    ends = [int(steps[epoch_ids == e][-1]) for e in range(len(epochs))]
    empty = evals([], [])
    series = model.MetricData(
        name="accuracy",
        step=steps,
        epoch=epoch_ids,
        wall_time=steps.astype(float),
        batch_value=np.array(values),
        running_mean=np.array(means),
        train_eval=evals(ends, train_eval) if train_eval else empty,
        val=evals(ends, val),
    )
    starts = np.array([int(steps[epoch_ids == e][0]) for e in range(len(epochs))])
    return model.RunData(
        name=name,
        metrics=("accuracy",),
        epoch_starts=starts,
        problems=(),
        _series={"accuracy": series},
    )


@pytest.fixture(scope="module")
def rising():
    """Three epochs of a rising accuracy: the running mean trails the model."""
    epochs = [
        epoch_values(0.5, 0.9),
        epoch_values(0.93, 0.96),
        epoch_values(0.98, 0.99),
    ]
    return hand_run(epochs, val=[0.91, 0.955, 0.97], train_eval=[0.92, 0.965, 0.985])


@pytest.fixture(scope="module")
def first_jump(rising):
    return epochjump.explain(rising, "accuracy")[0]


def with_fields(base, **fields):
    """A copy of the `Jump` `base` with some fields set (the attributes the
    sentences read)."""
    record = (
        dict(vars(base))
        if isinstance(base, types.SimpleNamespace)
        else (dataclasses.asdict(base))
    )
    record.update(fields)
    return types.SimpleNamespace(**record)


def keras_printed(value):
    """What Keras's progress bar prints for a metric of this value."""
    import keras

    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        bar = keras.utils.Progbar(1, verbose=1, stateful_metrics=["m"])
        bar.update(1, values=[("m", value)], finalize=True)
    return re.search(r"m: (\S+)", out.getvalue()).group(1)


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


@pytest.mark.parametrize("value", [1.22783, 0.89183, -0.04431, 5e-4, -2.5e-4, 12.5])
def test_values_as_keras_prints_them(value):
    assert wording.keras_value(value) == keras_printed(value)
    assert wording.signed(value).lstrip("+") == keras_printed(value)


def test_sentence_gives_each_number_with_its_error(first_jump):
    j = first_jump
    text = j.sentence
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
    j = with_fields(
        first_jump,
        reported=0.70,
        level_at_end=0.91,
        first_next=0.82,
        jump=0.12,
        lag=0.21,
        progress=-0.09,
        lag_stderr=0.004,
    )
    text = sentences.jump_sentence(j)
    assert (
        "The lag, +0.2100 ± 0.0040, is larger than the jump, +0.1200: the first "
        "batch of epoch 2 was below the model's level at the end of epoch 1 by "
        "0.0900." in text
    )
    assert "%" not in text.split("Evaluated")[0]
    paragraph = sentences.summary_paragraph("accuracy", [j])
    assert "That lag, +0.2100, is even larger than the jump, +0.1200." in paragraph
    assert_shares_in_range(paragraph)


def test_lag_the_other_way_is_said_in_words(first_jump):
    j = with_fields(first_jump, jump=0.12, lag=-0.03, progress=0.15)
    text = sentences.jump_sentence(j)
    assert "points the other way from the jump, +0.1200" in text
    assert "so none of the jump is averaging lag" in text
    assert_shares_in_range(text)


def test_noise_or_real_step_switches_at_two_noise_sds(first_jump):
    quiet = dict(boundary_step=0.002, boundary_step_stderr=0.01, noise_sd=0.02)
    within = with_fields(first_jump, first_batch_noise=1.9 * 0.02, **quiet)
    beyond = with_fields(first_jump, first_batch_noise=2.1 * 0.02, **quiet)
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
    stepped = with_fields(
        first_jump,
        first_batch_noise=0.01,
        noise_sd=0.02,
        boundary_step=0.05,
        boundary_step_stderr=0.01,
    )
    said = sentences.rest_clause(stepped)
    assert "is the model's real step across the boundary, +0.0500 ± 0.0100" in said
    assert "plus one batch's noise" in said


def test_a_learning_rate_change_is_named(first_jump):
    stepped = with_fields(
        first_jump,
        first_batch_noise=0.01,
        noise_sd=0.02,
        boundary_step=0.05,
        boundary_step_stderr=0.01,
        learning_rate_before=0.001,
        learning_rate_after=0.0005,
    )
    said = sentences.jump_sentence(stepped)
    assert (
        "real step across the boundary, +0.0500 ± 0.0100, with the learning rate "
        "changed from 0.001 to 0.0005 at this boundary" in said
    )
    quiet = with_fields(
        stepped, boundary_step=0.002, first_batch_noise=0.01, noise_sd=0.02
    )
    said = sentences.jump_sentence(quiet)
    assert "though the learning rate changed from 0.001 to 0.0005 there" in said
    same = with_fields(stepped, learning_rate_after=0.001)
    assert "learning rate" not in sentences.jump_sentence(same)
    # The headline names the boundary where it changed.
    headline = sentences.headline("accuracy", [stepped, with_fields(same, epoch=1)])
    assert headline.endswith("; the learning rate changed at 1→2 (0.001 to 0.0005).")
    assert "the model really stepped across boundaries 1→2, 2→3" in headline


def test_seed_question_gets_one_paragraph(first_jump):
    j = with_fields(
        first_jump,
        reported=0.8918,
        level_at_end=0.9312,
        first_next=0.9424,
        jump=0.9424 - 0.8918,
        lag=0.9312 - 0.8918,
        progress=0.9424 - 0.9312,
        lag_stderr=0.0041,
        level_after=0.9350,
        first_batch_noise=0.9424 - 0.9350,
        boundary_step=0.9350 - 0.9312,
        boundary_step_stderr=0.006,
        noise_sd=0.02,
    )
    text = sentences.summary_paragraph("accuracy", [j])
    assert "\n" not in text
    assert text.startswith(
        "Why does accuracy read 0.8918 at the end of epoch 1 but 0.9424 on the "
        "first batch of epoch 2? The number Keras prints during an epoch is the "
        "mean over all of that epoch's batches so far, and it starts afresh each "
        "epoch."
    )
    assert "already at about 0.9312 ± 0.0041" in text
    assert f"Of the +0.0506 jump, +0.0394 ({round(100 * 0.0394 / 0.0506)}%)" in text
    assert "one batch's noise" in text
    assert "not a sudden change in the model" in text
    assert_shares_in_range(text)
    assert_four_decimals(text)


def test_headline_over_all_boundaries(rising):
    found = epochjump.explain(rising, "accuracy")
    text = sentences.headline("accuracy", found)
    lag = math.fsum(j.lag for j in found)
    jump = math.fsum(j.jump for j in found)
    assert text.startswith(
        f"Averaging lag makes up {round(100 * lag / jump)}% of the accuracy jumps "
        f"({lag:+.4f} of {jump:+.4f}, summed over 2 boundaries)"
    )
    larger = [with_fields(j, lag=j.jump * 1.5, progress=-j.jump * 0.5) for j in found]
    text = sentences.headline("accuracy", larger)
    assert "is larger than the accuracy jumps themselves" in text
    assert_shares_in_range(text)
    assert sentences.headline("accuracy", [], 0.5) == (
        "One epoch of accuracy recorded: Keras printed 0.5000; no jump yet."
    )


def test_validation_parts_never_show_a_share_outside_0_to_100():
    gap = validation_gap.ValidationGap(
        metric="accuracy",
        epoch=1,
        last_step=40,
        reported=0.77,
        level_at_end=0.83,
        train_eval=0.85,
        val=0.7701,
        val_gap=0.0001,
        lag=0.06,
        mode_gap=0.02,
        generalisation_gap=-0.0799,
        higher_is_better=True,
        lag_stderr=0.003,
    )
    text = gap.sentence
    assert "Averaging lag: +0.0600 ± 0.0030 (more than the whole gap)" in text
    assert "+0.0200 (more than the whole gap)" in text
    assert "-0.0799 (the other way)" in text
    assert "%" not in text
    parts = gap.as_dict()["parts_text"]
    assert parts["lag"] == "+0.0600 ± 0.0030 (more than the whole gap)"
    assert parts["generalisation_gap"] == "-0.0799 (the other way)"


def all_texts(runs):
    """Every text a user reads about `runs`: CLI, answers, captions."""
    from epochjump.share import panels

    texts = [cli.explain_text(run) for run in runs]
    for run in runs:
        answer = answers.jumps_answer(run, "accuracy")
        texts += [answer["headline"], answer["summary_paragraph"]]
        texts += [b["sentence"] for b in answer["boundaries"]]
        found = epochjump.explain(run, "accuracy")
        texts.append(panels.headline("accuracy", found))
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


def test_cli_headline_then_paragraph_then_table_with_the_last_epoch(rising):
    out = cli.explain_text(rising)
    block = out.split("== accuracy ==\n")[1]
    found = epochjump.explain(rising, "accuracy")
    ends = analysis.epoch_ends(rising, "accuracy")
    headline = sentences.headline("accuracy", found)
    assert block.startswith(headline.split()[0])
    assert " ".join(block.split("\n\n")[0].split()) == headline
    assert " ".join(block.split("\n\n")[1].split()).startswith("Why does accuracy read")
    table = block.split("\n\n")[2].splitlines()
    assert table[0].split()[:4] == ["epoch", "printed", "level", "at"]
    assert len(table) == 1 + 3
    last = table[3].split()
    end = ends[-1]
    assert last[:5] == [
        "3",
        f"{end.reported:.4f}",
        f"{end.level_at_end:.4f}",
        "±",
        f"{end.lag_stderr:.4f}",
    ]
    assert last[-1] == "0.9700"  # The last epoch's validation.
    first = table[1].split()
    j = found[0]
    assert first[5:11] == [
        f"{j.first_next:.4f}",
        f"{j.jump:+.4f}",
        f"{j.lag:+.4f}",
        "±",
        f"{j.lag_stderr:.4f}",
        f"{j.boundary_step:+.4f}",
    ]
    assert "- Keras printed" in block
    assert_shares_in_range(out)


def test_jumps_answer_carries_the_words_and_the_last_epoch(rising):
    answer = answers.jumps_answer(rising, "accuracy")
    found = epochjump.explain(rising, "accuracy")
    assert answer["headline"] == sentences.headline("accuracy", found)
    assert answer["summary_paragraph"] == sentences.summary_paragraph("accuracy", found)
    assert [e["epoch"] for e in answer["epoch_ends"]] == [0, 1, 2]
    assert answer["epoch_ends"][-1]["val"] == 0.97
    assert "metric" not in answer["epoch_ends"][0]


def test_only_a_whole_is_100_percent_and_only_nothing_0_percent():
    assert wording.percent(0.998) == "over 99%"
    assert wording.percent(0.994) == "99%"
    assert wording.percent(1.0) == "100%"
    assert wording.percent(0.003) == "under 1%"
    assert wording.percent(0.0) == "0%"
    assert wording.share_text(0.0998, 0.1) == "over 99%"


def test_a_zero_part_is_zero_percent_not_minus_zero():
    assert wording.percent(-0.0) == "0%"
    assert wording.share_text(-0.0, 0.2) == "0%"
    assert wording.validation_part(-0.0, 0.2) == "+0.0000e+00 (0%)"


def test_no_mode_gap_without_a_training_mode_evaluation(first_jump):
    j = with_fields(first_jump, train_eval=0.5, mode_gap=math.nan)
    text = sentences.jump_sentence(j)
    assert text.endswith("the training subset scores 0.5000.")
    assert "nan" not in text.lower()


def test_a_per_step_schedule_is_not_a_boundary_change(first_jump):
    scheduled = with_fields(
        first_jump,
        first_batch_noise=0.01,
        noise_sd=0.02,
        boundary_step=0.002,
        boundary_step_stderr=0.01,
        learning_rate_before=0.00284,
        learning_rate_after=0.002837,
        learning_rate_scheduled=True,
    )
    assert "learning rate" not in sentences.jump_sentence(scheduled)
    headline = sentences.headline("loss", [scheduled, with_fields(scheduled, epoch=1)])
    assert "the learning rate changed at" not in headline
    assert headline.endswith(
        "; the learning rate follows a per-step schedule, changing inside the "
        "epochs as well as at their boundaries."
    )
