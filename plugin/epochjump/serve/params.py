"""Query parameters of the plugin's routes, checked with errors naming the bad value."""

import re
import urllib.parse

from tensorboard import errors


def required(request, name, expected):
    value = request.args.get(name)
    if value is None:
        raise errors.InvalidArgumentError(f"Missing {name}: expected {expected}")
    if not value:
        raise errors.InvalidArgumentError(f"Bad {name}: expected {expected}, got ''")
    return value


def optional_int(request, name, low, high, default):
    value = request.args.get(name)
    if value is None:
        return default
    # Digits only: int() would also take "+5", " 5", "5_0" and other scripts'
    # digits; the length bound keeps huge inputs cheap to reject.
    if re.fullmatch(r"[0-9]{1,20}", value) and low <= int(value) <= high:
        return int(value)
    raise errors.InvalidArgumentError(
        f"Bad {name}: expected an integer from {low} to {high}, got {shown(value)}"
    )


def attachment(filename):
    """A `Content-Disposition` value for a download named `filename`.

    Args:
      filename: str, any characters; `/` and `\\` become `_`.

    Returns:
      str, with an ASCII `filename` and the exact UTF-8 `filename*`
      (RFC 6266).
    """
    filename = re.sub(r"[/\\]", "_", filename)
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    encoded = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def shown(value, limit=200):
    """`repr(value)`, cut to `limit` characters for very long values."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"
