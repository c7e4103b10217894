# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]"
	$(BIN)/activecalls demo

test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(MAKE) lint typecheck pytest

lint:
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

typecheck:
	$(BIN)/python -m mypy --strict activecalls_async

pytest:
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage report

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]" -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache dist build
