"""frontend/dev/contract_ts.py: the tab's answer types come from the Python answers.

The generated TypeScript is checked against what the routes really send for
a written run, served as TensorBoard serves it (not against the dataclasses
the generator reads), and the tab's typecheck is shown to pass on it and to
fail when a field the tab reads leaves any Python answer.
"""

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
import urllib.parse

import pytest
from support import plugin_client

import epochjump
from epochjump import responses
from epochjump.analysis import records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTEND = os.path.join(ROOT, "frontend")
GENERATOR = os.path.join(FRONTEND, "dev", "contract_ts.py")
GENERATED = os.path.join(FRONTEND, "src", "generated", "contract.ts")
# How TensorBoard's `Respond` writes non-finite floats.
NON_FINITE = {"NaN", "Infinity", "-Infinity"}
# A field of each answer that the tab reads (a flattened record's too).
READ_BY_THE_TAB = {
    "RunInfo": "metrics",
    "RunsResponse": "warning",
    "StepRange": "start",
    "BatchPoints": "running_mean",
    "EvalPoints": "value",
    "RateMarks": "value",
    "StepMarks": "epoch_fraction",
    "SeriesResponse": "epoch_starts",
    "TableColumn": "help",
    "Boundary": "first_next",
    "EpochEndRecord": "level_at_end",
    "JumpsResponse": "answer",
    "CompareSummary": "mean_jump",
    "CompareBoundary": "lag_share_text",
    "PartsText": "generalisation_gap",
    "ValidationGap": "sentence",
    "RunComparison": "validation",
    "CompareResponse": "runs",
}


