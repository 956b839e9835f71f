"""frontend/dev/contract_ts.py: the tab's record types come from the Python records.

The generated TypeScript is checked against what the `jumps` route really
sends for a written run (not against the dataclasses the generator reads),
and the tab's typecheck is shown to pass on it and to fail when a field the
tab reads leaves the Python record.
"""

import dataclasses
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import types

import pytest

import epochjump
from epochjump import answers
from epochjump.analysis import records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTEND = os.path.join(ROOT, "frontend")
GENERATOR = os.path.join(FRONTEND, "dev", "contract_ts.py")
GENERATED = os.path.join(FRONTEND, "src", "generated", "contract.ts")


def generator():
    spec = importlib.util.spec_from_file_location("contract_ts", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interfaces(text):
    """`{name: {field: type}}` of the `export interface` blocks in `text`."""
    found = {}
    for name, body in re.findall(r"export interface (\w+) \{\n(.*?)\n\}", text, re.S):
        found[name] = dict(re.findall(r"^  (\w+): (\w+);$", body, re.M))
    return found


def constants(text):
    """`{name: [strings]}` of the `export const X = [...] as const;` lines."""
    return {
        name: json.loads(f"[{items}]")
        for name, items in re.findall(r"export const (\w+) = \[(.*?)\] as const;", text)
    }


def ts_type(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


@pytest.fixture
def jumps_json(tmp_path):
    """The `jumps` answer for a written run of three epochs, as JSON decodes it."""
    with epochjump.Writer(tmp_path / "run") as writer:
        step = 0
        for epoch in range(3):
            writer.start_epoch(step + 1)
            for b in range(12):
                step += 1
                writer.log_batch(step, {"accuracy": epoch + b / 12})
            writer.log_eval("val", step, {"accuracy": epoch + 0.5})
    run = epochjump.read_run(tmp_path / "run")
    return answers.jumps_answer(run, "accuracy")


def test_the_generated_types_are_what_the_jumps_route_sends(jumps_json):
    # Without site-packages (-S), as in a wheel's bare build environment: no
    # numpy, no installed epochjump.
    subprocess.run([sys.executable, "-I", "-S", GENERATOR], check=True)
    with open(GENERATED, encoding="utf-8") as f:
        text = f.read()
    declared = interfaces(text)
    lists = constants(text)
    # The route drops `metric` (the answer names it once) and adds the words.
    words = {"text", "level_after_text", "detail"}
    for interface, prefix, sent in (
        ("JumpFields", "JUMP", jumps_json["boundaries"][0]),
        ("EpochEndFields", "EPOCH_END", jumps_json["epoch_ends"][-1]),
    ):
        fields = {k: ts_type(v) for k, v in sent.items() if k not in words}
        assert {**fields, "metric": "string"} == declared[interface]
        numbers = [k for k, t in fields.items() if t == "number"]
        booleans = [k for k, t in fields.items() if t == "boolean"]
        assert sorted(lists[f"{prefix}_NUMBER_FIELDS"]) == sorted(numbers)
        assert lists[f"{prefix}_BOOLEAN_FIELDS"] == booleans
    assert "learning_rate_scheduled" in lists["JUMP_BOOLEAN_FIELDS"]
    assert math.isnan(jumps_json["epoch_ends"][-1]["level_after"])


def test_a_field_of_no_json_type_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Odd:
        when: list

    module = types.SimpleNamespace(computed=records.computed)
    with pytest.raises(TypeError, match=r"Odd\.when has type"):
        generator().record_fields(module, Odd)


def typecheck(frontend):
    return subprocess.run(
        [os.path.join(FRONTEND, "node_modules", ".bin", "tsc"), "--noEmit"],
        cwd=frontend,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_the_tab_typechecks_against_the_records_and_not_without_one(tmp_path):
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
    real = gen.load_records()
    (copy / "src" / "generated").mkdir(exist_ok=True)
    target = copy / "src" / "generated" / "contract.ts"
    target.write_text(gen.typescript(real), encoding="utf-8")
    result = typecheck(copy)
    assert result.returncode == 0, result.stdout + result.stderr

    # The chart draws each jump's bracket to `first_next`: without that field
    # in the Python record the tab no longer typechecks.
    kept = [
        (f.name, f.type)
        for f in dataclasses.fields(real.Jump)
        if f.name not in {f.name for f in dataclasses.fields(real.EpochEnd)}
        and f.name != "first_next"
    ]
    shorter = dataclasses.make_dataclass(
        "Jump", kept, bases=(real.EpochEnd,), frozen=True
    )
    module = types.SimpleNamespace(
        EpochEnd=real.EpochEnd, Jump=shorter, computed=real.computed
    )
    target.write_text(gen.typescript(module), encoding="utf-8")
    result = typecheck(copy)
    assert result.returncode != 0
    assert "first_next" in result.stdout
