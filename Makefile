# The two commands: `make demo` and `make test`. Both create .venv and install on first use.
# `make test-fast`: the unit, review and CLI tests without the emulator (seconds; for every save).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := out/demo

.PHONY: demo test test-fast lint format typecheck schemas bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" examples/contoso/demo.sh $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not emulator and not slow" tests/unit tests/review tests/cli

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

typecheck: $(STAMP)
	$(BIN)/mypy

schemas: $(STAMP)
	$(BIN)/hsmsync schema manifest > schemas/hsmsync.schema.json
	$(BIN)/hsmsync schema state > schemas/state.schema.json
	for kind in plan drift lint; do $(BIN)/hsmsync schema $$kind > schemas/$$kind.schema.json; done

bench: $(STAMP)
	$(BIN)/python bench/planner.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/changes.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
