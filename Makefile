# The two commands from the README:  `make run`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.runtime

## run: set up and start Careline on the embedded database with demo data (http://127.0.0.1:8000)
run: $(VENV)/.runtime
	$(BIN)/careline demo

## test: set up and run linters, type checks, layering contracts and the whole test suite
test: lint
	$(BIN)/pytest -n auto --dist loadfile

lint: $(VENV)/.dev
	$(BIN)/ruff check careline tests benchmarks
	$(BIN)/mypy careline
	$(BIN)/lint-imports --no-cache

## bench: run every benchmark and record the figures in docs/benchmarks.md (takes tens of minutes)
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.patient_lookup --write
	$(BIN)/python -m benchmarks.import_fhir --write
	$(BIN)/python -m benchmarks.first_available --write
	$(BIN)/python -m benchmarks.concurrent_booking --write
	$(BIN)/python -m benchmarks.routing_decisions --write
	$(BIN)/python -m benchmarks.routing_end_to_end --write
	$(BIN)/python -m benchmarks.screen_pop --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
