"""What every backend's recorder shares: exact batch values inside the train step.

Keras keeps each metric as accumulated state (for `Mean`: a sum and a count)
and reports `result()`, the running mean since the epoch began. To record the
value of each batch alone, exactly, the wrapped train step:

1. saves the metric state and sets it to zero (the state of "no batches yet"),
2. runs the model's own train step, so the state holds this batch alone and
   `result()` is the batch value, computed by Keras's own code (on PyTorch,
   the plain means' results by `torch_results`, in the same float32
   operations),
3. restores the state as `saved + batch`, which is bit-for-bit what Keras's
   own `assign_add` update would have produced, and reads the running means.

The batch results are copied into one fresh array before step 3, because a
`result()` may share memory with the state it reads (on PyTorch, `Sum` and the
confusion-matrix counts return views of their variables).

This works for every metric whose state is a sum of per-batch contributions,
which is every built-in Keras metric (means, confusion-matrix counts, AUC,
F-scores, R2, IoU). For other custom metrics the running mean is recorded, the
batch value is NaN, and one warning names them.

Each backend's rows stay on the device until `read()`, once per flush: a ring
buffer of variables on TensorFlow, a `RowBuffer` of device arrays on JAX and
PyTorch.

Each backend's module (`tensorflow`, `jax`, `torch` beside this one) says how
the values leave its step; `epochjump.record.capture.recorder_for` picks one.
"""

import collections
import typing
import warnings

import numpy as np

from epochjump.record import keras_api

# Batches held between two reads, at most.
DEFAULT_CAPACITY = 4096


class Batches(typing.NamedTuple):
    """What a recorder's `read()` returns: the batches recorded since the last read.

    Attributes:
      steps: int64 array [n], each batch's global step.
      batch_values: dict from metric name to a float32 array [n], each
        batch's own value (NaN where it cannot be exact).
      running_means: dict from metric name to a float32 array [n], what Keras
        showed after each batch.
      lost: int, batches overwritten or dropped before they were read (0
        unless nothing read them in time).
    """

    steps: np.ndarray
    batch_values: dict
    running_means: dict
    lost: int


def additive_metric_classes(keras):
    """Metric base classes whose state updates are additive.

    Args:
      keras: the Keras module the model comes from (`keras`, or `tf_keras`
        for Keras 2).
    """
    public = [
        keras.metrics.Mean,
        keras.metrics.Sum,
        keras.metrics.AUC,
        keras.metrics.Precision,
        keras.metrics.Recall,
        keras.metrics.TruePositives,
        keras.metrics.FBetaScore,
        keras.metrics.R2Score,
        keras.metrics.IoU,
        keras.metrics.SensitivityAtSpecificity,
    ]
    # The private bases (confusion-matrix counts, IoU, sensitivity/specificity)
    # cover their whole families; take them from the public classes' MRO.
    classes = set()
    for cls in public:
        for base in cls.__mro__:
            if base is keras.metrics.Metric:
                break
            classes.add(base)
    return tuple(classes)


