"""The writer's batches not written yet, kept compact in memory."""

import math

import numpy as np


class BatchBuffer:
    """Batches not written yet: numpy segments, plus the rows `log_batch`
    appended since the last segment (lists are fastest to append to)."""

    def __init__(self):
        self._segments = []  # (steps int64, wall times float64, {key: float64})
        self._steps, self._walls, self._rows = [], [], {}
        self._size = 0

    def __len__(self):
        return self._size

    def append_row(self, step, wall_time, row):
        n = len(self._steps)
        self._steps.append(step)
        self._walls.append(wall_time)
        for key, value in row.items():
            column = self._rows.get(key)
            if column is None:
                column = self._rows[key] = [math.nan] * n
            column.append(value)
        if len(row) != len(self._rows):
            for column in self._rows.values():
                if len(column) == n:
                    column.append(math.nan)
        self._size += 1

    def append_arrays(self, steps, wall_times, columns):
        self._seal()
        self._segments.append((steps, wall_times, columns))
        self._size += len(steps)

    def compact(self):
        """Stores everything as one segment: 8 bytes per value."""
        self.arrays()

    def _seal(self):
        if self._steps:
            columns = {k: np.asarray(v, np.float64) for k, v in self._rows.items()}
            steps = np.asarray(self._steps, np.int64)
            self._segments.append((steps, np.asarray(self._walls), columns))
            self._steps, self._walls, self._rows = [], [], {}

    def arrays(self):
        """Returns `(steps, wall_times, {key: values})`; NaN where missing."""
        self._seal()
        if not self._segments:
            return np.zeros(0, np.int64), np.zeros(0), {}
        if len(self._segments) > 1:
            keys = set().union(*(columns for _, _, columns in self._segments))
            columns = {
                key: np.concatenate(
                    [c.get(key, np.full(len(s), np.nan)) for s, _, c in self._segments]
                )
                for key in keys
            }
            steps = np.concatenate([s for s, _, _ in self._segments])
            walls = np.concatenate([w for _, w, _ in self._segments])
            self._segments = [(steps, walls, columns)]
        return self._segments[0]

    def drop_oldest(self, count):
        """Drops the `count` oldest batches, in time independent of the
        buffer's size (this runs at every batch while writes fail)."""
        self._size -= count
        while count and self._segments:
            steps, walls, columns = self._segments[0]
            if count >= len(steps):
                count -= len(steps)
                del self._segments[0]
            else:
                columns = {key: values[count:] for key, values in columns.items()}
                self._segments[0] = (steps[count:], walls[count:], columns)
                count = 0
        if count:
            del self._steps[:count]
            del self._walls[:count]
            for column in self._rows.values():
                del column[:count]
