"""`EpochJumpCallback` for Hugging Face's `Trainer`: the loss of every step."""

import math
import sys

from transformers import Trainer
from transformers import TrainerCallback

from epochjump.record.framework_run import RunOwner
from epochjump.record.framework_run import never_raises
from epochjump.record.framework_run import warn_once

# `on_evaluate` metrics that are timings, not results.
NOT_RESULTS = ("runtime", "samples_per_second", "steps_per_second", "epoch")


class EpochJumpCallback(RunOwner, TrainerCallback):
    """Records the Trainer's loss at every optimizer step, for TensorBoard.

    The Trainer logs `loss` averaged over `logging_steps`; this callback
    records each step's own loss (what `training_step` returned, summed over
    the step's gradient-accumulation micro-batches: the values the logged
    average is made of), and beside it a running mean of the epoch's step
    losses so far, as Keras would show it (the Trainer shows none). Per
    epoch: where it starts, the `on_evaluate` results (named without their
    `eval_` prefix, so `eval_loss` pairs with `loss`), and the learning rate
    where it changes. A multi-epoch fine-tune that sees its data again shows
    the model's real drop at each epoch start. Open TensorBoard's
    "Epoch Jump" tab, or run `epochjump explain LOG_DIR`.

    ```python
    from epochjump.transformers import EpochJumpCallback

    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=val,
        callbacks=[EpochJumpCallback("logs/run1")],
    )
    trainer.train()
    ```

    Steps are the Trainer's `global_step`. Only the main process writes, and
    it records its own loss (the Trainer logs the mean over processes).

    Args:
      log_dir: str or os.PathLike, the run directory (TensorBoard shows it as
        one run).
      flush_secs: float, default 10. Step data reaches the event file at most
        this many seconds after the step, and at every epoch end.
    """

    def __init__(self, log_dir, flush_secs=10.0):
        RunOwner.__init__(self, log_dir, flush_secs)
        self._trainer = None
        self._step_losses = []  # training_step's returns since the step began
        self._own_training_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._close()
        if not state.is_world_process_zero:
            return
        self._open_run()
        self._run.start_fit(state.global_step + 1)
        self._trainer = _calling_trainer()
        if self._trainer is None:
            warn_once(
                self._warned,
                "trainer",
                "no transformers.Trainer called this callback; step losses are "
                "not recorded",
            )
        else:
            self._wrap_training_step(self._trainer)

    @never_raises
    def on_epoch_begin(self, args, state, control, **kwargs):
        if self._run is not None:
            # state.epoch counts finished epochs (fractions after a mid-epoch resume).
            self._run.start_epoch(state.global_step + 1, math.floor(state.epoch))

    @never_raises
    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self._step_losses = []
        if self._run is not None and optimizer is not None:
            # The schedule stepped after the last step: this step's rate.
            rate = optimizer.param_groups[0]["lr"]
            self._run.log_learning_rate(state.global_step + 1, rate)

    @never_raises
    def on_step_end(self, args, state, control, **kwargs):
        losses, self._step_losses = self._step_losses, []
        if self._run is not None and losses:
            # Added in the Trainer's order, as it adds them to its logged sum.
            loss = losses[0]
            for micro_batch_loss in losses[1:]:
                loss = loss + micro_batch_loss
            self._run.add_batch(state.global_step, {"loss": loss}, {}, 1)

    @never_raises
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self._run is None or not metrics:
            return
        values = {}
        for name, value in metrics.items():
            base = name[len("eval_") :] if name.startswith("eval_") else name
            if base and base not in NOT_RESULTS and _is_number(value):
                values[base] = value
        self._run.log_val(state.global_step, values)

    @never_raises
    def on_epoch_end(self, args, state, control, **kwargs):
        if self._run is not None:
            self._run.flush()

    @never_raises
    def on_train_end(self, args, state, control, **kwargs):
        self._close()

    def _wrap_training_step(self, trainer):
        """Keeps each loss `training_step` returns; the step itself is untouched."""
        training_step = trainer.training_step
        if getattr(training_step, "_epochjump_callback", None) is not None:
            training_step = training_step._epochjump_original  # A leftover.
        # Set back at the end only if the instance had its own to begin with.
        self._own_training_step = trainer.__dict__.get("training_step")
        if getattr(self._own_training_step, "_epochjump_callback", None) is not None:
            self._own_training_step = self._own_training_step._epochjump_own

        def recorded_training_step(*args, **kwargs):
            loss = training_step(*args, **kwargs)
            try:
                self._step_losses.append(loss.detach())
            except Exception as e:  # noqa: BLE001 - never stop training.
                warn_once(self._warned, "loss", f"reading the step loss failed: {e!r}")
            return loss

        recorded_training_step._epochjump_callback = self
        recorded_training_step._epochjump_original = training_step
        recorded_training_step._epochjump_own = self._own_training_step
        trainer.training_step = recorded_training_step

    def _close(self):
        trainer, self._trainer = self._trainer, None
        if trainer is not None:
            wrapper = trainer.__dict__.get("training_step")
            if getattr(wrapper, "_epochjump_callback", None) is self:
                if self._own_training_step is None:
                    del trainer.training_step
                else:
                    trainer.training_step = self._own_training_step
        self._step_losses = []
        self._close_run()


def _calling_trainer():
    """The `Trainer` whose training loop is calling this callback."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Trainer):
            return candidate
        frame = frame.f_back
    return None


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
