"""The post-epoch evaluations of the training subset, in inference and in training mode.

Both run between two epochs of `fit`, so neither may change the run: every
variable they can move (batch-norm moving statistics, seed-generator states,
metric states) and every global random state (`rng_state`) is saved before and
restored after, bit for bit. Weights and the optimizer are only read. The
training-mode evaluation itself is `training_mode.evaluate`.
"""

import numpy as np

from epochjump.record import rng_state
from epochjump.record import training_mode as training_mode_module


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
        problem = training_mode_module.unsupported(model)
        if problem is None:
            x, y, sample_weight, batch_size = _arguments(data, batch_size)
            try:
                training_mode = training_mode_module.evaluate(
                    model, x, y, sample_weight, steps=steps, batch_size=batch_size
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
        parts = [part for v in variables for part in _components(v)]
        self._variables = list({id(v): v for v in parts}.values())
        self._values = [np.array(v.numpy(), copy=True) for v in self._variables]
        self._rng = rng_state.RngState()

    def restore(self):
        for variable, value in zip(self._variables, self._values):
            variable.assign(value)
        self._rng.restore()


def _components(variable):
    """The per-replica variables of a `tf.distribute` variable, else itself:
    batch-norm statistics and metric states there are kept per replica and
    read as their aggregate, which must not be written back to every one."""
    for candidate in (variable, getattr(variable, "value", None)):
        parts = getattr(candidate, "values", None)
        if isinstance(parts, tuple) and parts:
            return list(parts)
    return [variable]


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
