"""Running means computed as Keras computes them, for loops that log batch values."""

import numbers


class RunningMeans:
    """The epoch's mean so far of each metric, weighted by each batch's weight.

    Keras's `Mean` metrics accumulate `value * weight` and `weight` and report
    their ratio; this does the same in float64, reset at each epoch start.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        """Starts a new epoch: no batch seen yet."""
        self._totals = {}
        self._weight = 0.0

    def update(self, values, weight):
        """Adds one batch and returns the running means after it.

        Args:
          values: dict from metric name to float, the batch's values.
          weight: positive number, the batch's weight (e.g. its sample count).

        Returns:
          A dict from metric name to its running mean.

        Raises:
          ValueError: if `weight` is not a positive number.
        """
        if type(weight) not in (float, int) and not isinstance(weight, numbers.Real):
            raise ValueError(
                f"`weight` must be a positive number. Received: weight={weight!r}"
            )
        if not weight > 0:
            raise ValueError(
                f"`weight` must be a positive number. Received: weight={weight!r}"
            )
        self._weight += weight
        means = {}
        for metric, value in values.items():
            total = self._totals.get(metric, 0.0) + value * weight
            self._totals[metric] = total
            means[metric] = total / self._weight
        return means
