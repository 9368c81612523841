# The two commands of the README: `make demo` and `make test`. Everything else is a helper of those.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint typecheck unit clean bench

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/facility setup

demo: setup
	$(BIN)/facility demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy facility simulators ingest predict maintenance evaluation api dashboards runtime bench

test: setup lint typecheck
	$(BIN)/facility setup --browser
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/ingest.py --json
	$(BIN)/python bench/policy.py --json

clean:
	rm -rf var/run var/test .pytest_cache .mypy_cache .ruff_cache
