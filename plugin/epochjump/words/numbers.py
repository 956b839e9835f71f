"""Every number epochjump shows: as Keras prints it, with ±, shares only in 0–100%.

One rule for every value, wherever it is shown (the CLI, the progress bar,
the tab's cells, the report and the pictures): Keras's progress bar's own,
4 decimals when `|value| > 1e-3` and 4 decimals in scientific notation
otherwise, so zero reads "0.0000e+00" as on Keras's screen. Negative zero
reads as zero ("0.0000e+00", "+0.0000e+00"), never "-0.0000e+00": its sign
says nothing about the numbers.
"""

import math


def keras_value(value):
    """A value as Keras's progress bar prints it.

    Args:
      value: float.

    Returns:
      str: 4 decimals ("1.2278") when `|value| > 1e-3`, else 4 decimals in
      scientific notation ("5.0000e-04"), as `keras.utils.Progbar` does;
      "nan", "inf" or "-inf" for non-finite values.
    """
    if not math.isfinite(value):
        return str(float(value))
    value = float(value) + 0.0  # -0.0 reads as 0
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def signed(value):
    """`keras_value` with an explicit sign ("+0.0394", "-0.0120").

    Args:
      value: float.

    Returns:
      str.
    """
    if not math.isfinite(value):
        return str(float(value))
    value = float(value) + 0.0  # -0.0 reads as +0
    return f"{value:+.4f}" if abs(value) > 1e-3 else f"{value:+.4e}"


def with_error(value, stderr, sign=False):
    """A value with its standard error, "0.9312 ± 0.0041".

    Args:
      value: float.
      stderr: float; left out when not finite.
      sign: bool, write the value with its sign.

    Returns:
      str.
    """
    text = signed(value) if sign else keras_value(value)
    if math.isfinite(value) and math.isfinite(stderr):
        text += f" ± {keras_value(stderr)}"
    return text


def share(part, whole):
    """`part / whole` when it lies in [0, 1], else None.

    Args:
      part, whole: float.

    Returns:
      float in [0, 1], or None when the ratio is outside it, not finite, or
      `whole` is zero.
    """
    if not (math.isfinite(part) and math.isfinite(whole)) or whole == 0:
        return None
    ratio = part / whole
    return ratio if 0 <= ratio <= 1 else None


def share_text(part, whole, whole_name="jump"):
    """A share for a table cell: "78%" when in 0–100%, else in words.

    Args:
      part, whole: float.
      whole_name: str, what `whole` is called ("jump").

    Returns:
      str: a percentage, "larger than the jump", "the other way", or "—"
      when there is no finite, non-zero whole.
    """
    fraction = share(part, whole)
    if fraction is not None:
        return percent(fraction)
    if not _finite(part, whole) or whole == 0:
        return "—"
    if part * whole > 0:
        return f"larger than the {whole_name}"
    return "the other way" if part != 0 else percent(0.0)


def percent(fraction):
    """A share in [0, 1] as a whole percentage ("78%").

    Only a whole is "100%" and only nothing "0%": a share that would round
    to either reads "over 99%" or "under 1%".

    Args:
      fraction: float in [0, 1].

    Returns:
      str.

    Raises:
      ValueError: if `fraction` is outside [0, 1]: no text shows such a share.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"A share must be in [0, 1]. Received: fraction={fraction!r}")
    if 0.995 <= fraction < 1:
        return "over 99%"
    if 0 < fraction < 0.005:
        return "under 1%"
    return f"{fraction + 0.0:.0%}"  # + 0.0: a share of -0.0 reads "0%", not "-0%"


def learning_rate(value):
    """A learning rate as written in sentences ("0.001", "5e-04")."""
    return f"{value:.4g}"


def validation_part(value, whole, stderr=math.nan):
    """One part of the validation gap with its share, "+0.0392 (67%)".

    Args:
      value: float, the part.
      whole: float, the gap.
      stderr: float, the part's standard error, or NaN.

    Returns:
      str; the share only when it lies in 0–100%, else words.
    """
    text = with_error(value, stderr, sign=True)
    fraction = share(value, whole)
    if fraction is not None:
        return f"{text} ({percent(fraction)})"
    if not _finite(value, whole) or whole == 0 or value == 0:
        return text
    if value * whole < 0:
        return f"{text} (the other way)"
    return f"{text} (more than the whole gap)"


def _finite(*values):
    return all(math.isfinite(v) for v in values)


def cell(value, stderr=math.nan, sign=False):
    """A table cell: the value as Keras prints it, with its ± when it has
    one, or "-" where there is no value.

    Args:
      value: float, NaN where not recorded.
      stderr: float, the standard error, or NaN for none.
      sign: bool, write the value with its sign.

    Returns:
      str, e.g. "0.6869 ± 0.0329", "+0.2704" or "-".
    """
    if math.isnan(value):
        return NO_VALUE
    return with_error(value, stderr, sign)


# What a cell shows where there is no value (the last epoch's jump, no val).
NO_VALUE = "-"
