# bastion — developer and CI entry points. Everything runs from a local virtualenv (.venv).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TESTS  ?= tests
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit dev clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs bastion with its test dependencies. torch is pinned to the local CPU build first, so
# nothing below it can pull a newer (CUDA) release.
$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'torchattacks==3.5.1'
	touch $@

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[examples]'
	touch $@

dev: $(VENV)/.dev-installed

## demo: install bastion, build the example projects' models, scan both projects
demo: $(VENV)/.demo-installed
	$(BIN)/python examples/build_models.py
	@echo "== the vulnerable project: the gate fails (exit 1) =="
	-$(BIN)/bastion scan examples/vulnerable-project
	@echo "== the fixed project: the gate passes =="
	$(BIN)/bastion scan examples/fixed-project

lint: dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: dev
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest $(TESTS) $(PYTEST_ARGS)

## test: the whole suite, as CI runs it
test: lint typecheck unit

## bench: model-scanner efficacy and speed against picklescan, ModelScan, fickling, ModelAudit
bench: dev
	$(BIN)/python bench/efficacy.py
	$(BIN)/python bench/scan_speed.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache \
		examples/vulnerable-project/models examples/fixed-project/models
