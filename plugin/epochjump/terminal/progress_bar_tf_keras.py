"""`ProgressBar` for Keras 2 (`tf_keras`) models; `ProgressBar` resolves to it."""

from epochjump.record.keras_api import tf_keras
from epochjump.terminal import epoch_levels
from epochjump.terminal.progress_mixin import ProgressMixin


class TfKerasProgressBar(ProgressMixin, tf_keras.ProgbarLogger):
    """`epochjump.ProgressBar` for a `tf_keras` model; see `ProgressBar`.

    Args:
      half_life: as in `ProgressBar`.
      summary: as in `ProgressBar`.
    """

    _keras_package = "tf_keras"

    def __init__(self, half_life=epoch_levels.DEFAULT_HALF_LIFE, summary="lines"):
        # Steps, as the bar Keras 2 adds itself in `fit`.
        super().__init__(half_life=half_life, summary=summary, count_mode="steps")
