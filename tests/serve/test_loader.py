"""EpochJumpLoader makes TensorBoard keep every epochjump sample.

TensorBoard keeps 10 samples per tag of a plugin it does not know, which for
epochjump means 10 batch chunks. These tests parse real TensorBoard flags,
load a run of 3000 chunks with the Python ingester in process, and (marked
slow) start real `tensorboard` processes with `--load_fast=false` and `true`.
"""

import importlib.metadata
import json
import os
import sys
import urllib.request

import pytest
from support.tensorboard_process import serve_tensorboard
from tensorboard import context
from tensorboard import program
from tensorboard.backend.event_processing import data_ingester
from tensorboard.plugins import base_plugin
from tensorboard.plugins.core import core_plugin

import epochjump
from epochjump.read import provider as provider_io
from epochjump.serve.loader import EpochJumpLoader

CHUNKS = 3000


def configure(argv, **kwargs):
    """TensorBoard's own flag parsing and `fix_flags` pass, as at start-up."""
    loader = EpochJumpLoader()
    board = program.TensorBoard(
        plugins=[core_plugin.CorePluginLoader(include_debug_info=False), loader]
    )
    board.configure(["tensorboard", *argv], **kwargs)
    return board.flags, loader


@pytest.fixture(scope="module")
def chunky_logdir(tmp_path_factory):
    """One run of 3000 batches over 2 epochs, one event (chunk) per batch."""
    logdir = tmp_path_factory.mktemp("chunky")
    with epochjump.Writer(logdir / "run") as writer:
        for step in range(1, CHUNKS + 1):
            if step in (1, CHUNKS // 2 + 1):
                writer.start_epoch(step)
            writer.log_batch(step, {"loss": 1.0 / step})
            writer.flush()
    return logdir


def test_fix_flags_keeps_all_epochjump_samples_by_default(tmp_path):
    flags, loader = configure(["--logdir", str(tmp_path)])
    assert flags.samples_per_plugin == {"epochjump": 0}
    assert loader.set_samples_default is True


@pytest.mark.parametrize(
    "value, expected",
    [
        ("epochjump=7,images=3", {"epochjump": 7, "images": 3}),
        ("epochjump=0", {"epochjump": 0}),
    ],
)
def test_fix_flags_keeps_the_users_choice(tmp_path, value, expected):
    flags, loader = configure(
        ["--logdir", str(tmp_path), "--samples_per_plugin", value]
    )
    assert flags.samples_per_plugin == expected
    assert loader.set_samples_default is False


def test_fix_flags_leaves_other_plugins_alone(tmp_path):
    flags, loader = configure(
        ["--logdir", str(tmp_path), "--samples_per_plugin=images=3"]
    )
    assert flags.samples_per_plugin == {"images": 3, "epochjump": 0}
    assert loader.set_samples_default is True


def test_fix_flags_does_not_change_the_callers_dict(tmp_path):
    mine = {"scalars": 50}
    flags, _ = configure(["--logdir", str(tmp_path)], samples_per_plugin=mine)
    assert mine == {"scalars": 50}
    assert flags.samples_per_plugin == {"scalars": 50, "epochjump": 0}


def test_load_returns_the_plugin():
    plugin = EpochJumpLoader().load(base_plugin.TBContext())
    assert plugin.plugin_name == "epochjump"


def batches_read_by_python_ingester(logdir, argv):
    flags, _ = configure(
        [
            "--logdir",
            str(logdir),
            "--reload_interval=0",
            "--reload_task=blocking",
            *argv,
        ]
    )
    ingester = data_ingester.LocalDataIngester(flags)
    ingester.start()
    ctx = context.RequestContext()
    run = provider_io.load_run(ingester.data_provider, ctx, "", "run")
    return run.num_batches


def test_python_ingester_keeps_every_chunk(chunky_logdir):
    assert batches_read_by_python_ingester(chunky_logdir, []) == CHUNKS


def test_python_ingester_samples_without_the_default(chunky_logdir):
    # The control: a user limit (or TensorBoard's default of 10) drops chunks.
    argv = ["--samples_per_plugin=epochjump=10"]
    assert batches_read_by_python_ingester(chunky_logdir, argv) == 10


def subprocess_env(tmp_path):
    """Lets a child `tensorboard` find this epochjump through its entry point.

    The child imports the same epochjump as the tests. If epochjump is not
    installed, a minimal dist-info declares the entry point, as
    `pip install` would.
    """
    source = os.path.dirname(os.path.dirname(epochjump.__file__))
    paths = [source]
    entry_points = importlib.metadata.entry_points()
    if hasattr(entry_points, "select"):  # Python 3.10+
        entry_points = entry_points.select(group="tensorboard_plugins")
    else:
        entry_points = entry_points.get("tensorboard_plugins", ())
    if "epochjump" not in {e.name for e in entry_points}:
        dist_info = tmp_path / "shim" / "epochjump-0.0.0.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: epochjump\nVersion: 0.0.0\n"
        )
        (dist_info / "entry_points.txt").write_text(
            "[tensorboard_plugins]\n"
            "epochjump = epochjump.serve.loader:EpochJumpLoader\n"
        )
        paths.append(str(dist_info.parent))
    old = os.environ.get("PYTHONPATH")
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(paths + ([old] if old else [])),
        TF_CPP_MIN_LOG_LEVEL="3",
    )


def get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", ["false", "true"])
@pytest.mark.parametrize("user_limit", [None, 10])
def test_tensorboard_process_serves_every_batch(
    chunky_logdir, tmp_path, load_fast, user_limit
):
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(chunky_logdir),
        f"--load_fast={load_fast}",
        "--reload_interval=1",
    ]
    if user_limit is not None:
        command.append(f"--samples_per_plugin=epochjump={user_limit}")
    expected = CHUNKS if user_limit is None else user_limit
    answers = {}

    def loaded(base):
        answers["runs"] = get_json(base + "/data/plugin/epochjump/runs")
        listed = answers["runs"]["runs"]
        return bool(listed) and listed[0]["batches"] == expected

    name = f"loader-{load_fast}-{user_limit}"
    env = subprocess_env(tmp_path)
    with serve_tensorboard(name, command, loaded, env=env) as base:
        runs = answers["runs"]
        series = get_json(
            base + "/data/plugin/epochjump/series?run=run&metric=loss&max_points=100000"
        )

    assert [r["run"] for r in runs["runs"]] == ["run"]
    assert runs["runs"][0]["epochs"] == 2
    assert series["total_batches"] == expected
    if user_limit is None:
        assert runs["warning"] is None
        assert series["batches"]["step"] == list(range(1, CHUNKS + 1))
        assert series["batches"]["batch_value"] == [
            1.0 / step for step in range(1, CHUNKS + 1)
        ]
    else:
        assert "--samples_per_plugin=epochjump=10" in runs["warning"]
