"""Evaluates data in training mode: Keras's `test_step` with `training=True`.

The same batches as `evaluate` (Keras's epoch iterator on the same data), the
same compiled loss (regularisation terms included) and the same metric
objects. Dropout is active and batch norm normalises with each batch's own
statistics, as in the train step; for a model with neither, the result equals
`evaluate`'s. The step is compiled like Keras's own (`tf.function` on
TensorFlow, `jax.jit` on JAX; eager under `torch.no_grad()` on PyTorch). It
moves batch-norm statistics, seed-generator and metric states: the caller
restores them (`train_eval`).
"""

import typing

import numpy as np

from epochjump.record import job
from epochjump.record import keras_api

# The model attribute holding its `_CompiledStep` (on the model, so the two
# are collected together).
_ATTRIBUTE = "_epochjump_training_mode"


class _CompiledStep(typing.NamedTuple):
    """The training-mode runner compiled for a model, and the compile
    signature (`keras_api` adapter's `compile_signature`) it was made for."""

    signature: tuple
    runner: typing.Callable


def unsupported(model):
    """Why `evaluate` cannot be made for `model`, or None.

    Args:
      model: a compiled Keras 3 or Keras 2 (`tf_keras`) model.
    """
    strategy = getattr(model, "distribute_strategy", None)
    replicas = getattr(strategy, "num_replicas_in_sync", 1)
    if replicas != 1:
        return (
            "no training-mode evaluation for a model replicated by a "
            f"tf.distribute strategy ({replicas} replicas)"
        )
    processes = job.jax_processes(model)
    if processes > 1:
        # Keras's iterator would give each process its own share of the
        # subset, and the step would evaluate that share alone.
        return (
            "no training-mode evaluation for a model distributed over "
            f"{processes} processes by keras.distribution"
        )
    adapter = keras_api.for_model(model)
    if "test_step" in vars(model) or type(model).test_step is not (
        adapter.keras_module.Model.test_step
    ):
        return (
            f"no training-mode evaluation for {type(model).__name__}: its own "
            "test_step decides what an evaluation computes"
        )
    if not adapter.has_loss_tracker(model):
        return "no training-mode evaluation for a model compiled without a loss"
    return None


def evaluate(model, x, y=None, sample_weight=None, steps=None, batch_size=None):
    """Evaluates in training mode; arguments as `model.evaluate`'s.

    Returns:
      A dict from metric name to float, as `evaluate(return_dict=True)`.
    """
    model.reset_metrics()
    data = dict(
        x=x,
        y=y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        steps_per_epoch=steps,
    )
    batches = keras_api.for_model(model).evaluation_batches(model, data)
    _runner(model)(batches)
    return {
        k: float(v) for k, v in model.get_metrics_result().items() if np.ndim(v) == 0
    }


def _runner(model):
    """A function running the training-mode step over batches, compiled once
    per model and compile() call."""
    adapter = keras_api.for_model(model)
    signature = adapter.compile_signature(model)
    cached = vars(model).get(_ATTRIBUTE)
    if cached is not None and cached.signature == signature:
        return cached.runner
    if keras_api.is_tf_keras(model):
        runner = _tf_runner(model, adapter.training_mode_test_step)
    else:
        backend = adapter.keras_module.backend.backend()
        if backend == "tensorflow":
            runner = _tf_runner(model, adapter.training_mode_test_step)
        elif backend == "jax":
            runner = _jax_runner(model)
        else:
            runner = _torch_runner(model)
    # object.__setattr__ keeps Keras's attribute tracking (and saving) away.
    object.__setattr__(model, _ATTRIBUTE, _CompiledStep(signature, runner))
    return runner


def _tf_runner(model, step):
    import tensorflow as tf

    compiled = tf.function(lambda batch: step(model, batch), reduce_retracing=True)

    def run(batches):
        for batch in batches:
            compiled(batch)

    return run


def _torch_runner(model):
    import torch

    from epochjump.record.keras_api import keras3

    def run(batches):
        with torch.no_grad():
            for batch in batches:
                keras3.training_mode_test_step(model, batch)

    return run


def _jax_runner(model):
    """Keras's JAX `test_step` with `training=True`: stateless and jitted,
    threading the variables from batch to batch."""
    import jax

    from epochjump.record.keras_api import keras3

    def step(state, batch):
        trainable, non_trainable, metrics, optimizer = state
        x, y, sample_weight = keras3.unpack_x_y_sample_weight(batch)
        # The optimizer's variables only scale the loss for a loss-scaling
        # optimizer; the unscaled loss is the one evaluated.
        _, aux = model.compute_loss_and_updates(
            trainable,
            non_trainable,
            metrics,
            x,
            y,
            sample_weight,
            training=True,
            optimizer_variables=optimizer,
        )
        unscaled_loss, y_pred, non_trainable, metrics = aux
        metrics = keras3.update_metrics_variables(
            model, metrics, unscaled_loss, x, y, y_pred, sample_weight
        )
        return trainable, non_trainable, metrics, optimizer

    compiled = jax.jit(step)

    def run(batches):
        optimizer = getattr(model, "optimizer", None)
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.metrics_variables],
            [v.value for v in optimizer.variables] if optimizer else [],
        )
        for batch in batches:
            state = compiled(state, batch)
        for variable, value in zip(model.metrics_variables, state[2]):
            variable.assign(value)

    return run
