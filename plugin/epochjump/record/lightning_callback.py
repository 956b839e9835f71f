"""`EpochJumpCallback` for PyTorch Lightning: what `self.log` showed, per batch."""

from lightning.pytorch import Callback
from lightning.pytorch.utilities.data import extract_batch_size

from epochjump.record.framework_run import RunOwner
from epochjump.record.framework_run import never_raises
from epochjump.record.framework_run import warn_once

# Prefixes of validation metric names, removed so "val_loss" pairs with "loss".
VAL_PREFIXES = ("val_", "val/", "valid_", "valid/", "validation_", "validation/")
TRAIN_PREFIXES = ("train_", "train/")


class EpochJumpCallback(RunOwner, Callback):
    """Records why Lightning's epoch means jump between epochs, for TensorBoard.

    Per training batch it records every metric logged with
    `self.log(..., on_step=True)`: the batch's own value (what `*_step`
    shows) and, beside it, the epoch's mean so far as Lightning computes it
    for `on_epoch=True` (weighted by batch size: at the epoch's last batch it
    is the `*_epoch` value Lightning logs). A metric logged `on_step` only,
    or a torchmetrics `Metric` logged as the object, gets a Keras-style
    running mean: the mean of the epoch's batch values so far, weighted by
    the batch size Lightning found. Per epoch: where it
    starts, the validation metrics (`on_epoch` values, named without their
    `val_` prefix so `val_loss` pairs with `loss` or `train_loss`), and the
    learning rate of the first optimizer where it changes. Open
    TensorBoard's "Epoch Jump" tab, or run `epochjump explain LOG_DIR`.

    ```python
    from epochjump.lightning import EpochJumpCallback

    trainer = lightning.Trainer(
        max_epochs=10, callbacks=[EpochJumpCallback("logs/run1")]
    )
    trainer.fit(model, train_loader, val_loader)
    ```

    Steps count training batches across epochs (Lightning's `global_step`
    without gradient accumulation; with it, every batch still gets a step).
    Only the global-zero process writes.

    Args:
      log_dir: str or os.PathLike, the run directory (TensorBoard shows it as
        one run).
      flush_secs: float, default 10. Batch data reaches the event file at
        most this many seconds after the batch, and at every epoch end.
    """

    def __init__(self, log_dir, flush_secs=10.0):
        RunOwner.__init__(self, log_dir, flush_secs)
        self._fit_started = False
        self._seen = {}  # metric name -> the last step value recorded

    def on_train_start(self, trainer, pl_module):
        self._seen = {}
        self._fit_started = False
        self._close_run()
        if trainer.is_global_zero:
            self._open_run()

    @never_raises
    def on_train_epoch_start(self, trainer, pl_module):
        if self._run is None:
            return
        step = _batches_started(trainer) + 1
        if not self._fit_started:
            self._fit_started = True
            self._run.start_fit(step)
        self._run.start_epoch(step, trainer.current_epoch)

    @never_raises
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._run is not None and trainer.optimizers:
            # After the schedulers stepped: the rate this batch trains with.
            rate = trainer.optimizers[0].param_groups[0]["lr"]
            self._run.log_learning_rate(_batches_started(trainer), rate)

    @never_raises
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._run is None or trainer._results is None:
            return
        batch_values, running_means = {}, {}
        for _, result in trainer._results.valid_items():
            meta, value = result.meta, result._forward_cache
            # A metric not logged at this batch still holds an older value.
            if not meta.on_step or value is None or value is self._seen.get(meta.name):
                continue
            self._seen[meta.name] = value
            if meta.on_epoch and result.is_tensor:
                if not meta.is_mean_reduction:
                    warn_once(
                        self._warned,
                        ("reduce_fx", meta.name),
                        f"{meta.name!r} is logged with reduce_fx={meta.reduce_fx!r}, "
                        "not a mean; it is not recorded",
                    )
                    continue
                # What Lightning's compute() returns, without its distributed sync.
                running_means[meta.name] = result.value / result.cumulated_batch_size
            batch_values[meta.name] = value
        if batch_values:
            step, weight = _batches_started(trainer), _batch_size(trainer, batch)
            self._run.add_batch(step, batch_values, running_means, weight)

    @never_raises
    def on_validation_end(self, trainer, pl_module):
        if self._run is None or trainer.sanity_checking or trainer._results is None:
            return
        names = {
            trainer._results._forked_name(result, on_step=False)[0]
            for _, result in trainer._results.valid_items()
            if result.meta.on_epoch
        }
        values = {
            self._val_name(name): trainer.callback_metrics[name]
            for name in sorted(names)
            if name in trainer.callback_metrics
        }
        self._run.log_val(_batches_started(trainer), values)

    @never_raises
    def on_train_epoch_end(self, trainer, pl_module):
        if self._run is not None:
            self._run.flush()

    @never_raises
    def on_train_end(self, trainer, pl_module):
        self._close_run()

    @never_raises
    def on_exception(self, trainer, pl_module, exception):
        self._close_run()

    def _val_name(self, name):
        """`val_loss` -> `loss`, or `train_loss` if that is what training logs."""
        base = next(
            (name[len(p) :] for p in VAL_PREFIXES if name.startswith(p) and name != p),
            name,
        )
        for candidate in (base, *(p + base for p in TRAIN_PREFIXES)):
            if candidate in self._seen:
                return candidate
        return base


def _batches_started(trainer):
    """Training batches begun so far, this one included: the batch's step."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.ready


def _batch_size(trainer, batch):
    """The batch size Lightning weighs this batch's epoch means by."""
    size = trainer._results.batch_size
    if size is None:
        try:
            size = extract_batch_size(batch)
        except Exception:  # noqa: BLE001 - no tensor in the batch.
            size = 1
    return size
