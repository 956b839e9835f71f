"""Writes frontend/src/generated/contract.ts from the Python answers the tab reads.

Every route's answer is declared once, as a dataclass of
plugin/epochjump/responses.py (the analysis records some answers carry, in
plugin/epochjump/analysis/records.py); this script turns each into a
TypeScript interface and a decoder (`decodeRunsResponse`, ...) that reads it
from JSON with the helpers of frontend/src/decode.ts. `npm run build`,
`npm run typecheck` and `npm test` run it first, so a field added in Python
reaches the tab's types, and a frontend that no longer fits fails the
typecheck. The generated file is not committed.

Usage (any directory): python3 frontend/dev/contract_ts.py
"""

import dataclasses
import importlib
import os
import sys
import types
import typing

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "..", "..", "plugin", "epochjump")
OUTPUT = os.path.join(HERE, "..", "src", "generated", "contract.ts")
# Python field types, what JSON brings them as, and how decode.ts reads them
# (NaN arrives as "NaN", which `toNumber` turns back into a number).
SCALARS = {
    str: ("string", "text"),
    int: ("number", "toNumber"),
    float: ("number", "toNumber"),
    bool: ("boolean", "flag"),
}


def load_responses():
    """The `epochjump.responses` module. Unless epochjump is imported
    already, its package's __init__ (numpy, TensorBoard) is skipped, so this
    runs in a bare build environment."""
    if "epochjump" not in sys.modules:
        package = types.ModuleType("epochjump")
        package.__path__ = [os.path.normpath(PACKAGE)]
        sys.modules["epochjump"] = package
    return importlib.import_module("epochjump.responses")


def field_types(module, answer_class):
    """`(name, Python type)` of everything an answer of `answer_class`
    holds, a flattened record's fields (and properties) in its place.

    Args:
      module: the responses module (`load_responses()`), or a stand-in with
        its `records`.
      answer_class: a dataclass of it.
    """
    found = []
    for field in dataclasses.fields(answer_class):
        without = field.metadata.get("flattened_without")
        if without is None:
            found.append((field.name, field.type))
            continue
        record = field.type
        sent = [(f.name, f.type) for f in dataclasses.fields(record)]
        for name in module.records.computed(record):
            sent.append((name, getattr(record, name).fget.__annotations__["return"]))
        found += [(name, kind) for name, kind in sent if name not in without]
    return found


def typed(owner, name, python_type):
    """`(TypeScript type, decoder expression of the JSON value `v`)`.

    Args:
      owner: str, the class holding the field (for the error).
      name: str, the field.
      python_type: its annotation.
    """
    if python_type in SCALARS:
        ts_type, reader = SCALARS[python_type]
        return ts_type, f"{reader}(v)"
    origin, args = typing.get_origin(python_type), typing.get_args(python_type)
    if origin is types.UnionType and len(args) == 2 and args[1] is type(None):
        if args[0] is str:
            return "string | null", "textOrNull(v)"
        if args[0] in (int, float):
            return "number", "toNumber(v)"
    if origin is list and len(args) == 1:
        item = args[0]
        if dataclasses.is_dataclass(item):
            return f"{item.__name__}[]", f"listOf(v, decode{item.__name__})"
        if item in SCALARS and SCALARS[item][0] != "boolean":
            return f"{SCALARS[item][0]}[]", f"{SCALARS[item][0]}s(v)"
    if origin is dict and args == (str, str):
        return "Record<string, string>", "texts(v)"
    if dataclasses.is_dataclass(python_type):
        return python_type.__name__, f"decode{python_type.__name__}(v)"
    raise TypeError(
        f"{owner}.{name} has type {python_type!r}; an answer's field must be str, "
        "int, float, bool, str | None, int | None, list of those or of an answer, "
        "dict[str, str] or another answer."
    )


def interface(module, answer_class):
    """The TypeScript interface and decoder of `answer_class`."""
    name = answer_class.__name__
    fields = [
        (field, *typed(name, field, python_type))
        for field, python_type in field_types(module, answer_class)
    ]
    summary = (answer_class.__doc__ or name).strip().splitlines()[0]
    return [
        "",
        f"/** {summary} (responses.{name}) */",
        f"export interface {name} {{",
        *(f"  {field}: {ts_type};" for field, ts_type, _ in fields),
        "}",
        f"/** Reads a `{name}` from JSON; missing or wrong values read as empty. */",
        f"export function decode{name}(raw: unknown): {name} {{",
        "  const o = asObject(raw);",
        "  return {",
        *(
            f"    {field}: {read.replace('(v', f'(o.{field}', 1)},"
            for field, _, read in fields
        ),
        "  };",
        "}",
    ]


def typescript(module):
    """The text of contract.ts for the responses `module` (its `RESPONSES`)."""
    body = []
    for answer_class in module.RESPONSES:
        body += interface(module, answer_class)
    text = "\n".join(body)
    helpers = sorted(
        helper
        for helper in (
            "flag",
            "listOf",
            "numbers",
            "strings",
            "text",
            "textOrNull",
            "texts",
            "toNumber",
        )
        if f" {helper}(o." in text
    )
    lines = [
        "// Generated by frontend/dev/contract_ts.py from",
        "// plugin/epochjump/responses.py: do not edit, not committed.",
        "",
        f'import {{ asObject, {", ".join(helpers)} }} from "../decode";',
    ]
    return "\n".join(lines) + text + "\n"


def main():
    text = typescript(load_responses())
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    # Rewritten only when it changes, so a watching build does not loop.
    if os.path.exists(OUTPUT):
        with open(OUTPUT, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
