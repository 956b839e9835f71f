"""Batch capture on Keras's TensorFlow backend and Keras 2: a ring buffer on the device.

The wrapped step writes each batch's row into `tf.Variable`s, so no value is
copied to the host per batch; `read()` copies the unread rows once per flush.
The ops are XLA-compatible (no timestamps), for `jit_compile=True`.
"""

import numpy as np
import tensorflow as tf

from epochjump.record.capture import base


class TensorFlowRecorder(base.BatchRecorder):
    """Records batch values and running means on the TensorFlow backend."""

    def __init__(self, model, capacity=base.DEFAULT_CAPACITY):
        super().__init__(model, capacity)
        self._count = None
        self._read_count = 0

    def _allocate(self):
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

    def _train_step(self, data):
        model = self._model
        if self._swapped is None:  # First trace.
            self.configure(data)
        # When the input runs out (a dataset of unknown length), TensorFlow
        # still runs the stateful ops that do not depend on the data: ours must
        # depend on it, or the metric state would be zeroed and left so.
        with tf.control_dependencies(_tensors(data)):
            saved = [tf.identity(v) for v in self._swapped]
            for variable in self._swapped:
                variable.assign(tf.zeros(variable.shape, variable.dtype))
        logs = self._original_train_step(data)
        replicas = tf.distribute.get_replica_context()
        if replicas is None or replicas.num_replicas_in_sync == 1:
            batch = _frozen(model.get_metrics_result())
            for variable, before in zip(self._swapped, saved):
                variable.assign(before + tf.convert_to_tensor(variable))
            running = shown = model.get_metrics_result()
        else:
            batch, running, shown = self._global_results(replicas, saved)

        batch_row, running_row = self.rows(
            batch, running, tf.constant(np.nan, tf.float32)
        )
        row = tf.stack([tf.cast(v, tf.float32) for v in batch_row + running_row])
        with tf.control_dependencies([row]):
            index = tf.math.floormod(self._count, self.capacity)[None]
            self._values.scatter_update(tf.IndexedSlices(row[None], index))
            step = tf.cast(model.optimizer.iterations, tf.int64)[None]
            self._steps.scatter_update(tf.IndexedSlices(step, index))
            self._count.assign_add(1)
        return base.running_logs(logs, shown)

    def _global_results(self, replicas, saved):
        """Batch and running results over all replicas of a `tf.distribute`
        strategy; each replica's metric state holds only its share of the
        batch. Leaves each replica's state as Keras would have (its own).

        Returns:
          `(batch, running, shown)` dicts of metric results: batch and running
          over all replicas (the same on every replica), and this replica's own
          running results, which Keras reduces into the logs it shows.
        """
        model = self._model
        local_batch = [tf.identity(v) for v in self._swapped]
        local_running = [s + b for s, b in zip(saved, local_batch)]
        results = []
        for local in (local_batch, local_running):
            for variable, total in zip(
                self._swapped, replicas.all_reduce("sum", local)
            ):
                variable.assign(total)
            results.append(_frozen(model.get_metrics_result()))
        for variable, own in zip(self._swapped, local_running):
            variable.assign(own)
        return results[0], results[1], model.get_metrics_result()

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `base.Batches`; its `lost` counts the batches overwritten in the
          ring buffer before they were read (0 unless the caller did not read
          in time).
        """
        if self._count is None:
            return self.empty()
        count = int(self._count.numpy())
        new = count - self._read_count
        lost = max(0, new - self.capacity)
        new = min(new, self.capacity)
        rows = np.arange(count - new, count) % self.capacity
        self._read_count = count
        steps = self._steps.numpy()[rows]
        values = self._values.numpy()[rows]
        return self.split(steps, values, lost)


def _frozen(results):
    """`results` read now: a `result()` may return its variable itself, which
    would be read after the restore."""
    return {k: tf.identity(v) for k, v in results.items()}


def _tensors(data):
    return [t for t in tf.nest.flatten(data) if isinstance(t, tf.Tensor)]
