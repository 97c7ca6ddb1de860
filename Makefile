# Two commands a new user needs: `make run` (the service, embedded PostgreSQL and Redis unless DATABASE_URL /
# REDIS_URL are set) and `make test` (the whole suite, the same way).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFORMANCE_VENV := .venv-conformance
CONFORMANCE_STAMP := $(CONFORMANCE_VENV)/.installed

.PHONY: install run test lint typecheck check conformance-tools bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CONFORMANCE_STAMP): tests/conformance/requirements.txt
	$(PYTHON) -m venv $(CONFORMANCE_VENV)
	$(CONFORMANCE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CONFORMANCE_VENV)/bin/python -m pip install --quiet -r tests/conformance/requirements.txt
	touch $(CONFORMANCE_STAMP)

install: $(STAMP)

conformance-tools: $(CONFORMANCE_STAMP)

run: $(STAMP)
	$(BIN)/scimctl dev

test: $(STAMP) $(CONFORMANCE_STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CONFORMANCE_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
