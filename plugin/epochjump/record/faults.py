"""How the writer words a failed write, and warns once per distinct fault."""

import warnings


def cause(error):
    """`error` as "TypeName: message", for messages that name what failed."""
    return f"{type(error).__name__}: {error}"


def warn_once(owner, key, message):
    """Warns with `message` unless `owner` already warned for `key`.

    Args:
      owner: an object with a `_warned` set (the writer).
      key: hashable, one distinct fault (e.g. `("removed", path)`).
      message: str, said after "epochjump: ".
    """
    if key not in owner._warned:
        owner._warned.add(key)
        warnings.warn(f"epochjump: {message}", RuntimeWarning, stacklevel=4)
