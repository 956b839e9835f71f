"""Batch capture on Keras's PyTorch backend, whose train steps run eagerly.

The metric state is saved, zeroed and restored with one fused `torch._foreach_*`
call each. `torch_results.MetricsResult` computes the metrics' results in a
few fused ops, twice per batch: as the answer to the `get_metrics_result()`
call of Keras's own step (the batch values, while that step runs on a model
of Keras's own `train_step`), and after the restore (the running means).
Each batch's row is a tensor on the metrics' device, kept in a
`base.RowBuffer`; `read()` stacks the unread rows and copies them to the host
once per flush, so no step waits for the device.
"""

import threading

import keras
import numpy as np
import torch

from epochjump.record.capture import base
from epochjump.record.capture import torch_results


class TorchRecorder(base.BatchRecorder):
    """Records batch values and running means on the PyTorch backend."""

    def __init__(self, model, capacity=base.DEFAULT_CAPACITY):
        super().__init__(model, capacity)
        self._buffer = base.RowBuffer(capacity, _to_host)
        self._saved = None
        self._nan = None
        self._running = None
        self._batch_vector = None
        self._step_thread = None
        self._logs_are_results = _logs_are_metrics_results(model)

    def _allocate(self):
        with torch.no_grad():
            state = [torch_results.storage(v) for v in self._swapped]
            self._saved = [t.detach().clone() for t in state]
            device = state[0].device if state else None
            self._nan = torch.tensor(float("nan"), device=device)
        self._running = torch_results.MetricsResult(self._model, self.metric_names)

    def _train_step(self, data):
        model = self._model
        if self._swapped is None:
            self.configure(data)
        state = [torch_results.storage(v) for v in self._swapped]
        with torch.no_grad():
            if state:  # The fused ops take no empty list.
                torch._foreach_copy_(self._saved, state)
                torch._foreach_zero_(state)
        # Keras's own step asks `get_metrics_result()` for its logs: the fused
        # one answers with the same bits, in a fraction of the ops (unless
        # the model has a `get_metrics_result` of its own, set on it).
        fused = (
            self._logs_are_results
            and self._running.fused
            and "get_metrics_result" not in model.__dict__
        )
        if fused:
            self._step_thread = threading.get_ident()
            model.__dict__["get_metrics_result"] = self._batch_results
        self._batch_vector = None
        try:
            logs = self._original_train_step(data)
            if self._running.vector_is_row and self._batch_vector is not None:
                batch_row = self._batch_vector  # A new tensor, not the state.
            else:
                batch = logs if self._logs_are_results else model.get_metrics_result()
                # A copy before the restore: some results are views of the state.
                batch_row = self._row_tensor(batch, exact_only=True)
        finally:
            if fused:
                model.__dict__.pop("get_metrics_result", None)
            with torch.no_grad():
                if state:
                    torch._foreach_add_(state, self._saved)
        # No autograd from here on: the metric state takes no gradients.
        running, vector = self._running()
        if batch_row is not None:
            if self._running.vector_is_row:
                running_row = vector
            else:
                running_row = self._row_tensor(running)
            if running_row is not None:
                iterations = torch_results.storage(model.optimizer.iterations)
                step = iterations.detach().clone()
                self._buffer.append(step, torch.cat([batch_row, running_row]))
        return base.running_logs(logs, running)

    def _batch_results(self):
        """`get_metrics_result()` inside Keras's step, on the batch's state;
        keeps the plain means' vector as `_batch_vector`."""
        if threading.get_ident() != self._step_thread:
            # E.g. another callback's batch-end hook, run by Keras's thread
            # pool while this step runs: Keras's own answer, our row untouched.
            return type(self._model).get_metrics_result(self._model)
        results, self._batch_vector = self._running()
        return results

    def _row_tensor(self, results, exact_only=False):
        """`results` in `metric_names` order as one new float32 tensor (NaN
        where the batch value is inexact, with `exact_only`), or None, with one
        warning, when a result is not a scalar PyTorch can take."""
        if exact_only:
            values = self.batch_values(results, self._nan)
        else:
            values = [results[name] for name in self.metric_names]
        try:
            with torch.no_grad():
                return torch.stack([_tensor(v, self._nan) for v in values]).to(
                    torch.float32
                )
        except Exception as e:  # noqa: BLE001 - logging must not stop training.
            self.failed(e)
            return None

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `base.Batches`; its `lost` counts the batches dropped unread (0
          unless nothing read them, e.g. a `fit` without the callback).
        """
        return self.read_buffer(self._buffer)


def _logs_are_metrics_results(model):
    """Whether the train step's logs are `get_metrics_result()` itself, so
    the batch results need no second computation: Keras's own step."""
    cls = type(model)
    return all(
        getattr(cls, name) is getattr(keras.Model, name)
        for name in ("train_step", "compute_metrics", "get_metrics_result")
    )


def _tensor(value, like):
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "value") and isinstance(value.value, torch.Tensor):
        return value.value  # A Keras variable.
    return torch.as_tensor(np.asarray(value), device=like.device)


def _to_host(tensors):
    return torch.stack(tensors).detach().cpu().numpy()
