"""Checks of what users pass to `Writer`, with errors naming the bad value."""

import numbers
import os

import numpy as np

from epochjump import metadata


def check_writer_arguments(log_dir, flush_secs, max_buffered_batches):
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise ValueError(
            f"`log_dir` must be a non-empty path. Received: log_dir={log_dir!r}"
        )
    if not isinstance(flush_secs, numbers.Real) or not flush_secs > 0:
        raise ValueError(
            f"`flush_secs` must be a positive number. "
            f"Received: flush_secs={flush_secs!r}"
        )
    if not isinstance(max_buffered_batches, int) or max_buffered_batches < 1:
        raise ValueError(
            "`max_buffered_batches` must be a positive int. "
            f"Received: max_buffered_batches={max_buffered_batches!r}"
        )


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


def check_epoch(epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, (numbers.Integral, np.integer)):
        raise ValueError(f"An epoch must be an int. Received: epoch={epoch!r}")
    if epoch < 0:
        raise ValueError(f"An epoch must be >= 0. Received: epoch={epoch!r}")
    return int(epoch)


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


def check_batch_arrays(steps, batch_values, running_means, wall_times, now):
    """Checks `Writer.log_batches`'s arguments; `now` is the default wall time.

    Returns:
      `(steps int64, wall_times float64, {(kind, metric): float64 copy})`.
    """
    steps = np.asarray(steps)
    if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(
            f"`steps` must be a 1-D integer array. Received dtype "
            f"{steps.dtype} and shape {steps.shape}"
        )
    n = len(steps)
    if n and steps.min() < 0:
        raise ValueError(f"Steps must be >= 0. Received: {steps.min()}")
    arrays = {}
    for kind, values in (
        (metadata.BATCH_VALUE, batch_values),
        (metadata.RUNNING_MEAN, running_means),
    ):
        for metric, array in values.items():
            check_metric_name(metric)
            # A copy: the caller may refill its arrays before the flush.
            array = np.array(array, np.float64)
            if array.shape != (n,):
                raise ValueError(
                    f"{kind} for {metric!r} has shape {array.shape}; "
                    f"expected ({n},) like `steps`"
                )
            arrays[(kind, metric)] = array
    if wall_times is None:
        wall_times = np.full(n, now)
    wall_times = np.array(wall_times, np.float64)
    if wall_times.shape != (n,):
        raise ValueError(f"`wall_times` has shape {wall_times.shape}; expected ({n},)")
    return steps.astype(np.int64), wall_times, arrays
