"""Checks of what users pass to `Writer`, with errors naming the bad value."""

import numbers

import numpy as np


def check_step(step):
    if type(step) is int and step >= 0:  # The common case, without ABC checks.
        return step
    if isinstance(step, bool) or not isinstance(step, (numbers.Integral, np.integer)):
        raise ValueError(f"A step must be an int. Received: step={step!r}")
    if step < 0:
        raise ValueError(f"A step must be >= 0. Received: step={step!r}")
    return int(step)


def check_number(value, argument):
    """`value` as a float; NaN and Inf are numbers too."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"`{argument}` must be a number. Received: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{argument}` must be a number. Received: {value!r}"
        ) from None


def check_metric_name(metric):
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"Metric names must be non-empty str. Received: {metric!r}")
    if metric.startswith("val_"):
        raise ValueError(
            f"Metric names are logged without the `val_` prefix; use "
            f"log_eval('val', ...) for validation. Received: {metric!r}"
        )


def check_values(values, argument):
    if not isinstance(values, dict) or not values:
        raise ValueError(
            f"`{argument}` must be a non-empty dict from metric name to number. "
            f"Received: {argument}={values!r}"
        )
    checked = {}
    for metric, value in values.items():
        check_metric_name(metric)
        try:
            checked[metric] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"`{argument}[{metric!r}]` must be a number. Received: {value!r}"
            ) from None
    return checked
