# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# aioresponses cannot mock aiohttp 3.14+: its tests run in this second environment, which
# holds only what they import (the modules that import aioresponses, as tests/conftest.py
# marks them).
VENV_AIOHTTP313 ?= .venv-aiohttp313
AIORESPONSES_TESTS = $(shell grep -rlE '^(from aioresponses import|import aioresponses)' tests)
# The suite runs in this many pytest-xdist workers: most of its time is spent waiting
# (on servers, timeouts, subprocesses), so four workers keep two cores busy (280 s with
# two workers, 220 s with four on a 2-core machine); a worker that runs out of tests
# takes some of another's (worksteal).
WORKERS ?= 4

.PHONY: demo test lint typecheck docs pytest pytest-aioresponses test-pythons bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV_AIOHTTP313)/bin/python:
	$(PYTHON) -m venv $(VENV_AIOHTTP313)

# No credentials needed: the demo runs against the embedded simulator.
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]"
	$(BIN)/activecalls demo

# The whole suite on the newest aiohttp (the one `pip install` gives users), then the
# aioresponses wire-format tests on the 3.13 line. CI also runs `make test-pythons`.
test: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e ".[test]" aiohttp
	$(MAKE) lint typecheck docs pytest
	$(MAKE) pytest-aioresponses

lint:
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

typecheck:
	$(BIN)/python -m mypy --strict activecalls_async benchmarks docs/figures

# The documentation site, built with --strict: a broken link or reference fails.
docs: $(BIN)/python
	@$(BIN)/python -c "import mkdocs, material, mkdocstrings" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet --site-dir site

# Each worker (and each Python subprocess a test starts) writes its own coverage data
# (pyproject.toml: parallel, patch subprocess); `combine` adds them up.
pytest:
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -m "not aioresponses" -n $(WORKERS) --dist worksteal
	$(BIN)/python -m coverage combine --quiet
	$(BIN)/python -m coverage report

pytest-aioresponses: $(VENV_AIOHTTP313)/bin/python
	$(VENV_AIOHTTP313)/bin/python -m pip install --quiet -e . "aiohttp>=3.13,<3.14" \
		"pytest>=8" "pytest-asyncio>=0.24" "aioresponses>=0.7.6"
	$(VENV_AIOHTTP313)/bin/python -m pytest -m aioresponses -q -p no:cacheprovider \
		$(AIORESPONSES_TESTS)

# The whole suite again on every other Python the package supports (PYTHONS): the oldest
# and the newest this machine's package sources offer. A missing interpreter is skipped
# with a line saying so, except under CI=true, where it fails.
PYTHONS ?= 3.10 3.12 3.13
test-pythons: $(BIN)/python
	@main=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	for want in $(PYTHONS); do \
		[ "$$want" = "$$main" ] && continue; \
		py=""; \
		for candidate in python$$want $$HOME/.pyenv/versions/$$want*/bin/python; do \
			if "$$candidate" -c "" >/dev/null 2>&1; then py=$$candidate; break; fi; \
		done; \
		if [ -z "$$py" ]; then \
			if [ "$${CI:-}" = true ]; then \
				echo "test-pythons: no python$$want found; install it" >&2; exit 1; \
			fi; \
			echo "test-pythons: skipped python$$want: not installed"; continue; \
		fi; \
		venv=.venv-py$$want; \
		[ -x $$venv/bin/python ] || $$py -m venv $$venv || exit 1; \
		$$venv/bin/python -m pip install --quiet --upgrade pip || exit 1; \
		$$venv/bin/python -m pip install --quiet -e ".[test]" || exit 1; \
		$$venv/bin/python -m pip install --quiet --upgrade aiohttp || exit 1; \
		echo "test-pythons: the whole suite on $$($$venv/bin/python --version)"; \
		$$venv/bin/python -m pytest -q -p no:cacheprovider -m "not aioresponses" \
			-n $(WORKERS) --dist worksteal || exit 1; \
	done

# The docs' figures, from simulator runs (a real redis-server for the fleet's), and the
# console's screenshots: docs/images/*.svg, to commit.
.PHONY: figures
figures: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli,redis,docs]" -r benchmarks/requirements.txt
	$(BIN)/python docs/figures/console.py
	$(BIN)/python docs/figures/draw.py

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]" -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENV_AIOHTTP313) .venv-py3.* .coverage .coverage.* .pytest_cache .mypy_cache \
		.ruff_cache dist build site
