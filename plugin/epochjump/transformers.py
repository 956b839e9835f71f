"""`epochjump.transformers.EpochJumpCallback`: the callback for Hugging Face's Trainer.

Importing this module imports transformers (`pip install
"epochjump[transformers]"`); `import epochjump` alone does not.
"""

from epochjump.record.transformers_callback import EpochJumpCallback

__all__ = ["EpochJumpCallback"]
