"""Keras's `Progbar` internals, the same in Keras 3 and Keras 2 (`tf_keras`).

Keras 3's `keras.utils.Progbar` and `ProgbarLogger` kept Keras 2's private
names, so one module serves both lines; `tests/record/test_keras_api.py`
checks it on both.
"""

import types

from epochjump.record.keras_api import with_global


class NewBarHook:
    """Mixed into a Keras `ProgbarLogger` (before it): calls
    `progbar_created(bar)` with each `Progbar` the logger creates."""

    def _maybe_init_progbar(self):
        before = self.progbar
        super()._maybe_init_progbar()
        if self.progbar is not before and self.progbar is not None:
            self.progbar_created(self.progbar)

    def progbar_created(self, bar):
        """Called with each new `Progbar`; does nothing here."""


def print_through(bar, make_printer):
    """Makes `bar` print its lines through a printer of ours.

    `Progbar.update` builds each line and hands it to its module's
    `io_utils.print_msg`; `bar` gets a copy of `update` that sees
    `make_printer(io_utils)` as `io_utils`, so every other part of the bar
    stays Keras's own.

    Args:
      bar: a Keras `Progbar`.
      make_printer: function from Keras's `io_utils` module to an object with
        its `print_msg(message, line_break=True)`.

    Returns:
      Keras's `io_utils` module, whose `print_msg` prints as Keras does.
    """
    update = type(bar).update
    io_utils = update.__globals__["io_utils"]
    printer = make_printer(io_utils)
    bar.update = types.MethodType(with_global(update, "io_utils", printer), bar)
    return io_utils


def batches_seen(bar):
    """The bar's batch count, set to `batch + 1` before it prints."""
    return bar._seen_so_far


def last_redraw(bar):
    """When (`time.time()`) the bar last redrew, 0 before it did."""
    return getattr(bar, "_last_update", 0)


def redraw_interval(bar, default):
    """The least time (seconds) between two of the bar's redraws.

    Args:
      bar: a Keras `Progbar`.
      default: float, the answer when the bar does not say.
    """
    return getattr(bar, "interval", default)
