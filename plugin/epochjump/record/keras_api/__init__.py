"""Keras's private API, behind one adapter module per Keras line.

epochjump reaches into Keras where no public API says what it needs (the
batches `evaluate` sees, the compiled metrics' container, the progress bar's
printing). Every such use lives in `keras3` (Keras 3) or `tf_keras` (Keras 2),
so a Keras release breaks one file, and `tests/record/test_keras_api.py`
exercises each function there against the oldest and newest supported Keras.
Each adapter imports its Keras when it is imported: `for_model` imports only
the one the model needs.
"""

import types


def is_tf_keras(thing):
    """Whether `thing` (a model, an optimizer, ...) comes from Keras 2 (`tf_keras`)."""
    return any(c.__module__.split(".")[0] == "tf_keras" for c in type(thing).__mro__)


def for_model(thing):
    """The adapter module of the Keras line `thing` (a model, an optimizer) comes from.

    Args:
      thing: a Keras 3 or Keras 2 (`tf_keras`) object.
    """
    if is_tf_keras(thing):
        from epochjump.record.keras_api import tf_keras as adapter
    else:
        from epochjump.record.keras_api import keras3 as adapter
    return adapter


def attribute_ids(thing, names):
    """The identities of `thing`'s own attributes `names` (None where absent).

    `vars()`, not `getattr()`: on Keras 3, `compiled_metrics` is a property
    that builds a new object at each access.

    Args:
      thing: an object, e.g. a model.
      names: tuple of attribute names.
    """
    attributes = vars(thing)
    return tuple(id(attributes.get(name)) for name in names)


def with_global(function, name, value):
    """A copy of `function` that sees `value` as its module's global `name`.

    Args:
      function: a plain Python function.
      name: str, a global name the function reads.
      value: what the copy reads instead.
    """
    names = dict(function.__globals__)
    names[name] = value
    return types.FunctionType(
        function.__code__,
        names,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