class BatchRecorder:
    """What every backend's recorder shares; see the module docstring.

    Subclasses implement `_train_step` (the wrapper), `_allocate` (called once
    the metrics are known) and `read`.

    Args:
      model: a compiled `keras.Model`.
      capacity: int, the most batches held between two reads.
    """

    def __init__(self, model, capacity=DEFAULT_CAPACITY):
        self.capacity = capacity
        self.metric_names = ()
        self.exact_batch_values = ()
        self.keras_api = keras_api.for_model(model)
        self.signature = self.keras_api.compile_signature(model)
        self._model = model
        self._original_train_step = model.train_step
        self._swapped = None  # Set by `configure`.
        self.keras = self.keras_api.keras_module
        self._exact_mask = []
        self._failed = False

    def install(self):
        """Puts the wrapped train step on the model; rebuilds the function."""
        # object.__setattr__ keeps Keras's attribute tracking (and saving) away.
        object.__setattr__(self._model, "train_step", self._train_step)
        object.__setattr__(self._model, "_epochjump_recorder", self)
        self._model.make_train_function(force=True)

    def uninstall(self):
        """Restores the model's own train step."""
        model = self._model
        if model.__dict__.get("train_step") == self._train_step:
            del model.__dict__["train_step"]
        if model.__dict__.get("_epochjump_recorder") is self:
            del model.__dict__["_epochjump_recorder"]
        model.make_train_function(force=True)

    def configure(self, data=None):
        """Chooses what to record, once the model's metrics exist.

        Keras builds compiled metrics lazily (on the first trace, except on
        JAX), so with `data` they are first built symbolically from it.

        Args:
          data: a batch (possibly symbolic) to build the metrics from, or None
            when they are built already.
        """
        model = self._model
        if data is not None:
            self.keras_api.build_metrics(model, data)
        additive = additive_metric_classes(self.keras)
        swapped, inexact = [], set()
        for metric in self.keras_api.leaf_metrics(model):
            if isinstance(metric, additive):
                swapped.extend(metric.variables)
            else:
                # Keras may report a compiled weighted metric with a prefix.
                inexact.update((metric.name, f"weighted_{metric.name}"))
        results = model.get_metrics_result()
        self.metric_names = tuple(
            name for name, value in results.items() if len(value.shape) == 0
        )
        self._exact_mask = [n not in inexact for n in self.metric_names]
        nan_names = [n for n in self.metric_names if n in inexact]
        if nan_names:
            warnings.warn(
                f"epochjump: {', '.join(nan_names)}: not a built-in Keras metric "
                "whose state adds up over batches, so only the running mean is "
                "recorded (batch_value is NaN)",
                RuntimeWarning,
                stacklevel=2,
            )
        self.exact_batch_values = tuple(
            n for n, exact in zip(self.metric_names, self._exact_mask) if exact
        )
        self._swapped = swapped
        self._allocate()

    def _allocate(self):
        pass

    def batch_values(self, batch, nan):
        """The batch values in `metric_names` order, `nan` where inexact.

        Args:
          batch: dict of metric results computed on the batch alone.
          nan: the backend's NaN scalar.
        """
        return [
            batch[name] if exact else nan
            for name, exact in zip(self.metric_names, self._exact_mask)
        ]

    def rows(self, batch, running, nan):
        """The recorded row: batch values (NaN where inexact), running means.

        Args:
          batch: dict of metric results computed on the batch alone.
          running: dict of metric results after the batch (what Keras shows).
          nan: the backend's NaN scalar, for inexact batch values.

        Returns:
          `(batch_row, running_row)`, lists in `metric_names` order.
        """
        running_row = [running[name] for name in self.metric_names]
        return self.batch_values(batch, nan), running_row

    def failed(self, error):
        """Warns once that rows could not be recorded; training goes on."""
        if not self._failed:
            self._failed = True
            warnings.warn(
                f"epochjump: batch values could not be recorded ({error!r}); "
                "training continues without them",
                RuntimeWarning,
                stacklevel=3,
            )

    def split(self, steps, values, lost=0):
        """Turns read rows into `read()`'s return value, `Batches`.

        Args:
          steps: int64 array [n].
          values: float array [n, 2 * len(metric_names)].
          lost: int, batches lost before this read.
        """
        n = len(self.metric_names)
        values = np.asarray(values, np.float32).reshape(len(steps), 2 * n)
        batch_values = {m: values[:, i] for i, m in enumerate(self.metric_names)}
        running_means = {m: values[:, n + i] for i, m in enumerate(self.metric_names)}
        return Batches(np.asarray(steps, np.int64), batch_values, running_means, lost)

    def empty(self, lost=0):
        """`read()`'s return value when nothing was recorded."""
        return self.split(np.zeros(0, np.int64), np.zeros((0, 0)), lost)

    def read_buffer(self, buffer):
        """`read()` for the recorders that keep a `RowBuffer`."""
        steps, values, lost = buffer.take()
        if steps is None:
            return self.empty(lost)
        return self.split(steps, values, lost)


class RowBuffer:
    """The last `capacity` recorded rows, kept as device arrays until read.

    Args:
      capacity: int, the most rows held; older ones are dropped (and counted
        as lost) when nothing reads them, e.g. in a `fit` without the callback.
      to_host: function from a list of same-shape device arrays to one numpy
        array stacking them, in as few device-to-host copies as it can.
    """

    def __init__(self, capacity, to_host):
        self._to_host = to_host
        self._steps = collections.deque(maxlen=capacity)
        self._rows = collections.deque(maxlen=capacity)
        self._unread = 0

    def append(self, step, row):
        """Keeps one batch's step (a device scalar) and row (a device vector)."""
        self._steps.append(step)
        self._rows.append(row)
        self._unread += 1

    def take(self):
        """Returns `(steps, values, lost)` and empties the buffer: numpy arrays
        [n] and [n, width], and how many rows were dropped unread."""
        steps, rows = list(self._steps), list(self._rows)
        lost = self._unread - len(rows)
        self._steps.clear()
        self._rows.clear()
        self._unread = 0
        if not rows:
            return None, None, lost
        return self._to_host(steps), self._to_host(rows), lost


def running_logs(logs, running):
    """The train step's logs with metric values replaced by running means, so
    what Keras shows stays what it would show without epochjump."""
    if isinstance(logs, dict):
        return {k: running.get(k, v) for k, v in logs.items()}
    return logs
