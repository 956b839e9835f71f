# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOGDIR ?= logs/demo
# The Keras versions the tests pin: the full suite runs on the newest
# supported Keras 3 and tf_keras (with its TensorFlow); the oldest supported
# Keras 3 runs tests/record/test_keras_api.py, the one file that checks
# Keras's private API (record/keras_api/).
KERAS_NEWEST := 3.15.1
KERAS_OLDEST := 3.10.0
TF_KERAS := 2.21.0
OLDEST_DIR := build/keras-$(KERAS_OLDEST)

.PHONY: demo test check install install-test chromium lint frontend-test benchmark \
  keras-oldest

# Installs epochjump (building its frontend with npm), trains the demo model on
# scikit-learn's bundled digits, prints the explanation and opens TensorBoard.
demo: install
	$(PYTHON) -m epochjump.cli demo --logdir $(LOGDIR)

install:
	$(PYTHON) -m pip install --quiet ".[demo]"

# Installs everything the tests need (Debian's Chromium included) and runs the
# whole suite, slow and browser tests too.
test: install-test lint frontend-test keras-oldest
	$(PYTHON) -m pytest

# The fast checks, while you work (under 4 minutes on a 2-core machine, once
# `make install-test` has run): lint, the frontend's unit tests, and every
# Python test not marked slow or browser, on this checkout's code.
check: lint frontend-test
	cd frontend && npm run --silent build
	PYTHONPATH=plugin$${PYTHONPATH:+:$$PYTHONPATH} $(PYTHON) -m pytest -q \
	  -p no:cacheprovider -m "not slow and not browser"

# The frontend's logic (chart data, smoothing, formatting) under node's own
# test runner, without a browser.
frontend-test:
	cd frontend && npm test

# The Keras adapter's test against the oldest supported Keras 3, installed
# beside the newest (its dependencies are the newest's) and put first on the
# path, before this checkout's code.
keras-oldest:
	$(PYTHON) -m pip install --quiet --no-deps --target $(OLDEST_DIR) "keras==$(KERAS_OLDEST)"
	PYTHONPATH=$(OLDEST_DIR):plugin$${PYTHONPATH:+:$$PYTHONPATH} $(PYTHON) -m pytest -q \
	  -p no:cacheprovider tests/record/test_keras_api.py -k "not tf_keras"

# JAX, PyTorch and tf_keras are for tests/record/test_backends.py; Keras,
# tf_keras and its TensorFlow are pinned (above); torch is pinned to the CPU
# build this kind of machine keeps on disk (plain `torch` would download a
# CUDA build of several GB).
install-test: chromium
	$(PYTHON) -m pip install --quiet ".[test]" jax "torch==2.13.0" \
	  "keras==$(KERAS_NEWEST)" "tf_keras==$(TF_KERAS)" "tensorflow-cpu==$(TF_KERAS)"

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
