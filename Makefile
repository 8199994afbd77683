# The two commands: `make run` (install and start the service) and `make test` (install what the
# tests need and run them). Both create .venv on first use; nothing else needs installing by hand.
# Python packages come from pyproject.toml at the versions pinned in constraints.txt (the ones
# the suite was tested with); a change to either file reinstalls.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c $(CONSTRAINTS)

.PHONY: run test lint format bench bench-revision calibrate embedding-study constraints clean

$(BIN)/python:
	@echo "make: creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade -c $(CONSTRAINTS) pip

$(VENV)/.installed-run: pyproject.toml client/pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "make: installing the service, its dependencies and the isc client/command into $(VENV) (pip, versions from $(CONSTRAINTS))"
	$(PIP_INSTALL) -e . -e ./client
	touch $@

$(VENV)/.installed-test: pyproject.toml client/pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "make: installing the service and the test tools (pytest, ruff, mypy, playwright, schemathesis, matplotlib) into $(VENV) (pip, versions from $(CONSTRAINTS))"
	$(PIP_INSTALL) -e '.[test]' -e ./client
	touch $@ $(VENV)/.installed-run

## Install and start the gateway on http://127.0.0.1:8000 (it starts the model worker itself).
run: $(VENV)/.installed-run
	$(BIN)/python -m api

## Install test dependencies (and Debian's Chromium), lint and type-check, run the whole test suite.
test: $(VENV)/.installed-test
	tools/install-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmark against baselines measured in the same run (a few minutes; JSON in bench/results/).
bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

## One method's throughput against an earlier revision, same run: make bench-revision REV=3b8314c
METHOD ?= mobilenet_v2
bench-revision: $(VENV)/.installed-test
	$(BIN)/python bench/against_revision.py $(REV) --method $(METHOD)

## Derive the verdict thresholds from data (writes worker/calibration.json).
calibrate: $(VENV)/.installed-test
	$(BIN)/python tools/calibrate.py

## Measure the CNN embedding candidates (preparation x pooling) by retrieval quality on
## ../shared/eval (writes docs/embedding_study.json; weights: ISC_WEIGHTS_DIR or ../shared/weights).
embedding-study: $(VENV)/.installed-run
	$(BIN)/python tools/embedding_study.py

## Re-pin constraints.txt to what .venv holds now (after an upgrade that passed `make test`):
## Its comments and the line with an environment marker are kept, the rest is pip freeze (less the
## project itself, and setuptools, which only builds it and comes from pyproject.toml's build-system).
constraints: $(VENV)/.installed-test
	{ grep -e '^#' -e ';' $(CONSTRAINTS); \
	  $(BIN)/python -m pip freeze --all --exclude-editable --exclude setuptools; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache test-output
