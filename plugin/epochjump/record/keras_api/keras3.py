"""Keras 3's private API, every use epochjump makes of it.

Checked against the oldest and newest supported Keras 3 by
`tests/record/test_keras_api.py`. The `keras.src` modules are imported where
they are used, so a release that moves one breaks only what needs it (each
caller turns a failure into a warning, never a crash of training).
"""

import keras

from epochjump.record import keras_api
from epochjump.record.keras_api import progbar

# The public Keras of this line.
keras_module = keras

# Where Keras keeps its global `SeedGenerator` (created lazily).
_GLOBAL_SEED_GENERATOR = "global_seed_generator"


def leaf_metrics(model):
    """The model's metrics, with Keras's compile-metrics container expanded.

    Args:
      model: a compiled Keras 3 model.
    """
    leaves = []
    for metric in model.metrics:
        # By name: matched without importing `keras.src` inside the train step.
        if type(metric).__name__ == "CompileMetrics":
            leaves.extend(metric.metrics)
        else:
            leaves.append(metric)
    return leaves


def compile_signature(model):
    """What changes when `compile()` gives a Keras 3 model new metrics or loss."""
    return keras_api.attribute_ids(
        model, ("_compile_metrics", "_compile_loss", "_loss_tracker", "optimizer")
    )


def build_metrics(model, data):
    """Builds the compiled metrics (lazy on TensorFlow and PyTorch) from a batch.

    Args:
      model: a compiled Keras 3 model.
      data: a batch, possibly symbolic, as the train step receives it.
    """
    model._symbolic_build(data_batch=data)


def has_loss_tracker(model):
    """Whether the model has Keras's loss tracker (`compile()` makes it),
    which the training-mode step updates."""
    return getattr(model, "_loss_tracker", None) is not None


def steps_per_execution(model):
    """How many batches one call of the model's train function runs."""
    return max(1, int(model.steps_per_execution or 1))


def learning_rate_of(optimizer):
    """The optimizer's rate as it was given: a variable or a `LearningRateSchedule`.

    Args:
      optimizer: a Keras 3 optimizer (not a `LossScaleOptimizer`).
    """
    return getattr(optimizer, "_learning_rate", None)


def variable_storage(variable):
    """The backend value a Keras variable keeps, read without `value`'s checks
    (on PyTorch, the tensor its `assign`s change in place)."""
    return getattr(variable, "_value", None)


def evaluation_batches(model, data):
    """The batches `model.evaluate` sees, from Keras's own iterator.

    Args:
      model: the Keras 3 model (unused: Keras 3's iterator does not need it).
      data: dict with `x`, `y`, `sample_weight`, `batch_size` and
        `steps_per_epoch` (`evaluate`'s `steps`), as `evaluate` takes them.
    """
    from keras.src.trainers.epoch_iterator import EpochIterator

    iterator = EpochIterator(**data, shuffle=False)
    iterator.reset()
    with iterator.catch_stop_iteration():
        for *_, batches in iterator:  # (step, batches); newer: (begin, end, batches)
            yield from batches


def unpack_x_y_sample_weight(batch):
    """A Keras 3 batch as `(x, y, sample_weight)`."""
    from keras.src.trainers.data_adapters import data_adapter_utils

    return data_adapter_utils.unpack_x_y_sample_weight(batch)


def training_mode_test_step(model, batch):
    """Keras's `test_step` (TensorFlow, PyTorch) with `training=True`.

    Args:
      model: a compiled Keras 3 model with Keras's own `test_step`.
      batch: one batch of `evaluation_batches`.
    """
    from keras.src import tree

    x, y, sample_weight = unpack_x_y_sample_weight(batch)
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


def update_metrics_variables(model, metrics, loss, x, y, y_pred, sample_weight):
    """Keras's JAX metric update, stateless: the new metric variables' values.

    Args:
      model: a compiled Keras 3 model on JAX.
      metrics: list of the metric variables' values.
      loss: the batch's unscaled loss.
      x, y, y_pred, sample_weight: the batch and the model's prediction.
    """
    _, metrics = model._update_metrics_variables(
        metrics, loss, x, y, y_pred, sample_weight
    )
    return metrics


def global_seed_generator():
    """Keras's global `SeedGenerator`, or None before something created it."""
    from keras.src.backend.common import global_state

    return global_state.get_global_attribute(_GLOBAL_SEED_GENERATOR)


def set_global_seed_generator(generator):
    """Makes `generator` (or None: none yet) Keras's global `SeedGenerator`."""
    from keras.src.backend.common import global_state

    global_state.set_global_attribute(_GLOBAL_SEED_GENERATOR, generator)


class ProgbarLogger(progbar.NewBarHook, keras.callbacks.ProgbarLogger):
    """Keras 3's `ProgbarLogger`, calling `progbar_created(bar)` for each new bar."""
