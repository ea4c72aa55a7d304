# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
HOST_PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test test-unit lint demo bench bench-check layer clean

$(STAMP): pyproject.toml
	$(HOST_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m ruff check src tests bench sam layer
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check src tests bench sam layer
	$(PY) -m mypy

demo: install
	$(PY) -m sam.demo.run_demo

# `make layer PYTHON=3.12 ARCH=arm64` writes dist/app-protect-layer-3.12-arm64.zip. Here PYTHON names the
# target runtime (3.10-3.13, or all); ARCH is x86_64, arm64 or all. `make layer PYTHON=all ARCH=all` is the
# one zip template.yaml publishes. layer/build.py needs only python3 and pip, not .venv.
PYTHON ?= 3.12
ARCH ?= x86_64

layer:
	$(HOST_PYTHON) layer/build.py --python $(PYTHON) --arch $(ARCH)

# Prints the budget table and keeps it in bench/RESULTS.md. `make bench-check` exits non-zero on a budget
# missed beyond the noise margin the table states (bench/harness.py).
bench: install
	$(PY) -m bench --write

bench-check: install
	$(PY) -m bench --check

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache src/*.egg-info
