"""Run by tests/record/test_transformers.py: a Trainer fit that crashes mid-epoch.

The Trainer calls no callback hook then; the steps recorded before the crash
must still reach the event file, when the process exits.

Usage: python trainer_crash.py LOG_DIR CRASH_AT_STEP
"""

import os
import pathlib
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from transformers import TrainerCallback  # noqa: E402

from epochjump.transformers import EpochJumpCallback  # noqa: E402
from support.trainer_fits import train  # noqa: E402


class Crash(Exception):
    pass


class CrashAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == self.step:
            raise Crash(f"crashed at step {self.step}")


if __name__ == "__main__":
    log_dir = pathlib.Path(sys.argv[1])
    callbacks = [EpochJumpCallback(log_dir), CrashAt(int(sys.argv[2]))]
    train(log_dir.parent, callbacks)  # Raises Crash.
