"""The pictures (`epochjump.plot`, `epochjump export -o x.png`) draw the
model's level ± stderr at each epoch edge as the tab does: a box reaching back
from each epoch's last batch, and one reaching forward from the next epoch's
first, with a line at the level; the legend names it."""

import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from support.hand_runs import rising_run

import epochjump
from epochjump.analysis import jumps
from epochjump.share import panels


def test_level_boxes_at_each_epoch_edge():
    run = rising_run()  # 3 epochs of 40 batches: steps 1..120
    figure = epochjump.plot(run, metric="accuracy", x="step")
    (ax,) = figure.axes
    width = (120 - 1) * 22 / 960  # the tab's 22 px of about 960
    expected = [
        (end.last_step - width, end.level_at_end, end.lag_stderr)
        for end in jumps.epoch_ends(run, "accuracy")
    ] + [
        (j.first_next_step, j.level_after, j.level_after_stderr)
        for j in epochjump.explain(run, "accuracy")
    ]
    expected.sort()
    assert len(expected) == 5
    fill = to_rgba(panels.LEVEL, 0.22)
    boxes = sorted(
        (
            p
            for p in ax.patches
            if isinstance(p, Rectangle) and p.get_facecolor() == fill
        ),
        key=Rectangle.get_x,
    )
    lines = sorted(
        (line for line in ax.lines if line.get_color() == panels.LEVEL),
        key=lambda line: min(line.get_xdata()),
    )
    assert len(boxes) == len(lines) == len(expected)
    for (left, level, stderr), box, line in zip(expected, boxes, lines):
        assert stderr > 0
        assert box.get_x() == pytest.approx(left)
        assert box.get_width() == pytest.approx(width)
        assert box.get_y() == pytest.approx(level - stderr)
        assert box.get_height() == pytest.approx(2 * stderr)
        assert sorted(line.get_xdata()) == pytest.approx([left, left + width])
        assert list(line.get_ydata()) == pytest.approx([level, level])
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "model level ± stderr" in legend
