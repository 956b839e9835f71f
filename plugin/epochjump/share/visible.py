"""Names as text a person can trust: invisible and direction-changing characters shown.

A run or metric name holding a bidi override (U+202E), an isolate (U+2066),
a direction mark (U+200E) or a zero-width character displays as another
name. Shown text replaces every such character (Unicode categories Cc, Cf,
Zl, Zp) by its escape, `\\u202e`, as the tab does (frontend `visibleName`).
The data keeps the names exactly; only what is shown changes.
"""

import unicodedata

_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def visible(text):
    """`text` with its invisible and direction-changing characters escaped.

    Args:
      text: str, a name or a message holding names.

    Returns:
      str; `visible("a\u202eb") == "a\\u202eb"`.
    """
    if text.isprintable():  # Fast path: none of those characters.
        return text
    return "".join(
        _escape(c) if unicodedata.category(c) in _HIDDEN_CATEGORIES else c for c in text
    )


def _escape(char):
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
