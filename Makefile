# The two commands: `make run` and `make test`. Each creates .venv when missing and
# installs what it needs; nothing has to be set up by hand first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# pytest processes of `make test`, each with its own embedded PostgreSQL (auto: one per core).
TEST_WORKERS ?= auto

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/pos run --demo

test: $(VENV)/.installed-test
	bash tests/system_setup.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/redeem.py
	$(BIN)/python bench/issue.py
	$(BIN)/python bench/settlement_export.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
