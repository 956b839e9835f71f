"""Runs a process as if some packages were not installed (TensorFlow, Keras...).

A fresh virtual environment holding only epochjump and its dependencies
would take minutes to build on every run; a `sys.meta_path` finder that
raises `ModuleNotFoundError` for the blocked packages, installed by a
`sitecustomize` before any other import, makes `import tensorflow` fail
exactly as it does where TensorFlow is absent.
"""

import os
import pathlib

_SITECUSTOMIZE_DIR = pathlib.Path(__file__).resolve().parent / "without_modules"

# What "only epochjump and TensorBoard installed" leaves out.
TRAINING_PACKAGES = ("tensorflow", "keras", "tf_keras", "torch", "jax", "jaxlib")


def env_without(modules=TRAINING_PACKAGES, env=None):
    """The environment of a process in which `modules` cannot be imported.

    Args:
      modules: iterable of top-level package names.
      env: dict, the environment to start from (default this process's).

    Returns:
      A new dict.
    """
    env = dict(os.environ if env is None else env)
    path = [str(_SITECUSTOMIZE_DIR)] + [p for p in [env.get("PYTHONPATH")] if p]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["EPOCHJUMP_BLOCKED_MODULES"] = ",".join(modules)
    return env
