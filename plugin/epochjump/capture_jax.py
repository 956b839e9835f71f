"""Batch capture on Keras's JAX backend: a host callback from the jitted step.

On JAX the train step is a pure function of `(state, data)`: the metric state
travels in `state`, so the save / zero / restore of `capture` is done on those
arrays, and each batch's row reaches the host through `jax.debug.callback`.
`read()` waits for pending callbacks (`jax.effects_barrier`) once per flush.
"""

import threading

import jax
import jax.numpy as jnp
import keras
import numpy as np

from epochjump import capture


class JaxRecorder(capture.BatchRecorder):
    """Records batch values and running means on the JAX backend."""

    def __init__(self, model, capacity=capture.DEFAULT_CAPACITY):
        super().__init__(model, capacity)
        self._lock = threading.Lock()
        self._received = []  # (step, row) per batch, in arrival order
        # JAX's fit builds every variable before tracing, metrics included.
        self.configure()

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
        batch_row, running_row = self.rows(batch, running, jnp.float32(jnp.nan))
        row = jnp.stack([jnp.asarray(v, jnp.float32) for v in batch_row + running_row])
        jax.debug.callback(self._receive, optimizer_state[self._iterations_index], row)
        new_state = (trainable, non_trainable, optimizer_state, merged)
        return capture.running_logs(logs, running), new_state

    def _receive(self, step, row):
        with self._lock:
            self._received.append((int(step), np.asarray(row)))

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `(steps, batch_values, running_means, lost)`; `lost` is always 0.
        """
        jax.effects_barrier()
        with self._lock:
            received, self._received = self._received, []
        if not received:
            return self.empty()
        received.sort(key=lambda item: item[0])
        steps = np.array([step for step, _ in received], np.int64)
        values = np.stack([row for _, row in received])
        return self.split(steps, values) + (0,)


def _metrics_result(model, metrics_state):
    mapping = list(zip(model.metrics_variables, metrics_state))
    with keras.StatelessScope(state_mapping=mapping):
        return model.get_metrics_result()
