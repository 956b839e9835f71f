"""When a writer whose writes fail tries again, and what its one warning says."""

# While a store stays unreachable, each attempt waits for its client's own
# retries (gcsfs: about 30 s), so a URL's retries back off up to this often.
MAX_RETRY_SECS = 300.0


class Retries:
    """The writer's failed flushes in a row, and when the next one is due.

    On disk a failed write is retried every `flush_secs`; at a URL after
    `flush_secs`, then twice as long each time, up to `MAX_RETRY_SECS`.

    Args:
      flush_secs: float, the writer's flush interval.
      remote: bool, whether the run directory is a URL.
    """

    def __init__(self, flush_secs, remote):
        self.flush_secs = flush_secs
        self.remote = remote
        self.failures = 0

    @property
    def failing(self):
        return self.failures > 0

    def delay(self):
        """Seconds from the last flush to the next one."""
        if not self.remote or not self.failing:
            return self.flush_secs
        return min(self.flush_secs * 2 ** (self.failures - 1), MAX_RETRY_SECS)

    def due(self, since_last_flush):
        """Whether a flush asked for now should be tried (at a URL, a
        flush during the back-off is not)."""
        if not self.remote or not self.failing:
            return True
        return since_last_flush >= self.delay()

    def words(self, max_buffered):
        """What happens to the unwritten data, for the outage's warning."""
        when = f"every {self.flush_secs:g} s"
        if self.remote:
            when = (
                f"after {self.flush_secs:g} s, then less and less often (up to "
                f"every {MAX_RETRY_SECS:g} s) while the store stays unreachable"
            )
        return (
            f"they stay in memory (at most {max_buffered} batches) and are "
            f"retried {when}; what is still not written when the writer "
            "closes is lost"
        )
