"""`epochjump.lightning.EpochJumpCallback`: the callback for PyTorch Lightning.

Importing this module imports Lightning (`pip install "epochjump[lightning]"`);
`import epochjump` alone does not.
"""

from epochjump.record.lightning_callback import EpochJumpCallback

__all__ = ["EpochJumpCallback"]
