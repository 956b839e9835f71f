"""Learning-rate changes and fit starts: in the `series` answer and in the pictures.

The runs are built by hand; the expected positions are computed here from the
epoch layout (40 batches per epoch, steps from 1), not through epochjump.
"""

import dataclasses

import numpy as np
import pytest
from support.hand_runs import hand_run

from epochjump import answers
from epochjump.read import run_data as model

BATCHES = 40
EPOCHS = 3


def marks_run(learning_rate, fit_starts):
    """A rising run of 3 epochs of 40 batches, its validation at 0.9, with
    the learning rate `(step, value)` changes and the fit starts given."""
    steps = np.arange(1, EPOCHS * BATCHES + 1)
    values = 0.5 + 0.4 * steps / steps[-1] + 0.02 * np.where(steps % 2, 1.0, -1.0)
    run = hand_run(values.reshape(EPOCHS, BATCHES), [0.9] * EPOCHS, name="marks")
    return dataclasses.replace(
        run,
        learning_rate=model.LearningRate(
            step=np.array([s for s, _ in learning_rate], np.int64),
            value=np.array([v for _, v in learning_rate], float),
        ),
        fit_starts=np.array(fit_starts, np.int64),
    )


@pytest.fixture
def run():
    # Halved at the start of epoch 2 (step 41), again halfway through epoch 2
    # (step 61); a second fit() from epoch 3 on (step 81).
    return marks_run([(1, 1e-3), (41, 5e-4), (61, 2.5e-4)], [1, 81])


def test_series_answer_carries_the_marks(run):
    answer = answers.series_answer(run, run["accuracy"], max_points=10)
    # A mark sits where its batch begins: an epoch's first batch at the
    # epoch line (x = e), batch 61 after 20 of epoch 2's 40 batches.
    assert answer["learning_rate"] == {
        "step": [1, 41, 61],
        "epoch_fraction": [0.0, 1.0, 1.0 + 20 / BATCHES],
        "value": [1e-3, 5e-4, 2.5e-4],
    }
    assert answer["fit_starts"] == {"step": [1, 81], "epoch_fraction": [0.0, 2.0]}
    # The marks cover the whole run, whatever the range asked for.
    zoomed = answers.series_answer(run, run["accuracy"], start=90, end=100)
    assert zoomed["learning_rate"]["step"] == [1, 41, 61]


def test_pictures_draw_the_changes_not_the_first_values(run):
    pytest.importorskip("matplotlib")
    from epochjump.share import panels
    from epochjump.share import plotting

    figure = plotting.draw_figure([run], ["accuracy"], x="step")
    ax = figure.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count(" lr 0.0005") == 1 and texts.count(" lr 0.00025") == 1
    assert " lr 0.001" not in texts
    assert texts.count(" fit") == 1
    lr_lines = [line for line in ax.lines if line.get_color() == panels.LR_MARK]
    assert sorted(line.get_xdata()[0] for line in lr_lines) == [41, 61]
    fit_lines = [line for line in ax.lines if line.get_color() == panels.FIT_MARK]
    assert [line.get_xdata()[0] for line in fit_lines] == [81]
    figure = plotting.draw_figure([run], ["accuracy"], x="epoch")
    lr_lines = [
        line for line in figure.axes[0].lines if line.get_color() == panels.LR_MARK
    ]
    assert sorted(line.get_xdata()[0] for line in lr_lines) == [1.0, 1.5]


def test_a_repeated_rate_is_not_a_change(run):
    pytest.importorskip("matplotlib")
    from epochjump.share import panels
    from epochjump.share import plotting

    same = dataclasses.replace(
        run,
        learning_rate=model.LearningRate(
            step=np.array([1, 41], np.int64), value=np.array([1e-3, 1e-3])
        ),
    )
    figure = plotting.draw_figure([same], ["accuracy"], x="step")
    lines = figure.axes[0].lines
    assert not [line for line in lines if line.get_color() == panels.LR_MARK]


def test_changes_too_close_to_tell_apart_are_one_bar(run):
    pytest.importorskip("matplotlib")
    from epochjump.share import panels
    from epochjump.share import plotting

    # A warm-up that changes the rate at every step from 2 to 20, then one
    # drop at step 61: one bar over steps 2-20, one tick at 61.
    warmup = [(1, 1e-4)] + [(s, 1e-4 * s) for s in range(2, 21)]
    scheduled = dataclasses.replace(
        run,
        learning_rate=model.LearningRate(
            step=np.array([s for s, _ in warmup] + [61], np.int64),
            value=np.array([v for _, v in warmup] + [2.5e-4]),
        ),
    )
    figure = plotting.draw_figure([scheduled], ["accuracy"], x="step")
    ax = figure.axes[0]
    lr_lines = [line for line in ax.lines if line.get_color() == panels.LR_MARK]
    shapes = sorted((list(line.get_xdata()), line.get_linewidth()) for line in lr_lines)
    assert shapes == [([2, 20], 4.0), ([61, 61], 2.0)], shapes
    texts = [t.get_text() for t in ax.texts if t.get_color() == panels.LR_MARK]
    assert sorted(texts) == [" lr 0.0002 → 0.002", " lr 0.00025"], texts


def test_close_groups_splits_at_the_gap():
    from epochjump.share.panels import close_groups

    assert close_groups([], 1.0) == []
    assert close_groups([0.0, 0.5, 0.9, 3.0, 5.0, 5.2], 1.0) == [
        range(0, 3),
        range(3, 4),
        range(4, 6),
    ]
    assert close_groups([0.0, 1.0], 1.0) == [range(0, 1), range(1, 2)]


def test_pictures_draw_the_training_mode_evaluation(run):
    pytest.importorskip("matplotlib")
    from epochjump.share import panels
    from epochjump.share import plotting

    ends = np.array([40, 80, 120], np.int64)
    training_mode = model.EvalSeries(ends, np.arange(3), ends.astype(float), [0.7] * 3)
    series = dataclasses.replace(
        run["accuracy"], train_eval_training_mode=training_mode
    )
    with_mode = dataclasses.replace(run, _series={"accuracy": series})
    ax = plotting.draw_figure([with_mode], ["accuracy"], x="step").axes[0]
    hollow = [
        line
        for line in ax.lines
        if line.get_marker() == "D" and line.get_markerfacecolor() == "none"
    ]
    (line,) = hollow
    assert line.get_xdata().tolist() == [40, 80, 120]
    assert line.get_ydata().tolist() == [0.7] * 3
    assert line.get_markeredgecolor() == panels.TRAIN_EVAL
