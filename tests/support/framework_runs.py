"""What the Lightning and Transformers callback tests share: a run whose writes
fail, and `epochjump explain` on a recorded run."""

import subprocess
import sys
import warnings

import epochjump


def explain_output(log_dir, *args):
    """What `epochjump explain LOG_DIR ARGS...` prints; it must exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "epochjump.cli", "explain", str(log_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def train_with_failing_writes(monkeypatch, train):
    """Runs `train()` while `Writer.log_batch` raises, and checks the warnings.

    Args:
      monkeypatch: pytest's fixture.
      train: a function that trains with an epochjump callback.

    Returns:
      What `train()` returned, after asserting that epochjump warned at least
      once, never twice alike, at most once per hook, naming the fault.
    """

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(epochjump.Writer, "log_batch", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train()
    ours = [str(w.message) for w in caught if "epochjump" in str(w.message)]
    assert ours and len(ours) == len(set(ours)) <= 3, ours
    assert all("disk full" in message for message in ours), ours
    return result
