# The two commands: `make run` (install and start the service) and `make test` (install what the
# tests need and run them). Both create .venv on first use; nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench calibrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

## Install and start the gateway on http://127.0.0.1:8000 (it starts the model worker itself).
run: $(VENV)/.installed-run
	$(BIN)/python -m api

## Install test dependencies (and Debian's Chromium), lint, and run the whole test suite.
test: $(VENV)/.installed-test
	tools/install-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmark against baselines measured in the same run (a few minutes; JSON in bench/results/).
bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

## Derive the verdict thresholds from data (writes worker/calibration.json).
calibrate: $(VENV)/.installed-test
	$(BIN)/python tools/calibrate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
