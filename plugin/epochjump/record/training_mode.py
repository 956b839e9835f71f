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

import numpy as np

from epochjump.record import job
from epochjump.record.capture import base

# The model attribute holding its compiled step and the compile signature it
# was made for (on the model, so the two are collected together).
_ATTRIBUTE = "_epochjump_training_mode"


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


def evaluate(model, x, y=None, sample_weight=None, steps=None, batch_size=None):
    """Evaluates in training mode; arguments as `model.evaluate`'s.

    Returns:
      A dict from metric name to float, as `evaluate(return_dict=True)`.
    """
    model.reset_metrics()
    batches = _batches(model, x, y, sample_weight, steps, batch_size)
    _runner(model)(batches)
    return {
        k: float(v) for k, v in model.get_metrics_result().items() if np.ndim(v) == 0
    }


def _batches(model, x, y, sample_weight, steps, batch_size):
    """The batches `evaluate` sees, from Keras's own iterator."""
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


def _runner(model):
    """A function running the training-mode step over batches, compiled once
    per model and compile() call."""
    signature = base.compile_signature(model)
    cached = vars(model).get(_ATTRIBUTE)
    if cached is not None and cached[0] == signature:
        return cached[1]
    if base.is_tf_keras(model):
        runner = _tf_runner(model, _tf_keras_step)
    else:
        import keras

        backend = keras.backend.backend()
        if backend == "tensorflow":
            runner = _tf_runner(model, _keras_step)
        elif backend == "jax":
            runner = _jax_runner(model)
        else:
            runner = _torch_runner(model)
    # object.__setattr__ keeps Keras's attribute tracking (and saving) away.
    object.__setattr__(model, _ATTRIBUTE, (signature, runner))
    return runner


def _keras_step(model, batch):
    """Keras 3's `test_step` (TensorFlow, PyTorch), with `training=True`."""
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
    model._loss_tracker.update_state(loss, sample_weight=keras.ops.shape(first)[0])
    model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _tf_keras_step(model, batch):
    """Keras 2's `test_step`, with `training=True`."""
    from tf_keras.src.engine import data_adapter

    x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(batch)
    y_pred = model(x, training=True)
    model.compute_loss(x, y, y_pred, sample_weight)
    model.compute_metrics(x, y, y_pred, sample_weight)


def _tf_runner(model, step):
    import tensorflow as tf

    compiled = tf.function(lambda batch: step(model, batch), reduce_retracing=True)

    def run(batches):
        for batch in batches:
            compiled(batch)

    return run


def _torch_runner(model):
    import torch

    def run(batches):
        with torch.no_grad():
            for batch in batches:
                _keras_step(model, batch)

    return run


def _jax_runner(model):
    """Keras's JAX `test_step` with `training=True`: stateless and jitted,
    threading the variables from batch to batch."""
    import jax
    from keras.src.trainers.data_adapters import data_adapter_utils

    def step(state, batch):
        trainable, non_trainable, metrics, optimizer = state
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(batch)
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
        _, metrics = model._update_metrics_variables(
            metrics, unscaled_loss, x, y, y_pred, sample_weight
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
