"""`model.get_metrics_result()` on Keras's PyTorch backend, in a few fused ops.

On PyTorch every `keras.ops` call of every metric's `result()` is an eager
dispatch through Keras's Python layers, about 20 us per metric. Most metrics
are plain means (`Mean`, and the `MeanMetricWrapper`s: loss, accuracy, ...),
whose result is `divide_no_nan(total, count)`: for those, one stack of the
totals, one of the counts and one division give every value at once, with the
same float32 operations and so the same bits as Keras. Any other metric keeps
its own `result()`.
"""

import keras
import torch

from epochjump.record.keras_api import keras3


class MetricsResult:
    """Computes what `model.get_metrics_result()` returns, faster.

    Args:
      model: a compiled Keras 3 model on the PyTorch backend, its metrics
        built.
      names: the metric names of the recorded row, in order.
    """

    def __init__(self, model, names):
        self._model = model
        self.vector_is_row = False
        sources = _sources(model)
        self._fused = sources is not None
        if not self._fused:
            return
        plain = {n: m for n, m in sources.items() if _is_mean(m)}
        self._plain_names = list(plain)
        self._totals = [m.total for m in plain.values()]
        self._counts = [m.count for m in plain.values()]
        self._others = {n: m for n, m in sources.items() if n not in plain}
        self._order = list(sources)
        # The row is the fused vector itself when it holds `names` in order.
        self.vector_is_row = not self._others and self._plain_names == list(names)

    @property
    def fused(self):
        """Whether the results are still computed in fused ops; False once
        that failed (Keras's own `get_metrics_result()` answers then)."""
        return self._fused

    def __call__(self):
        """Returns `(results, vector)`: the dict `get_metrics_result()` would
        return, and the plain means as one float32 tensor (or None)."""
        if self._fused:
            try:
                return self._fused_results()
            except Exception:  # noqa: BLE001 - Keras's own way still works.
                self._fused = self.vector_is_row = False
        # The class's method: inside epochjump's train step, the model's own
        # `get_metrics_result` attribute is answered by this object.
        return type(self._model).get_metrics_result(self._model), None

    def _fused_results(self):
        vector = None
        values = {}
        if self._totals:
            totals = torch.stack([storage(v) for v in self._totals])
            counts = torch.stack([storage(v) for v in self._counts])
            # Keras's divide_no_nan: 0 where the count is 0.
            vector = torch.where(counts == 0, 0.0, totals / counts)
            values = dict(zip(self._plain_names, vector.unbind()))
        for name, metric in self._others.items():
            values[name] = metric.result()
        return {name: values[name] for name in self._order}, vector


def storage(variable):
    """The tensor that holds a Keras variable's value, changed in place by
    its `assign`s; `variable.value` finds it too, through a few microseconds
    of checks for scopes that a train step does not use."""
    value = keras3.variable_storage(variable)
    return value if isinstance(value, torch.Tensor) else variable.value


class _Source:
    """Stands in for a metric's `result` method while mapping names."""

    def __init__(self, metric):
        self.metric = metric

    def __call__(self):
        return self


def _sources(model):
    """The metric that gives each name of `model.get_metrics_result()`, in
    its order, or None when some result does not come from one leaf metric.

    Each leaf's `result` is briefly replaced by a marker, so the names are
    the ones Keras's own `get_metrics_result()` gives (output prefixes,
    `weighted_` and numbered duplicates included).
    """
    leaves = keras3.leaf_metrics(model)
    for metric in leaves:
        object.__setattr__(metric, "result", _Source(metric))
    try:
        results = model.get_metrics_result()
    except Exception:  # noqa: BLE001 - then Keras's own path is used.
        return None
    finally:
        for metric in leaves:
            metric.__dict__.pop("result", None)
    if not all(isinstance(value, _Source) for value in results.values()):
        return None
    return {name: value.metric for name, value in results.items()}


def _is_mean(metric):
    """Whether `metric.result()` is Keras's `Mean.result` on float32 state."""
    if type(metric).result is not keras.metrics.Mean.result:
        return False
    total, count = getattr(metric, "total", None), getattr(metric, "count", None)
    return all(
        isinstance(v, keras.Variable) and v.dtype == "float32" and v.shape == ()
        for v in (total, count)
    ) and (metric.dtype == "float32")
