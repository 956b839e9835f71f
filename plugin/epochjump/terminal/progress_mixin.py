"""What `ProgressBar` adds to Keras's `ProgbarLogger`, for Keras 3 and Keras 2 alike."""

import time
import warnings

from epochjump.record import batch_feed
from epochjump.record import keras_api
from epochjump.record.job import is_chief
from epochjump.record.keras_api import progbar
from epochjump.terminal import epoch_levels
from epochjump.terminal import progress_text

SUMMARIES = ("lines", "line", None)


class ProgressMixin:
    """What `ProgressBar` adds to a Keras `ProgbarLogger` (Keras 3 or 2).

    The level comes from the batch recorder that `EpochJumpCallback` uses too
    (`batch_feed`). With `verbose=1` its rows are read on the training thread
    when Keras's bar is about to redraw (it does every 0.05 s) or 0.05 s
    after the previous read, whichever comes first, so no more than about
    40 reads a second, each one copy of the rows recorded since; otherwise
    only at the epoch's end (and before the recorder's buffer fills up).
    """

    def __init__(
        self, half_life=epoch_levels.DEFAULT_HALF_LIFE, summary="lines", **kwargs
    ):
        if (
            isinstance(half_life, bool)
            or not isinstance(half_life, (int, float))
            or not half_life > 0
        ):
            raise ValueError(
                f"`half_life` must be a positive number of batches. "
                f"Received: half_life={half_life!r}"
            )
        if summary not in SUMMARIES:
            raise ValueError(
                f"`summary` must be one of {SUMMARIES}. Received: summary={summary!r}"
            )
        super().__init__(**kwargs)
        self.half_life = half_life
        self.summary = summary
        self._feed = None
        self._tracker = None
        self._held = None  # Epoch-end lines waiting for the training subset.
        self._warned = set()
        self._live = False
        self._io_utils = None  # Keras's printing, once a bar exists.

    @property
    def async_safe(self):
        """Whether Keras 3 may run the batch-end hooks in a worker thread (it
        does when every callback allows it; never on TensorFlow). On JAX that
        lets the next step start while the logs are read; on PyTorch, whose
        eager steps hold the GIL, the hand-off costs about 5% of a small
        model's fit, so there the hooks run on the training thread, as with
        Keras's own bar. Ours only format, so either way is safe."""
        import keras

        return keras.backend.backend() == "jax"

    def set_model(self, model):
        expected = "tf_keras" if keras_api.is_tf_keras(model) else "keras"
        if expected != self._keras_package:
            raise ValueError(
                f"This ProgressBar is for a `{self._keras_package}` model, but "
                f"the model is a `{expected}` model. Create it with "
                f"`epochjump.ProgressBar(keras_package={expected!r})` (or set "
                "TF_USE_LEGACY_KERAS=1 before creating it, for tf_keras). "
                f"Received: model of type {type(model).__module__}."
                f"{type(model).__name__}"
            )
        super().set_model(model)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._close_feed()
        self._held = None
        if not is_chief(self.model):
            # Other workers of a multi-worker strategy print nothing.
            self.verbose = 0
            return
        if not self.verbose:
            return
        self._guard(self._open_feed)

    def _open_feed(self):
        self._feed = batch_feed.subscribe(self.model, self)
        self._feed.on_eval(self._on_shared_eval)
        self._tracker = epoch_levels.LevelTracker(self.half_life)
        self._steps_per_call = keras_api.for_model(self.model).steps_per_execution(
            self.model
        )
        self._unread = 0
        self._last_begin = self._last_read = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self._print_held()
        if self._tracker is not None:
            self._tracker.start_epoch()
        self._live = True
        super().on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self._feed is None:
            return
        self._unread += self._steps_per_call
        now = time.time()
        call_time, self._last_begin = now - self._last_begin, now
        if self._unread + self._steps_per_call > self._feed.capacity or (
            self.verbose == 1
            and (
                now - self._last_read >= _INTERVAL or self._display_due(now + call_time)
            )
        ):
            self._guard(self._read)

    def _display_due(self, call_end):
        """Whether Keras's bar will redraw after this call (ends about one call
        later): read just before it, not at every batch."""
        bar = self.progbar
        interval = progbar.redraw_interval(bar, _INTERVAL)
        return call_end - progbar.last_redraw(bar) >= interval

    def on_epoch_end(self, epoch, logs=None):
        self._live = False
        if self._feed is not None:
            self._guard(self._read)
        super().on_epoch_end(epoch, logs)
        if self._feed is not None and self.summary:
            self._guard(self._explain_epoch, epoch, dict(logs or {}))

    def on_train_end(self, logs=None):
        self._print_held()
        self._close_feed()
        super().on_train_end(logs)

    def _read(self):
        batches = self._feed.read()
        self._unread = 0
        self._last_begin = self._last_read = time.time()
        if batches.lost:
            self._warn_once("lost", f"{batches.lost} batches were overwritten unread")
        self._tracker.add(batches.batch_values)

    def _explain_epoch(self, epoch, logs):
        reported = {k: float(v) for k, v in logs.items() if _is_number(v)}
        val = {k[4:]: v for k, v in reported.items() if k.startswith("val_")}
        held = (epoch, reported, self._tracker.epoch_ends(), val)
        if "train_eval" in self._feed.shared_kinds() and (
            self._feed.eval_for("train_eval", epoch) is None
        ):
            # EpochJumpCallback evaluates the training subset in its own
            # on_epoch_end, which may come after ours: print when it arrives.
            self._held = held
        else:
            self._print_epoch(*held)

    def _on_shared_eval(self, kind, epoch, values):
        if kind == "train_eval" and self._held and self._held[0] == epoch:
            self._print_held()

    def _print_held(self):
        held, self._held = self._held, None
        if held is not None:
            self._guard(self._print_epoch, *held)

    def _print_epoch(self, epoch, reported, ends, val):
        lines = progress_text.epoch_lines(
            epoch + 1,
            reported,
            ends,
            self._feed.eval_for("train_eval", epoch),
            val,
            compact=self.summary == "line",
        )
        for line in lines:
            if self._io_utils is not None:
                self._io_utils.print_msg(line)

    def progbar_created(self, bar):
        """Has Keras's new bar print its lines through a `_LivePrinter`,
        which adds the live levels; every other part of the bar is Keras's."""
        self._guard(self._print_through, bar)

    def _print_through(self, bar):
        self._io_utils = progbar.print_through(
            bar, lambda io_utils: _LivePrinter(self, bar, io_utils)
        )

    def _close_feed(self):
        if self._feed is not None:
            self._feed.close()
        self._feed = None

    def _guard(self, function, *args):
        """Runs `function`; a failure becomes one warning, never a crash of
        the training run."""
        try:
            function(*args)
        except Exception as e:  # noqa: BLE001 - anything but a crash.
            name = getattr(function, "__name__", "progress bar")
            self._warn_once(name, f"the progress bar's {name} failed: {e!r}")

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"epochjump: {message}", RuntimeWarning, stacklevel=3)


class _LivePrinter:
    """Stands in for Keras's `io_utils` inside one bar's `update`."""

    def __init__(self, owner, bar, io_utils):
        self._owner = owner
        self._bar = bar
        self._io_utils = io_utils
        self._width = 0  # Columns the previous line took, ours included.

    def print_msg(self, message, line_break=True):
        owner = self._owner
        if owner._live and owner._tracker is not None:
            try:
                levels = owner._tracker.live_at(progbar.batches_seen(self._bar) - 1)
                message = progress_text.with_live_levels(message, levels)
            except Exception as e:  # noqa: BLE001 - print Keras's line anyway.
                owner._warn_once("live", f"the live level failed: {e!r}")
        width = progress_text.visible_width(message)
        if width < self._width and "\r" in message:
            # Keras pads over its own previous line; ours was longer.
            pad = " " * (self._width - width)
            message = (
                message[:-1] + pad + "\n" if message.endswith("\n") else message + pad
            )
        self._width = 0 if message.endswith("\n") else max(width, self._width)
        self._io_utils.print_msg(message, line_break=line_break)

    def __getattr__(self, name):
        return getattr(self._io_utils, name)


# Keras's bar redraws at most this often (`Progbar(interval=0.05)`).
_INTERVAL = 0.05


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
