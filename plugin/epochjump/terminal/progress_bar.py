"""`ProgressBar`: Keras's bar, with the model's level beside the running mean."""

import os

from epochjump.record.keras_api import keras3
from epochjump.terminal import epoch_levels
from epochjump.terminal.progress_mixin import ProgressMixin


class ProgressBar(ProgressMixin, keras3.ProgbarLogger):
    """Keras's progress bar, showing where the model is beside the running mean.

    During an epoch each metric shows Keras's running mean and the model's
    current level, an exponentially weighted mean of the exact batch values
    (weights halve every `half_life` batches): `accuracy: 0.8918 (now
    0.9310)`. After each epoch's line, one line per metric says what the
    printed number is and where the model ended the epoch: `level_at_end`
    ± its standard error, by the estimator of `epochjump explain`
    (`analysis.levels.level_at_end` on the epoch's batch values), the
    training subset evaluated by `EpochJumpCallback` (when it is in
    `callbacks` too) and validation:

    ```python
    model.fit(x, y, epochs=10, validation_data=(x_val, y_val),
              callbacks=[epochjump.ProgressBar()])
    ```

    Being a `ProgbarLogger`, it replaces Keras's own bar and follows `fit`'s
    `verbose`. Alone, it writes nothing to disk. It resolves to the bar of
    the Keras that runs the model when it is created: Keras 2 (`tf_keras`)
    when `keras_package="tf_keras"`, or by default when TF_USE_LEGACY_KERAS
    is set as TensorFlow reads it; Keras 3 otherwise.

    Args:
      half_life: positive number, default 10: after how many batches a
        batch's weight in the live level has halved.
      summary: "lines" (default, one line per metric after each epoch),
        "line" (one compact line) or None (the live levels only).
      keras_package: "keras", "tf_keras" or None (default, see above).
    """

    _keras_package = "keras"

    def __new__(cls, *args, keras_package=None, **kwargs):
        if keras_package not in (None, "keras", "tf_keras"):
            raise ValueError(
                '`keras_package` must be "keras", "tf_keras" or None. '
                f"Received: keras_package={keras_package!r}"
            )
        if keras_package is None:
            legacy = os.environ.get("TF_USE_LEGACY_KERAS") in ("true", "True", "1")
            keras_package = "tf_keras" if legacy else "keras"
        if cls is ProgressBar and keras_package == "tf_keras":
            from epochjump.terminal.progress_bar_tf_keras import TfKerasProgressBar

            return TfKerasProgressBar(*args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        half_life=epoch_levels.DEFAULT_HALF_LIFE,
        summary="lines",
        keras_package=None,
    ):
        super().__init__(half_life=half_life, summary=summary)
