"""Every number as Keras prints it: one rule for values, signs, ±, zero and shares.

The expected strings come from Keras's own progress bar (`keras.utils.Progbar`)
or are written out by hand.
"""

import contextlib
import io
import math
import re

import pytest

from epochjump.terminal import progress_text
from epochjump.words import numbers


def keras_printed(value):
    """What Keras's progress bar prints for a metric of this value."""
    import keras

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bar = keras.utils.Progbar(1, verbose=1, stateful_metrics=["m"])
        bar.update(1, values=[("m", value)], finalize=True)
    return re.search(r"m: (\S+)", out.getvalue()).group(1)


@pytest.mark.parametrize(
    "value", [1.22783, 0.89183, -0.04431, 5e-4, -2.5e-4, 12.5, 1e-3, 0.0, 1e-12]
)
def test_values_as_keras_prints_them(value):
    assert numbers.keras_value(value) == keras_printed(value)
    assert numbers.signed(value).lstrip("+") == keras_printed(value)


def test_zero_reads_the_same_everywhere():
    # Keras prints 0 as 0.0000e+00; so do the values, the errors and the
    # signed parts, and negative zero reads as zero.
    assert keras_printed(0.0) == "0.0000e+00"
    assert numbers.keras_value(-0.0) == "0.0000e+00"
    assert numbers.signed(-0.0) == "+0.0000e+00"
    assert numbers.with_error(0.95, 0.0) == "0.9500 ± 0.0000e+00"
    assert numbers.with_error(-0.0, -0.0, sign=True) == "+0.0000e+00 ± 0.0000e+00"
    assert numbers.cell(-0.0) == "0.0000e+00"
    # The progress bar's live level is the same function.
    assert progress_text.with_live_levels(" - loss: 0.5000", {"loss": -0.0}) == (
        " - loss: 0.5000 (now 0.0000e+00)"
    )


def test_errors_and_cells():
    assert numbers.with_error(0.93124, 0.00411) == "0.9312 ± 0.0041"
    assert numbers.with_error(0.0394, 0.0041, sign=True) == "+0.0394 ± 0.0041"
    assert numbers.with_error(0.5, math.nan) == "0.5000"
    assert numbers.cell(math.nan) == "-"
    assert numbers.cell(0.6869, 0.0329) == "0.6869 ± 0.0329"
    assert numbers.cell(-0.0311, 0.0422, sign=True) == "-0.0311 ± 0.0422"
    assert numbers.cell(6.0329e-4, sign=True) == "+6.0329e-04"
    assert numbers.keras_value(math.inf) == "inf"
    assert numbers.signed(math.nan) == "nan"


def test_only_a_whole_is_100_percent_and_only_nothing_0_percent():
    assert numbers.percent(0.998) == "over 99%"
    assert numbers.percent(0.994) == "99%"
    assert numbers.percent(1.0) == "100%"
    assert numbers.percent(0.003) == "under 1%"
    assert numbers.percent(0.0) == "0%"
    assert numbers.share_text(0.0998, 0.1) == "over 99%"
    with pytest.raises(ValueError, match="fraction=1.2"):
        numbers.percent(1.2)


def test_a_share_outside_0_to_100_is_said_in_words():
    assert numbers.share(0.21, 0.12) is None
    assert numbers.share_text(0.21, 0.12) == "larger than the jump"
    assert numbers.share_text(-0.03, 0.12) == "the other way"
    assert numbers.share_text(0.1, 0.0) == "—"
    assert numbers.validation_part(0.06, 0.0001, 0.003) == (
        "+0.0600 ± 0.0030 (more than the whole gap)"
    )
    assert numbers.validation_part(-0.0799, 0.0001) == "-0.0799 (the other way)"
    assert numbers.validation_part(0.0392, 0.0585, 0.004) == "+0.0392 ± 0.0040 (67%)"


def test_a_zero_part_is_zero_percent_not_minus_zero():
    assert numbers.percent(-0.0) == "0%"
    assert numbers.share_text(-0.0, 0.2) == "0%"
    assert numbers.validation_part(-0.0, 0.2) == "+0.0000e+00 (0%)"


def test_learning_rates_keep_four_significant_digits():
    assert numbers.learning_rate(0.0010000000474974513) == "0.001"
    assert numbers.learning_rate(0.0005) == "0.0005"
    assert numbers.learning_rate(2.837e-05) == "2.837e-05"
