"""Saves and restores every random-number state an evaluation inside `fit` can touch.

`model.evaluate` and a training-mode forward pass draw random numbers from
places the training run shares: torch's global generator (its `DataLoader`
draws a seed from it; unseeded `Dropout` samples from it), numpy's and
Python's global generators, Keras's global `SeedGenerator`, TensorFlow's global
`tf.random.Generator` and its eager op-seed sequence. Restoring them after the
evaluation keeps the next epoch's shuffle and dropout masks what they would
have been without epochjump. Frameworks that are not imported are skipped.
"""

import random
import sys

import numpy as np


class RngState:
    """A snapshot of the global random states; `restore()` puts them back."""

    def __init__(self):
        self._python = random.getstate()
        self._numpy = np.random.get_state()
        self._torch = _torch_states()
        self._keras = _keras_global_seed_state()
        self._tf = _tf_states()

    def restore(self):
        """Puts every saved state back (safe to call more than once)."""
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        _restore_torch(self._torch)
        _restore_keras_global_seed(self._keras)
        _restore_tf(self._tf)


def _torch_states():
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return torch.get_rng_state(), cuda


def _restore_torch(states):
    if states is None:
        return
    import torch

    cpu, cuda = states
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _keras_global_seed_state():
    """(exists, generator, state): the global generator is created lazily,
    from Python's `random`; one created during the evaluation is dropped."""
    if "keras" not in sys.modules:
        return None
    try:
        from epochjump.record.keras_api import keras3

        generator = keras3.global_seed_generator()
    except ImportError:  # Keras 2: no global SeedGenerator.
        return None
    if generator is None:
        return (False, None, None)
    return (True, generator, np.array(generator.state.numpy()))


def _restore_keras_global_seed(saved):
    if saved is None:
        return
    from epochjump.record.keras_api import keras3

    exists, generator, state = saved
    keras3.set_global_seed_generator(generator if exists else None)
    if exists:
        generator.state.assign(state)


def _tf_states():
    """TensorFlow's global `tf.random.Generator` (if one was made) and the
    Python RNG behind the op seeds of unseeded eager random ops."""
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.eager import context
    from tensorflow.python.ops import stateful_random_ops

    generator = getattr(stateful_random_ops, "global_generator", None)
    generator_state = None
    if generator is not None:
        generator_state = np.array(generator.state.numpy())
    ctx = context.context()
    op_seeds = getattr(ctx, "_rng", None)
    op_seed_state = op_seeds.getstate() if op_seeds is not None else None
    return generator, generator_state, ctx, op_seeds, op_seed_state


def _restore_tf(saved):
    if saved is None:
        return
    from tensorflow.python.ops import stateful_random_ops

    generator, generator_state, ctx, op_seeds, op_seed_state = saved
    if generator is not None:
        generator.state.assign(generator_state)
    elif getattr(stateful_random_ops, "global_generator", None) is not None:
        stateful_random_ops.global_generator = None  # Made by the evaluation.
    if op_seeds is not None and getattr(ctx, "_rng", None) is op_seeds:
        op_seeds.setstate(op_seed_state)
