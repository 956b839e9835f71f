"""Keras 2's (`tf_keras`) private API, every use epochjump makes of it.

Checked against the supported `tf_keras` by `tests/record/test_keras_api.py`.
"""

import tensorflow as tf
import tf_keras

from epochjump.record import keras_api
from epochjump.record.keras_api import progbar

# The public Keras of this line.
keras_module = tf_keras


def leaf_metrics(model):
    """The model's metrics: Keras 2 lists the compiled ones themselves, no
    container to expand."""
    return list(model.metrics)


def compile_signature(model):
    """What changes when `compile()` gives a Keras 2 model new metrics or loss."""
    return keras_api.attribute_ids(
        model, ("compiled_metrics", "compiled_loss", "optimizer")
    )


def build_metrics(model, data):
    """Creates the compiled metrics, which Keras 2 makes inside the first train step.

    A throwaway trace of the forward pass and of the metric containers' build
    creates them (their variables are lifted out of the trace) before the
    recording step is traced.

    Args:
      model: a compiled Keras 2 model.
      data: a batch, possibly symbolic, as the train step receives it.
    """
    x, y, _ = unpack_x_y_sample_weight(data)

    def build(x, y):
        y_pred = model(x, training=False)
        model.compiled_loss.build(y_pred)
        model.compiled_metrics.build(y_pred, y)

    tf.function(build).get_concrete_function(_specs(x), _specs(y))


def has_loss_tracker(model):
    """Always True: Keras 2's training-mode step needs no loss tracker of ours."""
    return True


def steps_per_execution(model):
    """How many batches one call of the model's train function runs."""
    variable = getattr(model, "_steps_per_execution", None)
    return 1 if variable is None else max(1, int(variable.numpy()))


def learning_rate_of(optimizer):
    """The optimizer's rate as it was given: a variable or a `LearningRateSchedule`.

    Args:
      optimizer: a Keras 2 optimizer, new or legacy (not a `LossScaleOptimizer`).
    """
    rate = getattr(optimizer, "_learning_rate", None)
    if rate is None:  # The legacy optimizers keep it in `_hyper`.
        rate = getattr(optimizer, "_hyper", {}).get("learning_rate")
    return rate


def evaluation_batches(model, data):
    """The batches `model.evaluate` sees, from Keras's own data handler.

    Args:
      model: the Keras 2 model (the handler reads its `steps_per_execution`).
      data: dict with `x`, `y`, `sample_weight`, `batch_size` and
        `steps_per_epoch` (`evaluate`'s `steps`), as `evaluate` takes them.
    """
    from tf_keras.src.engine import data_adapter

    handler = data_adapter.get_data_handler(**data, model=model, distribute=False)
    for _, iterator in handler.enumerate_epochs():
        with handler.catch_stop_iteration():
            for _ in handler.steps():
                yield next(iterator)


def unpack_x_y_sample_weight(batch):
    """A Keras 2 batch as `(x, y, sample_weight)`."""
    return tf_keras.utils.unpack_x_y_sample_weight(batch)


def training_mode_test_step(model, batch):
    """Keras 2's `test_step` with `training=True`.

    Args:
      model: a compiled Keras 2 model with Keras's own `test_step`.
      batch: one batch of `evaluation_batches`.
    """
    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    y_pred = model(x, training=True)
    model.compute_loss(x, y, y_pred, sample_weight)
    model.compute_metrics(x, y, y_pred, sample_weight)


class ProgbarLogger(progbar.NewBarHook, tf_keras.callbacks.ProgbarLogger):
    """Keras 2's `ProgbarLogger`, calling `progbar_created(bar)` for each new
    bar, and asking for batch hooks with `verbose=2` too."""

    def _implements_train_batch_hooks(self):
        # Keras 2 skips batch hooks with verbose=2; the progress bar's count
        # the batches so that the recorder's buffer is read before it fills.
        return True


def _specs(structure):
    return tf.nest.map_structure(
        lambda t: tf.TensorSpec(t.shape, t.dtype) if isinstance(t, tf.Tensor) else t,
        structure,
    )
