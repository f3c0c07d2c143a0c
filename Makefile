# The two commands a new user needs: `make run` and `make test`. Both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The browser test drives Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Benchmarks run in a venv of their own: the peers pin redis-py versions of their own
# (arq wants redis<6), which must not change what the test suite runs against.
BENCH_VENV := .venv-bench

.PHONY: run test lint format clean bench chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `pykue demo` needs every extra: the command, the dashboard and the embedded server.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/pykue demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy --strict src

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests examples benchmarks
	$(BIN)/ruff check --fix src tests examples benchmarks

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

test: lint $(CHROMIUM)
	$(BIN)/python -m pytest

# The fault battery at the sizes RELIABILITY.md reports (make test runs it bounded).
chaos: $(VENV)/.installed-dev
	PYKUE_CHAOS=full PYKUE_CHAOS_FIGURES=chaos-figures.json $(BIN)/python -m pytest -m chaos -p no:cacheprovider

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '.[bench]'
	touch $@

# BENCH_ARGS passes options through, e.g. make bench BENCH_ARGS="--repeats 1 --libs pykue,rq"
bench: $(BENCH_VENV)/.installed
	PYKUE_BENCH_VIA_MAKE=1 $(BENCH_VENV)/bin/python -m benchmarks --output benchmarks/RESULTS.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
