"""The training-mode evaluation on a Keras 2 (`tf_keras`) model, and a
`History` untouched by both evaluations: training_mode_exactness.py's checks
on tf_keras models. Run as a script by test_training_mode.py with
TF_USE_LEGACY_KERAS=1. Exits non-zero on failure."""

import os
import sys

import tf_keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from support.keras_fits import digits  # noqa: E402
from support.training_mode_exactness import N  # noqa: E402
from support.training_mode_exactness import check_batch_norm_by_hand  # noqa: E402
from support.training_mode_exactness import check_untouched_history  # noqa: E402


def main(log_root):
    x, y = digits(N + 64)
    check_untouched_history(log_root, x, y, tf_keras)
    check_batch_norm_by_hand(log_root, x, y, tf_keras)
    print("exact")


if __name__ == "__main__":
    main(sys.argv[1])
