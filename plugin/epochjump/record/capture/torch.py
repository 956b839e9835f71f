"""Batch capture on Keras's PyTorch backend, whose train steps run eagerly.

Each batch's row is copied to the host as a small CPU tensor at every step
(`.cpu()`); `read()` stacks the unread rows once per flush.
"""

import numpy as np
import torch

from epochjump.record.capture import base


class TorchRecorder(base.BatchRecorder):
    """Records batch values and running means on the PyTorch backend."""

    def __init__(self, model, capacity=base.DEFAULT_CAPACITY):
        super().__init__(model, capacity)
        self._steps = []
        self._rows = []

    @torch.no_grad()
    def _snapshot(self, variables):
        return [v.value.detach().clone() for v in variables]

    def _train_step(self, data):
        model = self._model
        if self._swapped is None:
            self.configure(data)
        saved = self._snapshot(self._swapped)
        for variable, before in zip(self._swapped, saved):
            variable.assign(torch.zeros_like(before))
        logs = self._original_train_step(data)
        batch = model.get_metrics_result()
        for variable, before in zip(self._swapped, saved):
            variable.assign(before + variable.value.detach())
        running = model.get_metrics_result()

        nan = torch.tensor(float("nan"))
        batch_row, running_row = self.rows(batch, running, nan)
        with torch.no_grad():
            row = torch.stack(
                [
                    torch.as_tensor(v).detach().float().cpu()
                    for v in batch_row + running_row
                ]
            )
            self._rows.append(row)
            self._steps.append(model.optimizer.iterations.value.detach().clone())
        return base.running_logs(logs, running)

    def read(self):
        """Returns the batches recorded since the previous read.

        Returns:
          `(steps, batch_values, running_means, lost)`; `lost` is always 0.
        """
        steps, rows = self._steps, self._rows
        self._steps, self._rows = [], []
        if not rows:
            return self.empty()
        values = torch.stack(rows).numpy()
        steps = np.array([int(step) for step in steps], np.int64)
        return self.split(steps, values) + (0,)
