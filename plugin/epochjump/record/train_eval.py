"""The post-epoch evaluations of the training subset, in inference and in training mode.

Both run between two epochs of `fit`, so neither may change the run: every
variable they can move (batch-norm moving statistics, seed-generator states,
metric states) and every global random state (`rng_state`) is saved before and
restored after, bit for bit. Weights and the optimizer are only read.

The training-mode evaluation is Keras's own `test_step` with `training=True`:
the same batches as `evaluate` (Keras's epoch iterator on the same data), the
same compiled loss (regularisation terms included) and the same metric
objects, run eagerly one batch at a time. Dropout is active and batch norm
normalises with each batch's own statistics, as in the train step; for a model
with neither, the result equals `evaluate`'s.
"""

import contextlib

import numpy as np

from epochjump.record import rng_state
from epochjump.record.capture import base


def evaluate_train_subset(model, data, steps=None, batch_size=None):
    """Evaluates the training subset in inference mode and in training mode.

    Args:
      model: the compiled Keras 3 or Keras 2 (`tf_keras`) model, with its
        epoch-end weights.
      data: a tuple `(x, y)` or `(x, y, sample_weight)`, a `tf.data.Dataset`
        or a `keras.utils.PyDataset`.
      steps: optional int, batches to evaluate (as `evaluate(steps=...)`).
      batch_size: optional int, the batch size for array data.

    Returns:
      `(inference, training_mode, problem)`: dicts from metric name to float,
      and a str. `training_mode` is None, and `problem` says why, for a model
      whose `test_step` is its own (what it would compute in training mode is
      unknown), one replicated by a `tf.distribute` strategy, or when the
      training-mode pass failed; `problem` is None otherwise.

    Raises:
      Exception: whatever `model.evaluate` raises; the state is restored.
    """
    saved = _ModelState(model)
    training_mode, problem = None, None
    try:
        inference = _evaluate(model, data, steps, batch_size)
        saved.restore()
        problem = _training_mode_unsupported(model)
        if problem is None:
            try:
                training_mode = _evaluate_training_mode(
                    model, data, steps, batch_size
                )
            except Exception as e:  # noqa: BLE001 - inference mode stands.
                problem = f"the training-mode evaluation failed: {e!r}"
    finally:
        saved.restore()
    return inference, training_mode, problem


class _ModelState:
    """Values of the variables an evaluation may move, and the random states."""

    def __init__(self, model):
        variables = list(model.non_trainable_variables) + _metric_variables(model)
        unique = {id(v): v for v in variables}
        self._variables = list(unique.values())
        self._values = [np.array(v.numpy(), copy=True) for v in self._variables]
        self._rng = rng_state.RngState()

    def restore(self):
        for variable, value in zip(self._variables, self._values):
            variable.assign(value)
        self._rng.restore()


def _metric_variables(model):
    if hasattr(model, "metrics_variables"):  # Keras 3
        return list(model.metrics_variables)
    return [v for m in model.metrics for v in m.variables]


def _evaluate(model, data, steps, batch_size):
    x, y, sample_weight, batch_size = _arguments(data, batch_size)
    results = model.evaluate(
        x,
        y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        steps=steps,
        verbose=0,
        return_dict=True,
    )
    return _scalars(results)


def _arguments(data, batch_size):
    if isinstance(data, tuple):
        x, y, *rest = data
        return x, y, (rest[0] if rest else None), batch_size
    return data, None, None, None


def _scalars(results):
    return {k: float(v) for k, v in results.items() if np.ndim(v) == 0}


def _training_mode_unsupported(model):
    """Why the training-mode evaluation cannot be made, or None."""
    strategy = getattr(model, "distribute_strategy", None)
    replicas = getattr(strategy, "num_replicas_in_sync", 1)
    if replicas != 1:
        return (
            "no training-mode evaluation for a model replicated by a "
            f"tf.distribute strategy ({replicas} replicas)"
        )
    if base.is_tf_keras(model):
        import tf_keras as keras
    else:
        import keras
    if "test_step" in vars(model) or type(model).test_step is not (
        keras.Model.test_step
    ):
        return (
            f"no training-mode evaluation for {type(model).__name__}: its own "
            "test_step decides what an evaluation computes"
        )
    if not base.is_tf_keras(model) and getattr(model, "_loss_tracker", None) is None:
        return "no training-mode evaluation for a model compiled without a loss"
    return None


def _evaluate_training_mode(model, data, steps, batch_size):
    model.reset_metrics()
    with _no_grad():
        for batch in _batches(model, data, steps, batch_size):
            _training_mode_step(model, batch)
    return _scalars(model.get_metrics_result())


def _batches(model, data, steps, batch_size):
    """The batches `evaluate` sees, from Keras's own iterator."""
    x, y, sample_weight, batch_size = _arguments(data, batch_size)
    if base.is_tf_keras(model):
        from tf_keras.src.engine import data_adapter

        handler = data_adapter.get_data_handler(
            x=x,
            y=y,
            sample_weight=sample_weight,
            batch_size=batch_size,
            steps_per_epoch=steps,
            model=model,
            distribute=False,
        )
        for _, iterator in handler.enumerate_epochs():
            with handler.catch_stop_iteration():
                for _ in handler.steps():
                    yield next(iterator)
        return
    from keras.src.trainers.epoch_iterator import EpochIterator

    iterator = EpochIterator(
        x=x,
        y=y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        steps_per_epoch=steps,
        shuffle=False,
    )
    iterator.reset()
    with iterator.catch_stop_iteration():
        for _, _, batches in iterator:
            yield from batches


def _training_mode_step(model, batch):
    """Keras's `test_step`, with `training=True`."""
    if base.is_tf_keras(model):
        from tf_keras.src.engine import data_adapter

        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(batch)
        y_pred = model(x, training=True)
        model.compute_loss(x, y, y_pred, sample_weight)
        model.compute_metrics(x, y, y_pred, sample_weight)
        return
    import keras
    from keras.src import tree
    from keras.src.trainers.data_adapters import data_adapter_utils

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(batch)
    if model._call_has_training_arg:
        y_pred = model(x, training=True)
    else:
        y_pred = model(x)
    loss = model._compute_loss(
        x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
    )
    first = next(i for i in tree.flatten(x) if i is not None)
    model._loss_tracker.update_state(
        loss, sample_weight=keras.ops.shape(first)[0]
    )
    model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


@contextlib.contextmanager
def _no_grad():
    """No autograd graph on torch (as Keras's own test function)."""
    import sys

    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", lambda: None)()
    if backend == "torch":
        import torch

        with torch.no_grad():
            yield
    else:
        yield
