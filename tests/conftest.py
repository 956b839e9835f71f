"""Test-wide settings."""

import os

# TensorFlow's C++ start-up banners drown pytest's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
