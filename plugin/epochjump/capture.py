"""Captures exact per-batch metric values inside a Keras model's train step.

Keras keeps each metric as accumulated state (for `Mean`: a sum and a count)
and reports `result()`, the running mean since the epoch began. To record the
value of each batch alone, exactly, the wrapped train step:

1. saves the metric state and sets it to zero (the state of "no batches yet"),
2. runs the model's own train step, so the state holds this batch alone and
   `result()` is the batch value, computed by Keras's own code,
3. restores the state as `saved + batch`, which is bit-for-bit what Keras's
   own `assign_add` update would have produced, and reads the running means.

Both values go into a ring buffer of variables, so no value leaves the device
per batch: the callback reads the buffer once per flush. This works for every
metric whose state is a sum of per-batch contributions, which is every
built-in Keras metric (means, confusion-matrix counts, AUC, F-scores, R2, IoU).
For other custom metrics the running mean is recorded and the batch value is
NaN.
"""

import numpy as np

# Rows held on the device between two reads of the buffer.
DEFAULT_CAPACITY = 4096


def additive_metric_classes():
    """Keras metric base classes whose state updates are additive."""
    import keras

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


def leaf_metrics(model):
    """The model's metrics, with Keras's compile-metrics container expanded."""
    leaves = []
    for metric in model.metrics:
        if type(metric).__name__ == "CompileMetrics":
            leaves.extend(metric.metrics)
        else:
            leaves.append(metric)
    return leaves


class BatchRecorder:
    """Records batch values and running means of a compiled Keras model.

    Installed once per model (see `for_model`); each fit reads what the wrapped
    train step recorded with `read()`.

    Args:
      model: a compiled, built `keras.Model` (TensorFlow backend).
      capacity: int, rows in the device ring buffer.
    """

    def __init__(self, model, capacity=DEFAULT_CAPACITY):
        self.capacity = capacity
        self.metric_names = ()
        self.exact_batch_values = ()
        self._model = model
        self._original_train_step = model.train_step
        self._signature = _compile_signature(model)
        self._swapped = None  # Set when the train step is first traced.
        self._count = None
        self._read_count = 0

    def _configure(self, data):
        """Chooses what to record; runs once, when the step is first traced.

        Keras builds compiled metrics lazily, on the first trace, so they are
        built here first (symbolically, without running a step).
        """
        import tensorflow as tf

        model = self._model
        model._symbolic_build(data_batch=data)
        additive = additive_metric_classes()
        self._swapped = []
        inexact = set()
        for metric in leaf_metrics(model):
            if isinstance(metric, additive):
                self._swapped.extend(metric.variables)
            else:
                # Keras may report a compiled weighted metric with a prefix.
                inexact.update((metric.name, f"weighted_{metric.name}"))
        results = model.get_metrics_result()
        self.metric_names = tuple(
            name for name, value in results.items() if len(value.shape) == 0
        )
        self._exact_mask = [n not in inexact for n in self.metric_names]
        self.exact_batch_values = tuple(
            n for n, exact in zip(self.metric_names, self._exact_mask) if exact
        )
        with tf.init_scope():
            width = 2 * len(self.metric_names)
            self._values = tf.Variable(
                tf.zeros([self.capacity, width], tf.float32),
                trainable=False,
                name="epochjump_values",
            )
            self._steps = tf.Variable(
                tf.zeros([self.capacity], tf.int64),
                trainable=False,
                name="epochjump_steps",
            )
            self._count = tf.Variable(
                tf.constant(0, tf.int64), trainable=False, name="epochjump_count"
            )

    @classmethod
    def for_model(cls, model, capacity=DEFAULT_CAPACITY):
        """Returns the model's recorder, installing a new one when needed.

        A new one is installed on first use and after `compile()` changed the
        model's metrics; the train function is then rebuilt once.
        """
        recorder = getattr(model, "_epochjump_recorder", None)
        if recorder is not None and recorder._signature == _compile_signature(model):
            return recorder
        if recorder is not None:
            recorder.uninstall()
        recorder = cls(model, capacity)
        recorder._install()
        return recorder

    def _install(self):
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

    def _train_step(self, data):
        import tensorflow as tf

        model = self._model
        if self._swapped is None:
            self._configure(data)
        saved = [tf.identity(v.value) for v in self._swapped]
        for variable in self._swapped:
            variable.assign(tf.zeros(variable.shape, variable.dtype))
        logs = self._original_train_step(data)
        batch = model.get_metrics_result()
        for variable, before in zip(self._swapped, saved):
            variable.assign(before + variable.value)
        running = model.get_metrics_result()

        batch_row = [
            tf.cast(batch[name], tf.float32)
            if exact
            else tf.constant(np.nan, tf.float32)
            for name, exact in zip(self.metric_names, self._exact_mask)
        ]
        running_row = [tf.cast(running[name], tf.float32) for name in self.metric_names]
        row = tf.math.floormod(self._count, self.capacity)
        self._values.scatter_update(
            tf.IndexedSlices(tf.stack(batch_row + running_row)[None], row[None])
        )
        self._steps.scatter_update(
            tf.IndexedSlices(
                tf.cast(model.optimizer.iterations, tf.int64)[None], row[None]
            )
        )
        self._count.assign_add(1)
        if isinstance(logs, dict):
            # What Keras shows must stay the running mean, as without us.
            logs = {k: running.get(k, v) for k, v in logs.items()}
        return logs

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `(steps, batch_values, running_means, lost)`: int64 array, dicts from
          metric name to float32 arrays, and the number of batches overwritten
          in the ring buffer before they were read (0 unless the caller did
          not read in time).
        """
        if self._count is None:
            empty = np.zeros(0, np.float32)
            names = self.metric_names
            return (
                np.zeros(0, np.int64),
                {m: empty for m in names},
                {m: empty for m in names},
                0,
            )
        count = int(self._count.numpy())
        new = count - self._read_count
        lost = max(0, new - self.capacity)
        new = min(new, self.capacity)
        rows = np.arange(count - new, count) % self.capacity
        self._read_count = count
        values = self._values.numpy()[rows]
        steps = self._steps.numpy()[rows]
        n = len(self.metric_names)
        batch_values = {m: values[:, i] for i, m in enumerate(self.metric_names)}
        running_means = {m: values[:, n + i] for i, m in enumerate(self.metric_names)}
        return steps, batch_values, running_means, lost


def _compile_signature(model):
    """Changes when `compile()` gives the model new metrics or losses."""
    return tuple(
        id(getattr(model, name, None))
        for name in ("_compile_metrics", "_compile_loss", "_loss_tracker", "optimizer")
    )
