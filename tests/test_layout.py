"""The package keeps its layout: one stage per folder, imports one way, small modules.

Read from the source with `ast`, so the check needs no import of the package
and names the module and the import that break a rule.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "plugin" / "epochjump"
MAX_LINES = 400

# What each stage may import from epochjump. The data flows record -> metadata
# -> read -> analysis -> words -> answers -> serve / share -> cli, with
# terminal (the progress bar) beside answers; `constants` (values shared with
# the frontend) may be used by any stage. Only `words` makes text from the
# analysis records, so analysis (numbers only) may not import it.
ALLOWED = {
    "constants": set(),
    "metadata": set(),
    # The file layer (local disk or an fsspec URL) of writer and reader.
    "storage": set(),
    "record": {"record", "metadata", "storage", "constants"},
    "read": {"read", "metadata", "storage", "constants"},
    "analysis": {"analysis", "constants"},
    "words": {"words", "analysis", "constants"},
    # The answers' fields, declared without numpy for the tab's generated types.
    "responses": {"analysis"},
    "answers": {"analysis", "words", "constants", "responses"},
    # The progress bar: recording's batch feed shown with analysis's levels.
    "terminal": {"terminal", "record", "analysis", "words", "constants"},
    "serve": {"serve", "answers", "read", "metadata", "constants"},
    "share": {"share", "answers", "analysis", "words", "read", "constants"},
    "cli": {"analysis", "words", "read", "share", "constants", "demo", "__init__"},
    "demo": {"__init__"},
    # Public modules for other frameworks: each re-exports its recorder.
    "lightning": {"record"},
    "transformers": {"record"},
    "__init__": {"analysis", "read", "record", "share", "terminal"},
}
# Modules that touch files, processes or the network: none of them in analysis/.
IO_MODULES = {
    "os",
    "io",
    "pathlib",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "urllib",
    "tensorboard",
    "werkzeug",
    "keras",
    "tensorflow",
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).with_suffix("").parts, path


def stage(parts):
    return parts[0]


def epochjump_imports(tree, parts):
    """The epochjump modules a module imports, as tuples of name parts."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "epochjump":
                    found.append((node.lineno, tuple(alias.name.split(".")[1:])))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: -node.level])
                module = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "epochjump":
                module = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                candidate = PACKAGE.joinpath(*module, alias.name)
                if candidate.with_suffix(".py").exists() or candidate.is_dir():
                    found.append((node.lineno, tuple(module) + (alias.name,)))
                else:
                    found.append((node.lineno, tuple(module)))
    return [(line, target or ("__init__",)) for line, target in found]


def other_imports(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def parsed():
    return [(parts, path, ast.parse(path.read_text())) for parts, path in modules()]


def module_ids():
    return ["/".join(parts) for parts, _ in modules()]


@pytest.mark.parametrize("parts, path, tree", parsed(), ids=module_ids())
def test_imports_run_one_way(parts, path, tree):
    allowed = ALLOWED[stage(parts)]
    for line, target in epochjump_imports(tree, parts):
        assert stage(target) in allowed, (
            f"{path.relative_to(PACKAGE)}:{line} imports epochjump."
            f"{'.'.join(target)}; {stage(parts)} may import only {sorted(allowed)}"
        )


def test_analysis_does_no_io():
    for parts, path, tree in parsed():
        if stage(parts) == "analysis":
            io = other_imports(tree) & IO_MODULES
            assert not io, f"{path.relative_to(PACKAGE)} imports {sorted(io)}"


def test_no_import_cycles():
    graph = {}
    for parts, _, tree in parsed():
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        targets = set()
        for _, target in epochjump_imports(tree, parts):
            module = ".".join(target[:-1] if target[-1] == "__init__" else target)
            if module != name:
                targets.add(module)
        graph[name] = targets
    # Packages import their submodules only by being imported; a module
    # importing its own package's __init__ is not a cycle through it.
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if target.startswith(node + ".") or node.startswith(target + "."):
                continue
            if state.get(target) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(path + [target])}")
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("parts, path, tree", parsed(), ids=module_ids())
def test_modules_are_small_and_say_their_job(parts, path, tree):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"
    docstring = ast.get_docstring(tree)
    assert docstring, f"{path.relative_to(PACKAGE)} has no module docstring"
