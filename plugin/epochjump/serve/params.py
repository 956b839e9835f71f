"""Query parameters of the plugin's routes, checked with errors naming the bad value."""

import re
import urllib.parse

from tensorboard import errors
from tensorboard.backend import http_util
from werkzeug import wrappers

ALLOWED_METHODS = "GET, HEAD"


def read_only(app):
    """Wraps a route so it answers only GET and HEAD; other methods get 405.

    Args:
      app: a WSGI application (one of the plugin's routes).

    Returns:
      A WSGI application.
    """

    def route(environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            return app(environ, start_response)
        request = wrappers.Request(environ)
        response = http_util.Respond(
            request,
            f"Method not allowed: {shown(method)}; this route answers "
            f"{ALLOWED_METHODS}\n",
            "text/plain",
            code=405,
            headers=[("Allow", ALLOWED_METHODS)],
        )
        return response(environ, start_response)

    return route


def check_range(start, end, steps=None):
    """Refuses a step range that ends before it starts.

    A bound not given is the run's first (`start`) or last (`end`) step, so
    `end=0` alone on a run starting at step 1 is refused like `start=1&end=0`.

    Args:
      start: int or None.
      end: int or None.
      steps: ascending int array of the run's steps, or None (before reading
        the run: only a range with both bounds is checked).

    Raises:
      InvalidArgumentError: naming both bounds, and which one is the default.
    """
    if start is not None and end is not None:
        if start > end:
            raise errors.InvalidArgumentError(
                f"Bad range: start={start} is after end={end}"
            )
        return
    if steps is None or not len(steps) or (start is None and end is None):
        return
    if start is not None and start > int(steps[-1]):
        raise errors.InvalidArgumentError(
            f"Bad range: start={start} is after end={int(steps[-1])} (end not "
            "given: the run's last step)"
        )
    if end is not None and end < int(steps[0]):
        raise errors.InvalidArgumentError(
            f"Bad range: start={int(steps[0])} (start not given: the run's first "
            f"step) is after end={end}"
        )


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
