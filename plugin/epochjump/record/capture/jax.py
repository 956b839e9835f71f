"""Batch capture on Keras's JAX backend.

On JAX the train step is a pure function of `(state, data)`: the metric state
travels in `state`, so the save / zero / restore of `capture` is done on those
arrays. Each batch's row leaves the jitted step as an extra output, which is
taken out of the logs right after each step, before Keras sees them, into a
`base.RowBuffer`; rows stay device arrays until `read()` stacks them on the
device in blocks of 64 and copies the blocks with one `jax.device_get` per
flush (a host callback per step would cost more than the step itself).

In a multi-process job (`jax.distributed` with a `keras.distribution`), the
step computes the metrics over the whole global batch, so each row is the
global value, replicated on every device; each process reads its own copy, so
reading never waits for, or runs a program on, another process.
"""

import jax
import jax.numpy as jnp
import keras
import numpy as np

from epochjump.record.capture import base


class JaxRecorder(base.BatchRecorder):
    """Records batch values and running means on the JAX backend."""

    def __init__(self, model, capacity=base.DEFAULT_CAPACITY):
        super().__init__(model, capacity)
        self._buffer = base.RowBuffer(capacity, _to_host)
        # JAX's fit builds every variable before tracing, metrics included.
        self.configure()

    def install(self):
        """Wraps the train step, and takes each step's row out of its logs
        before Keras's loop sees them (so every step of a
        `steps_per_execution` chunk is recorded too)."""
        model = self._model
        make_function = model._make_function

        def make_recording_function(step_function, *args, **kwargs):
            def recording_step(state, data):
                logs, state = step_function(state, data)
                row = logs.pop(_ROW, None)
                step = logs.pop(_STEP, None)
                if row is not None:
                    self._buffer.append(step, row)
                return logs, state

            return make_function(recording_step, *args, **kwargs)

        object.__setattr__(model, "_make_function", make_recording_function)
        try:
            super().install()
        finally:
            del model.__dict__["_make_function"]

    def _allocate(self):
        model = self._model
        swapped = {id(v) for v in self._swapped}
        self._swap_mask = [id(v) in swapped for v in model.metrics_variables]
        self._iterations_index = next(
            i
            for i, v in enumerate(model.optimizer.variables)
            if v is model.optimizer.iterations
        )

    def _train_step(self, state, data):
        model = self._model
        trainable, non_trainable, optimizer_state, metrics_state = state
        zeroed = [
            jnp.zeros_like(value) if swap else value
            for value, swap in zip(metrics_state, self._swap_mask)
        ]
        logs, (trainable, non_trainable, optimizer_state, batch_state) = (
            self._original_train_step(
                (trainable, non_trainable, optimizer_state, zeroed), data
            )
        )
        merged = [
            before + batch if swap else batch
            for before, batch, swap in zip(metrics_state, batch_state, self._swap_mask)
        ]
        batch = _metrics_result(model, batch_state)
        running = _metrics_result(model, merged)
        logs = dict(base.running_logs(logs, running))
        try:
            batch_row, running_row = self.rows(batch, running, jnp.float32(jnp.nan))
            row = jnp.stack(
                [jnp.asarray(v, jnp.float32) for v in batch_row + running_row]
            )
        except Exception as e:  # noqa: BLE001 - logging must not stop training.
            self.failed(e)  # At trace time: this step records no row.
        else:
            logs[_ROW] = row
            logs[_STEP] = optimizer_state[self._iterations_index]
        new_state = (trainable, non_trainable, optimizer_state, merged)
        return logs, new_state

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `(steps, batch_values, running_means, lost)`: int64 array, dicts from
          metric name to float32 arrays, and the number of batches dropped
          unread (0 unless nothing read them, e.g. a `fit` without the
          callback).
        """
        return self.read_buffer(self._buffer)


# Extra outputs of the wrapped step, removed before Keras sees the logs.
_ROW = "__epochjump_row"
_STEP = "__epochjump_step"


def _metrics_result(model, metrics_state):
    mapping = list(zip(model.metrics_variables, metrics_state))
    with keras.StatelessScope(state_mapping=mapping):
        results = model.get_metrics_result()
        # A `result()` may return a variable: read it while the scope holds
        # the state it stands for.
        return {
            k: v.value if isinstance(v, keras.Variable) else v
            for k, v in results.items()
        }


# Rows are stacked on the device this many at a time, by one function
# compiled once per row shape: moving each row to the host by itself costs
# about 9 us a batch, more than a third of a small model's step.
_CHUNK = 64


@jax.jit
def _stack(*arrays):
    return jnp.stack(arrays)


def _to_host(arrays):
    """Stacks same-shape device arrays into one numpy array, moving them in
    `_CHUNK`-row blocks (the last one padded with copies of its last row)."""
    arrays = [_local_copy(a) for a in arrays]
    try:
        blocks = []
        for start in range(0, len(arrays), _CHUNK):
            block = list(arrays[start : start + _CHUNK])
            count = len(block)
            block += block[-1:] * (_CHUNK - count)
            blocks.append((_stack(*block), count))
        moved = jax.device_get([block for block, _ in blocks])
        return np.concatenate([m[:count] for m, (_, count) in zip(moved, blocks)])
    except Exception:  # noqa: BLE001 - e.g. rows placed apart: one by one.
        return np.stack(jax.device_get(arrays))


def _local_copy(array):
    """This process's copy of a row replicated over a multi-process job (a
    jitted stack of the global arrays would be a program of the whole job,
    run at different times by the processes' own flushes)."""
    if getattr(array, "is_fully_addressable", True) or not array.is_fully_replicated:
        return array
    return array.addressable_data(0)
