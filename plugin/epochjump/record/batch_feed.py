"""One model's batch recorder shared by several readers (callback, progress bar).

A recorder's `read()` consumes its rows, so two readers of one recorder would
each see only part of the batches. A `BatchFeed` owns the model's recorder,
reads it for whichever subscriber asks, and keeps the rows for every other
subscriber until that one reads too. Subscribers also share the evaluations
made after an epoch (`train_eval`), which only `EpochJumpCallback` computes.
"""

import weakref

import numpy as np

from epochjump.record import capture
from epochjump.record.capture.base import Batches


def subscribe(model, subscriber, shares=()):
    """Subscribes `subscriber` to the batches `model` records from now on.

    Installs the model's recorder if needed (see `capture.recorder_for`).
    Rows recorded before the call are delivered to the earlier subscribers,
    not to this one. Subscribing again (a new `fit()`) starts afresh.

    Args:
      model: a compiled Keras model.
      subscriber: any object (a callback); it names the subscription.
      shares: kinds of evaluation this subscriber will share after each epoch
        (`Subscription.share_eval`), e.g. `("train_eval",)`.

    Returns:
      A `Subscription`.
    """
    recorder = capture.recorder_for(model)
    feed = model.__dict__.get("_epochjump_feed")
    if feed is None or feed.recorder is not recorder:
        feed = BatchFeed(recorder)
        # object.__setattr__ keeps Keras's attribute tracking (and saving) away.
        object.__setattr__(model, "_epochjump_feed", feed)
    return feed.subscribe(subscriber, shares)


class BatchFeed:
    """Reads one recorder and delivers each row to every subscriber once.

    Args:
      recorder: a `capture.base.BatchRecorder`, installed on its model.
    """

    def __init__(self, recorder):
        self.recorder = recorder
        self._pending = {}  # id(subscriber) -> list of `Batches`
        self._evals = {}  # id(subscriber) -> {kind: (epoch, values)}
        self._listeners = {}  # id(subscriber) -> callable(kind, epoch, values)
        # A subscriber dropped without `close()` (an interrupted fit) must not
        # keep collecting rows.
        self._refs = {}
        self._shares = {}  # id(subscriber) -> kinds it shares

    def subscribe(self, subscriber, shares=()):
        """See the module-level `subscribe`."""
        self.pull()  # Rows so far belong to the earlier subscribers.
        key = id(subscriber)
        self._pending[key] = []
        self._evals[key] = {}
        self._listeners.pop(key, None)
        self._shares[key] = frozenset(shares)
        self._refs[key] = weakref.ref(subscriber, lambda _: self.unsubscribe(key))
        return Subscription(self, key)

    def pull(self):
        """Reads the recorder once and queues its rows for every subscriber."""
        batches = self.recorder.read()
        if len(batches.steps) or batches.lost:
            for queue in self._pending.values():
                queue.append(batches)

    def take(self, key):
        """Everything queued for one subscriber, merged into one `Batches`,
        after pulling the recorder."""
        self.pull()
        queue = self._pending.get(key)
        if not queue:
            return self.recorder.empty()
        self._pending[key] = []
        if len(queue) == 1:
            return queue[0]
        names = self.recorder.metric_names
        return Batches(
            steps=np.concatenate([q.steps for q in queue]),
            batch_values={
                m: np.concatenate([q.batch_values[m] for q in queue]) for m in names
            },
            running_means={
                m: np.concatenate([q.running_means[m] for q in queue]) for m in names
            },
            lost=sum(q.lost for q in queue),
        )

    def share_eval(self, kind, epoch, values):
        """Hands an evaluation made after `epoch` to every subscriber."""
        for key in self._evals:
            self._evals[key][kind] = (epoch, dict(values))
        for listener in list(self._listeners.values()):
            listener(kind, epoch, values)

    def unsubscribe(self, key):
        """Forgets one subscriber (its `Subscription.close()`)."""
        for table in (
            self._pending,
            self._evals,
            self._listeners,
            self._refs,
            self._shares,
        ):
            table.pop(key, None)


class Subscription:
    """One subscriber's view of a `BatchFeed`: its rows, in order, once.

    Attributes:
      capacity: int, the most batches the recorder holds between two reads.
      metric_names: tuple of str, the recorded metrics (after the first step).
    """

    def __init__(self, feed, key):
        self._feed = feed
        self._key = key

    @property
    def capacity(self):
        return self._feed.recorder.capacity

    @property
    def metric_names(self):
        return self._feed.recorder.metric_names

    def read(self):
        """The batches recorded since this subscription's previous read.

        Returns:
          `capture.base.Batches`, as the recorder's `read()`.
        """
        return self._feed.take(self._key)

    def share_eval(self, kind, epoch, values):
        """Tells the other subscribers about an evaluation after `epoch`.

        Args:
          kind: str, e.g. "train_eval".
          epoch: int, the 0-based epoch (as Keras passes it to callbacks).
          values: dict from metric name to float.
        """
        self._feed.share_eval(kind, epoch, values)

    def shared_kinds(self):
        """The kinds of evaluation the other subscribers share."""
        others = (k for key, k in self._feed._shares.items() if key != self._key)
        return frozenset().union(*others)

    def eval_for(self, kind, epoch):
        """The values shared for `kind` after `epoch`, or None."""
        shared = self._feed._evals.get(self._key, {}).get(kind)
        if shared is None or shared[0] != epoch:
            return None
        return shared[1]

    def on_eval(self, listener):
        """Calls `listener(kind, epoch, values)` at each shared evaluation."""
        self._feed._listeners[self._key] = listener

    def close(self):
        """Stops the deliveries (at the end of `fit()`)."""
        self._feed.unsubscribe(self._key)
