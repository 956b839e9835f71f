"""The built wheel installs and draws the Epoch Jump tab without Node.

From a copy of the repository (so no build artefact lands in it),
`python -m build` makes the sdist and then, from the sdist, the wheel; npm
runs there. The wheel goes into a fresh venv through a PATH on which there is
no `node` or `npm`, and that venv's `tensorboard` serves a run to headless
Chromium. Only the installed console scripts (`tensorboard`, `epochjump`) are
used, never module paths inside the package.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile

import pytest
from browser_env import REPO
from browser_env import open_in_tensorboard
from browser_env import serve_tensorboard
from support.written_runs import write_epochs

import epochjump

pytestmark = [pytest.mark.slow, pytest.mark.browser]

VERSION = epochjump.__version__
RUN = "wheel_run"
WAIT_MS = 30_000
# What the venv's commands may find on PATH besides the venv's own bin/.
ESSENTIAL_TOOLS = ("sh", "env", "uname", "cat", "ls")
NODE_TOOLS = ("node", "nodejs", "npm", "npx", "corepack")
# Not copied: VCS data, what npm and setuptools leave, test output, and the
# bundle, which the wheel build has to make from frontend/src.
IGNORED = {
    ".git",
    "node_modules",
    "build",
    "dist",
    "test-artifacts",
    "logs",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
}
BUNDLE_DIR = REPO / "plugin" / "epochjump" / "static"


def _ignore(directory, names):
    ignored = {n for n in names if n in IGNORED or n.endswith(".egg-info")}
    if os.path.samefile(directory, BUNDLE_DIR.parent):
        ignored.add(BUNDLE_DIR.name)
    return ignored


def _run(command, **kwargs):
    """Runs `command`; on failure the assertion shows its output."""
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-5000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(wheel, sdist) built by `python -m build`: the sdist, then the wheel from it."""
    root = tmp_path_factory.mktemp("wheel_build")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=_ignore, symlinks=True)
    out = root / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)])
    wheel = out / f"epochjump-{VERSION}-py3-none-any.whl"
    sdist = out / f"epochjump-{VERSION}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in out.iterdir())
    return wheel, sdist


def test_sdist_holds_the_frontend_sources_without_node_modules(dists):
    _, sdist = dists
    top = f"epochjump-{VERSION}/"
    with tarfile.open(sdist) as archive:
        names = {n[len(top) :] for n in archive.getnames() if n.startswith(top)}
    for required in (
        "setup.py",
        "MANIFEST.in",
        "plugin/epochjump/__init__.py",
        "frontend/package.json",
        "frontend/package-lock.json",
        "frontend/build.mjs",
        "frontend/tsconfig.json",
        "frontend/src/index.ts",
        "frontend/src/styles.css",
    ):
        assert required in names, required
    assert not [n for n in names if "node_modules" in n]
    # The wheel's bundle is built from these sources, never shipped prebuilt.
    assert not [n for n in names if n.startswith("plugin/epochjump/static/")]


def test_wheel_holds_the_bundle(dists):
    wheel, _ = dists
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundle = archive.read("epochjump/static/index.js")
        entry_points = archive.read(
            f"epochjump-{VERSION}.dist-info/entry_points.txt"
        ).decode()
    assert b"uPlot" in bundle or b"uplot" in bundle
    assert "[tensorboard_plugins]" in entry_points
    assert "[console_scripts]" in entry_points
    assert not [n for n in names if "node_modules" in n or n.startswith("frontend/")]


@pytest.fixture(scope="module")
def venv(dists, tmp_path_factory):
    """A fresh venv with only the wheel (and its dependencies) installed, and
    the environment to run its commands in: a PATH without node or npm."""
    wheel, _ = dists
    root = tmp_path_factory.mktemp("wheel_venv")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    tools = root / "tools"
    tools.mkdir()
    for name in ESSENTIAL_TOOLS:
        found = shutil.which(name)
        if found is not None:
            (tools / name).symlink_to(found)
    path = os.pathsep.join([str(venv / "bin"), str(tools)])
    for name in NODE_TOOLS:
        assert shutil.which(name, path=path) is None, (name, path)
    # PYTHONPATH (the test run's own epochjump) and the like must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PATH=path, PYTHONNOUSERSITE="1")
    # Binary distributions only: nothing may be built during the install.
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            str(wheel),
        ],
        env=env,
        cwd=root,
    )
    yield venv, env, root
    shutil.rmtree(root, ignore_errors=True)


def test_installed_wheel_finds_no_node_and_prints_its_version(venv):
    venv, env, root = venv
    probe = (
        "import json, shutil, epochjump; print(json.dumps({"
        "'file': epochjump.__file__, "
        f"'node': [shutil.which(n) for n in {list(NODE_TOOLS)!r}]}}))"
    )
    seen = json.loads(
        _run([str(venv / "bin" / "python"), "-c", probe], env=env, cwd=root)
    )
    assert seen["node"] == [None] * len(NODE_TOOLS)
    # The wheel's epochjump, not the repository's.
    assert seen["file"].startswith(str(venv)), seen["file"]
    version = _run([str(venv / "bin" / "epochjump"), "--version"], env=env, cwd=root)
    assert version == f"epochjump {VERSION}\n"


def _write_run(run_dir):
    def batch_metrics(epoch, batch):
        loss = 1.0 / (1 + epoch + batch / 20)
        return {"loss": loss, "accuracy": 1 - loss}

    def evals(epoch, last):
        return {"val": last, "train_eval": last}

    write_epochs(run_dir, 3, 20, batch_metrics, evals, weight=32)


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return (
            response.status,
            response.headers.get("Content-Type", ""),
            response.read(),
        )


def _lists_run(base):
    _, _, body = _get(base + "/data/plugin/epochjump/runs")
    return any(r["run"] == RUN and r["batches"] > 0 for r in json.loads(body)["runs"])


def test_installed_wheel_draws_the_tab(venv, dists, page, tmp_path):
    venv, env, root = venv
    wheel, _ = dists
    logdir = tmp_path / "logs"
    _write_run(logdir / RUN)
    command = [str(venv / "bin" / "tensorboard"), "--logdir", str(logdir)]
    with serve_tensorboard("wheel", command, _lists_run, env=env, cwd=root) as base:
        status, content_type, body = _get(base + "/data/plugin/epochjump/index.js")
        assert status == 200
        assert "javascript" in content_type, content_type
        with zipfile.ZipFile(wheel) as archive:
            assert body == archive.read("epochjump/static/index.js")
        _, _, listing = _get(base + "/data/plugins_listing")
        assert "epochjump" in json.loads(listing)

        frame = open_in_tensorboard(page, base, WAIT_MS)
        frame.locator(".uplot canvas").first.wait_for(timeout=WAIT_MS)
        frame.locator(f"[data-testid=run-item][data-run={RUN}]").wait_for(
            timeout=WAIT_MS
        )
        assert RUN in frame.locator("body").inner_text()
        assert list(page.console_errors) == []
