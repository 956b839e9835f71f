"""epochjump: see why Keras metrics jump between epochs.

Record with `EpochJumpCallback` (Keras) or `Writer` (any training loop), then
open TensorBoard's "Epoch Jump" tab or run `epochjump explain RUN_DIR`.
"""

from epochjump.analysis.jumps import explain
from epochjump.read.opener import read_run
from epochjump.read.run_data import RunData
from epochjump.record.writer import Writer

__all__ = [
    "EpochJumpCallback",
    "ProgressBar",
    "RunData",
    "Writer",
    "explain",
    "plot",
    "read_run",
]
__version__ = "0.1.0"


def __getattr__(name):
    # Keras is imported only when the callback is used, so TensorBoard can load
    # the plugin (which imports this package) without Keras or TensorFlow.
    if name == "EpochJumpCallback":
        from epochjump.record.callback import EpochJumpCallback

        return EpochJumpCallback
    if name == "ProgressBar":
        from epochjump.terminal.progress_bar import ProgressBar

        return ProgressBar
    # matplotlib, likewise, is imported only when a picture is drawn.
    if name == "plot":
        from epochjump.share.plotting import plot

        return plot
    raise AttributeError(f"module 'epochjump' has no attribute {name!r}")