def generator():
    spec = importlib.util.spec_from_file_location("contract_ts", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interfaces(text):
    """`{name: {field: type}}` of the `export interface` blocks in `text`."""
    found = {}
    for name, body in re.findall(r"export interface (\w+) \{\n(.*?)\n\}", text, re.S):
        found[name] = dict(re.findall(r"^  (\w+): (.+);$", body, re.M))
    return found


def check(value, ts_type, declared, where):
    """Asserts that the JSON `value` at `where` is of the generated `ts_type`,
    and, for an interface, has exactly its keys."""
    if ts_type.endswith("[]"):
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            check(item, ts_type[:-2], declared, f"{where}[{i}]")
    elif ts_type == "number":
        # A NaN range end (a run without batches) is sent as null.
        ok = value is None or value in NON_FINITE or isinstance(value, int | float)
        assert ok and not isinstance(value, bool), f"{where}: {value!r}"
    elif ts_type == "string":
        assert isinstance(value, str), f"{where}: {value!r}"
    elif ts_type == "string | null":
        assert value is None or isinstance(value, str), f"{where}: {value!r}"
    elif ts_type == "boolean":
        assert isinstance(value, bool), f"{where}: {value!r}"
    elif ts_type == "Record<string, string>":
        assert all(isinstance(v, str) for v in value.values()), where
    else:
        fields = declared[ts_type]
        assert set(value) == set(fields), f"{where} ({ts_type})"
        for key, item in value.items():
            check(item, fields[key], declared, f"{where}.{key}")


@pytest.fixture
def served(tmp_path):
    """`get(route, **params)`: the routes' JSON answers for a logdir of two
    written runs of three epochs, with evaluations and a learning rate."""
    for name in ("a", "b"):
        with epochjump.Writer(tmp_path / name) as writer:
            step = 0
            for epoch in range(3):
                writer.start_epoch(step + 1)
                writer.log_learning_rate(step + 1, 0.1 / (epoch + 1))
                for b in range(12):
                    step += 1
                    writer.log_batch(step, {"accuracy": epoch + b / 12})
                writer.log_eval("train_eval", step, {"accuracy": epoch + 0.9})
                writer.log_eval(
                    "train_eval_training_mode", step, {"accuracy": epoch + 0.8}
                )
                writer.log_eval("val", step, {"accuracy": epoch + 0.5})
    _, provider = plugin_client.local_provider(tmp_path)
    client = plugin_client.client_for(
        plugin_client.load_plugin(provider, tmp_path), provider
    )

    def get(route, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        answer = client.get(f"{plugin_client.PREFIX}/{route}?{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.json

    return get


@pytest.mark.slow
def test_the_generated_types_are_what_the_routes_send(served):
    # Without site-packages (-S), as in a wheel's bare build environment: no
    # numpy, no installed epochjump.
    subprocess.run([sys.executable, "-I", "-S", GENERATOR], check=True)
    with open(GENERATED, encoding="utf-8") as f:
        declared = interfaces(f.read())
    assert set(declared) == {c.__name__ for c in responses.RESPONSES}
    answers = {
        "RunsResponse": served("runs"),
        "SeriesResponse": served("series", run="a", metric="accuracy"),
        "JumpsResponse": served("jumps", run="a", metric="accuracy"),
        "CompareResponse": served("compare", metric="accuracy", run=["a", "b"]),
    }
    for name, answer in answers.items():
        check(answer, name, declared, name)
    # Every part was there to be checked, a NaN and a true among them.
    jumps = answers["JumpsResponse"]
    assert len(jumps["boundaries"]) == 2 and len(jumps["epoch_ends"]) == 3
    assert jumps["epoch_ends"][-1]["level_after"] == "NaN"
    assert jumps["boundaries"][0]["learning_rate_before"] == 0.1
    series = answers["SeriesResponse"]
    assert all(series[kind]["value"] for kind in ("train_eval", "val"))
    assert series["learning_rate"]["value"] == [0.1, 0.05, 0.1 / 3]
    validation = answers["CompareResponse"]["runs"][1]["validation"]
    assert len(validation) == 3 and validation[0]["parts_text"]["mode_gap"]
    # The route names the metric once, not in each record.
    assert "metric" not in jumps["boundaries"][0] and "metric" in jumps


def test_each_answer_is_checked_by_a_tab_field():
    assert set(READ_BY_THE_TAB) == {c.__name__ for c in responses.RESPONSES}


def test_a_field_of_no_json_type_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Odd:
        when: list

    module = types.SimpleNamespace(RESPONSES=(Odd,), records=records)
    with pytest.raises(TypeError, match=r"Odd\.when has type"):
        generator().typescript(module)


def test_an_answer_missing_a_field_cannot_be_built():
    with pytest.raises(TypeError, match="sentence"):
        responses.ValidationGap(record=None, parts_text=None)
    with pytest.raises(TypeError, match=r"Boundary\.record must be a Jump"):
        responses.as_json(
            responses.Boundary(record={}, text={}, level_after_text="", detail="")
        )


def without(answer_class, name):
    """`answer_class`, under its name, without the field `name`: its own,
    or one of a record it flattens (whose properties it keeps)."""
    fields = []
    for f in dataclasses.fields(answer_class):
        kind = f.type
        if f.name == name:
            continue
        if "flattened_without" in f.metadata:
            kept = [
                (r.name, r.type) for r in dataclasses.fields(kind) if r.name != name
            ]
            properties = {p: getattr(kind, p) for p in records.computed(kind)}
            kind = dataclasses.make_dataclass(
                kind.__name__, kept, namespace=properties, frozen=True
            )
        fields.append((f.name, kind, dataclasses.field(metadata=f.metadata)))
    return dataclasses.make_dataclass(answer_class.__name__, fields, frozen=True)


def typecheck(frontend):
    return subprocess.run(
        [os.path.join(FRONTEND, "node_modules", ".bin", "tsc"), "--noEmit"],
        cwd=frontend,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_the_tab_typechecks_against_the_answers_and_not_without_a_field(tmp_path):
    if not os.path.isdir(os.path.join(FRONTEND, "node_modules")):
        pytest.fail("Run `cd frontend && npm ci` first: the typecheck needs tsc.")
    copy = tmp_path / "frontend"
    shutil.copytree(os.path.join(FRONTEND, "src"), copy / "src")
    shutil.copy(os.path.join(FRONTEND, "tsconfig.json"), copy)
    os.symlink(os.path.join(FRONTEND, "node_modules"), copy / "node_modules")
    # The tab imports constants.json from the package, two folders up.
    shutil.copytree(
        os.path.join(ROOT, "plugin", "epochjump"),
        tmp_path / "plugin" / "epochjump",
        ignore=shutil.ignore_patterns("__pycache__", "static"),
    )
    gen = generator()
    (copy / "src" / "generated").mkdir(exist_ok=True)
    target = copy / "src" / "generated" / "contract.ts"
    target.write_text(gen.typescript(gen.load_responses()), encoding="utf-8")
    result = typecheck(copy)
    assert result.returncode == 0, result.stdout + result.stderr

    # Without any one field the tab reads, in any answer, it no longer
    # typechecks.
    for answer_class in responses.RESPONSES:
        name = READ_BY_THE_TAB[answer_class.__name__]
        shorter = tuple(
            without(c, name) if c is answer_class else c for c in responses.RESPONSES
        )
        module = types.SimpleNamespace(RESPONSES=shorter, records=records)
        target.write_text(gen.typescript(module), encoding="utf-8")
        result = typecheck(copy)
        assert result.returncode != 0, f"{answer_class.__name__} without {name}"
        # tsc quotes the field: 'first_next', or '"lag"' as a key's literal.
        assert re.search(f"['\"]{name}['\"]", result.stdout), result.stdout
