"""`EpochJumpCallback`: records what Keras hides behind its epoch averages."""

import atexit
import functools
import os
import time
import warnings

import keras
import numpy as np

from epochjump.record import batch_feed
from epochjump.record import job
from epochjump.record import learning_rate
from epochjump.record import signals
from epochjump.record import train_eval
from epochjump.record.writer import Writer


def _never_raises(hook):
    """Turns a failure during training into one warning: logging must never
    end a user's training run."""

    @functools.wraps(hook)
    def guarded(self, *args, **kwargs):
        try:
            return hook(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - anything but a crash.
            self._warn_once(hook.__name__, f"{hook.__name__} failed: {e!r}")

    return guarded


class EpochJumpCallback(keras.callbacks.Callback):
    """Records why Keras metrics jump between epochs, for TensorBoard.

    Per batch it records each metric's value for that batch alone and the
    running mean Keras reports; per epoch, where it starts, the validation
    values, and (with `train_eval_data`) the metrics of a fixed training subset
    evaluated after the epoch twice with the epoch-end weights: in inference
    mode (`model.evaluate`) and in training mode (dropout active, batch norm
    on batch statistics). Neither evaluation changes the run: batch-norm
    statistics, seed generators, metric states and the global random
    generators are restored afterwards, so `History` is the same as without
    the callback. It also records the learning rate where it changes and the
    step where each `fit()` call starts. Open TensorBoard's "Epoch Jump" tab,
    or run `epochjump explain LOG_DIR`.

    ```python
    cb = epochjump.EpochJumpCallback(
        "logs/run1", train_eval_data=(x_train[:2048], y_train[:2048])
    )
    model.fit(x_train, y_train, epochs=10, validation_data=(x_val, y_val),
              callbacks=[cb])
    ```

    Steps are the optimizer's iteration count, so repeated `fit()` calls (with
    this callback or a new one on the same `log_dir`) continue one timeline.

    In a job of several processes (a multi-worker `tf.distribute` strategy,
    or JAX processes under a `keras.distribution`), give every process the
    callback with the same `log_dir`: the values are the global batch's, and
    only the chief (`epochjump.record.job.is_chief`) writes.

    Args:
      log_dir: str or os.PathLike, the run directory (TensorBoard shows it as
        one run).
      train_eval_data: optional data evaluated after every epoch, with
        `model.evaluate` and in training mode on the same batches: a tuple
        `(x, y)` or `(x, y, sample_weight)`, a `tf.data.Dataset`, or a
        `keras.utils.PyDataset`. Use the same data every epoch (a fixed subset
        of the training data). The training-mode evaluation is skipped (with a
        warning) for models with their own `test_step`, models replicated by
        a `tf.distribute` strategy, and models distributed over several
        processes by `keras.distribution` (JAX).
      train_eval_steps: optional int, passed to `evaluate(steps=...)`.
      train_eval_batch_size: optional int, passed to
        `evaluate(batch_size=...)` for array data; default Keras's 32.
      flush_secs: float, default 10. Batch data reaches the event file at
        most this many seconds after the batch, and at every epoch end.
    """

    # Our batch hook is on_train_batch_begin, which Keras calls synchronously
    # and which does not turn off Keras's asynchronous batch-end dispatch.
    async_safe = True
    # Keras 2 (tf_keras) asks callbacks which hooks they implement, and
    # converts batch logs to numpy (a sync per batch) unless all take tensors.
    _supports_tf_logs = True

    def _implements_train_batch_hooks(self):
        return True

    def _implements_test_batch_hooks(self):
        return False

    def _implements_predict_batch_hooks(self):
        return False

    def __init__(
        self,
        log_dir,
        train_eval_data=None,
        train_eval_steps=None,
        train_eval_batch_size=None,
        flush_secs=10.0,
    ):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(
                f"`log_dir` must be a non-empty path. Received: log_dir={log_dir!r}"
            )
        if not isinstance(flush_secs, (int, float)) or not flush_secs > 0:
            raise ValueError(
                f"`flush_secs` must be a positive number. "
                f"Received: flush_secs={flush_secs!r}"
            )
        for name, value in (
            ("train_eval_steps", train_eval_steps),
            ("train_eval_batch_size", train_eval_batch_size),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(
                    f"`{name}` must be a positive int or None. "
                    f"Received: {name}={value!r}"
                )
        self.log_dir = os.fspath(log_dir)
        self.train_eval_data = _check_train_eval_data(train_eval_data)
        self.train_eval_steps = train_eval_steps
        self.train_eval_batch_size = train_eval_batch_size
        self.flush_secs = float(flush_secs)
        self._writer = None
        self._recorder = None
        self._warned = set()
        self._call_begins = []  # (batch index in epoch, time) per train call
        self._train_end_time = None  # When validation began, if it did.
        self._last_flush = 0.0
        self._epoch_first_step = None
        self._schedule = None  # The optimizer's LearningRateSchedule, if any.
        self._fit_started = False

    def on_train_begin(self, logs=None):
        # Errors here (unwritable log_dir, another writer recording into it,
        # unsupported model) stop `fit` before the first batch, which is when
        # they are cheapest to fix; in a multi-process job, see _open_writer.
        if self._writer is not None:
            self._finish()  # The previous fit was interrupted (Ctrl-C).
        self._writer = self._open_writer()
        # Shared with epochjump.ProgressBar; rows recorded before are skipped.
        self._recorder = batch_feed.subscribe(
            self.model, self, shares=("train_eval",) if self.train_eval_data else ()
        )
        # Read once: on JAX, each `self.model` syncs the whole training state.
        self._steps_per_call = getattr(self.model, "steps_per_execution", 1) or 1
        self._last_flush = time.monotonic()
        self._schedule = learning_rate.schedule_of(self.model.optimizer)
        self._fit_started = False  # Marked with the first epoch's start step.
        # Keras calls no hook when fit is interrupted; flush at exit instead,
        # and on SIGTERM (whose default action skips atexit).
        atexit.register(self._finish)
        signals.add_source(self._flush_batches)

    def _open_writer(self):
        if not job.is_chief(self.model):
            # The other processes of a job run the same (collective) steps
            # and evaluations, but only the chief writes.
            return _DiscardingWriter()
        writer = Writer(self.log_dir, flush_secs=self.flush_secs)
        try:
            writer.open()
        except Exception as e:
            if job.processes(self.model) == 1:
                raise
            # Raising would stop the chief alone, and leave the job's other
            # processes waiting for it at their next collective step.
            self._warn_once(
                "open",
                f"cannot record into {self.log_dir!r} ({e!r}); the job "
                "trains on and this run records nothing",
            )
            return _DiscardingWriter()
        return writer

    @_never_raises
    def on_epoch_begin(self, epoch, logs=None):
        self._call_begins = []
        self._train_end_time = None
        self._epoch_first_step = self._iterations() + 1
        if not self._fit_started:
            self._fit_started = True
            self._writer.start_fit(self._epoch_first_step)
        self._writer.start_epoch(self._epoch_first_step, epoch=epoch)

    def on_train_batch_begin(self, batch, logs=None):
        now = time.monotonic()
        self._call_begins.append((batch, time.time()))
        if batch == 0 and self._schedule is None:
            # After every callback's on_epoch_begin (LearningRateScheduler's).
            self._log_learning_rate(self._epoch_first_step)
        if (
            now - self._last_flush >= self.flush_secs
            or (len(self._call_begins) + 1) * self._steps_per_call
            > self._recorder.capacity
        ):
            self._flush_batches_before_call()

    def on_test_begin(self, logs=None):
        # Keras validates with this callback list right after an epoch's last
        # batch: the best clock for that batch's end (on_epoch_end comes after
        # validation).
        if self._writer is not None and self._call_begins:
            self._train_end_time = time.time()

    @_never_raises
    def on_epoch_end(self, epoch, logs=None):
        self._flush_batches()
        step = self._iterations()
        logs = logs or {}
        val = {
            k[4:]: v for k, v in logs.items() if k.startswith("val_") and _is_scalar(v)
        }
        if val:
            self._writer.log_eval("val", step, val)
        if self.train_eval_data is not None:
            inference, training_mode, problem = train_eval.evaluate_train_subset(
                self.model,
                self.train_eval_data,
                steps=self.train_eval_steps,
                batch_size=self.train_eval_batch_size,
            )
            self._writer.log_eval("train_eval", step, inference)
            self._recorder.share_eval("train_eval", epoch, inference)
            if training_mode:
                self._writer.log_eval("train_eval_training_mode", step, training_mode)
            if problem:
                self._warn_once("training_mode", problem)
        self._writer.flush_or_warn()

    @_never_raises
    def on_train_end(self, logs=None):
        self._finish()

    def _finish(self):
        """Writes what is left and closes the writer; safe to call twice."""
        atexit.unregister(self._finish)
        signals.remove_source(self._flush_batches)
        writer = self._writer
        if writer is None:
            return
        try:
            self._flush_batches()
        finally:
            self._writer = None
            if self._recorder is not None:
                self._recorder.close()
            writer.close_or_warn()  # An outage has warned once.

    def _flush_batches(self):
        """Moves the recorded batches from the device buffer to the writer,
        once the last train call has ended (the epoch's or the fit's end)."""
        # A SIGTERM arriving meanwhile waits: its handler calls this too.
        with signals.BUSY:
            self._move_batches(self._wall_times_after_train)

    def _flush_batches_before_call(self):
        """`_flush_batches` as a train call begins: the newest call begin is
        the call about to start, which has recorded nothing yet."""
        with signals.BUSY:
            self._move_batches(self._wall_times_before_call, self._rate_in_force)

    def _move_batches(self, wall_times, log_rate=None):
        """Moves the batches; `wall_times(n)` gives the last n batches' wall
        times, `log_rate(steps)` logs the learning rate when no schedule
        does."""
        try:
            steps, batch_values, running_means, lost = self._recorder.read()
            if lost:
                self._warn_once("lost", f"{lost} batches were overwritten unread")
            if len(steps):
                times = wall_times(len(steps))
                self._writer.log_batches(steps, batch_values, running_means, times)
                if self._schedule is not None:
                    self._log_scheduled_learning_rates(steps)
                elif log_rate is not None:
                    log_rate(steps)
                self._writer.flush_or_warn()
        except Exception as e:  # noqa: BLE001 - keep training.
            self._warn_once(
                "write",
                f"writing to {self.log_dir!r} failed ({e!r}); the batches stay "
                "in memory and are retried at the next flush",
            )
        finally:
            self._last_flush = time.monotonic()

    def _rate_in_force(self, steps):
        # A change made during the epoch (by a batch callback) is in force
        # from the call about to start.
        self._log_learning_rate(int(steps[-1]) + 1)

    def _wall_times_before_call(self, n):
        """Wall time of each of the last `n` batches: the end of its train
        call, i.e. when the next call began."""
        calls = self._call_begins
        ends = [t for _, t in calls[1:]]
        self._call_begins = calls[-1:]
        return self._call_wall_times(calls[:-1], ends, n)

    def _wall_times_after_train(self, n):
        """As `_wall_times_before_call`, the last batch ending when training
        (or validation) began, or now."""
        calls = self._call_begins
        ends = [t for _, t in calls[1:]] + [self._train_end_time or time.time()]
        self._call_begins = []
        self._train_end_time = None
        return self._call_wall_times(calls, ends, n)

    @staticmethod
    def _call_wall_times(calls, ends, n):
        """Each of `n` batches' wall time from its call's `(batch, begin)` in
        `calls` and the calls' `ends`."""
        if len(calls) == n:
            return np.array(ends, np.float64)
        # Several batches per call (steps_per_execution): a call's batches all
        # get its end time; call sizes come from Keras's batch indices.
        begins = [b for b, _ in calls]
        sizes = (
            np.diff(begins).tolist() + [n - (begins[-1] - begins[0])] if calls else []
        )
        if not calls or min(sizes) < 0 or sum(sizes) != n:
            return np.full(n, time.time())
        return np.repeat(np.array(ends, np.float64), sizes)

    @_never_raises
    def _log_learning_rate(self, step):
        self._writer.log_learning_rate(
            step, learning_rate.current(self.model.optimizer)
        )

    def _log_scheduled_learning_rates(self, steps):
        try:
            values = learning_rate.schedule_values(self._schedule, steps)
        except Exception as e:  # noqa: BLE001 - keep training.
            self._warn_once("learning_rate", f"reading the schedule failed: {e!r}")
            return
        for i in learning_rate.change_points(values):
            self._writer.log_learning_rate(int(steps[i]), values[i])

    def _iterations(self):
        # .numpy() reads Keras 3 variables on every backend, and Keras 2's
        # (tf_keras) distributed ones too.
        return int(self.model.optimizer.iterations.numpy())

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"epochjump: {message}", RuntimeWarning, stacklevel=2)


class _DiscardingWriter:
    """The `Writer` interface, writing nothing (non-chief workers)."""

    def _nothing(self, *args, **kwargs):
        pass

    open = start_fit = start_epoch = log_batches = log_eval = _nothing
    log_learning_rate = flush = close = _nothing


def _is_scalar(value):
    return np.ndim(value) == 0


def _check_train_eval_data(data):
    if data is None:
        return None
    if isinstance(data, tuple):
        if len(data) not in (2, 3):
            raise ValueError(
                "`train_eval_data` as a tuple must be (x, y) or "
                f"(x, y, sample_weight). Received a tuple of length {len(data)}"
            )
        return data
    if isinstance(data, keras.utils.PyDataset):
        return data
    if type(data).__module__.startswith("tensorflow") and hasattr(data, "element_spec"):
        return data
    raise ValueError(
        "`train_eval_data` must be a tuple (x, y) or (x, y, sample_weight), a "
        "tf.data.Dataset or a keras.utils.PyDataset. "
        f"Received: train_eval_data of type {type(data).__name__}"
    )
