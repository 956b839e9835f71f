# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOGDIR ?= logs/demo

.PHONY: demo test install install-test chromium lint benchmark

# Installs epochjump (building its frontend with npm), trains the demo model on
# scikit-learn's bundled digits, prints the explanation and opens TensorBoard.
demo: install
	$(PYTHON) -m epochjump.cli demo --logdir $(LOGDIR)

install:
	$(PYTHON) -m pip install --quiet ".[demo]"

# Installs everything the tests need (Debian's Chromium included) and runs the
# whole suite, slow and browser tests too.
test: install-test lint
	$(PYTHON) -m pytest

# JAX, PyTorch and tf_keras are for tests/test_backends.py; torch is pinned
# to the CPU build this kind of machine keeps on disk (plain `torch` would
# download a CUDA build of several GB).
install-test: chromium
	$(PYTHON) -m pip install --quiet ".[test]" jax "torch==2.13.0" tf_keras

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint:
	$(PYTHON) -m ruff check plugin tests benchmarks setup.py frontend/dev docs/examples
	cd frontend && npm run --silent typecheck

benchmark: install
	$(PYTHON) benchmarks/overhead.py
	$(PYTHON) benchmarks/writer_speed.py
	$(PYTHON) benchmarks/series_benchmark.py
	$(PYTHON) benchmarks/serving_benchmark.py
	$(PYTHON) benchmarks/estimator_accuracy.py
	$(PYTHON) benchmarks/progress_bar_overhead.py
