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
# (on servers, timeouts, subprocesses), so two workers on two cores halve it; a worker
# that runs out of tests takes some of the other's (worksteal).
WORKERS ?= 2

.PHONY: demo test lint typecheck docs pytest pytest-aioresponses decode-other-python bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV_AIOHTTP313)/bin/python:
	$(PYTHON) -m venv $(VENV_AIOHTTP313)

# No credentials needed: the demo runs against the embedded simulator.
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]"
	$(BIN)/activecalls demo

# The whole suite on the newest aiohttp (the one `pip install` gives users), then, side by
# side, the aioresponses wire-format tests on the 3.13 line and the decoder on other Pythons.
test: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e ".[test]" aiohttp
	$(MAKE) lint typecheck docs pytest
	$(MAKE) -j3 --output-sync=target pytest-aioresponses decode-other-python

lint:
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

typecheck:
	$(BIN)/python -m mypy --strict activecalls_async

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

# Time formats must decode on the oldest and the newest Python alike: the decoder's tests
# also run under each of OTHER_PYTHONS that is not the main venv's own version. A missing
# interpreter is skipped with a line saying so, except under CI=true, where it fails.
OTHER_PYTHONS ?= 3.10 3.13
decode-other-python: $(addprefix decode-on-python,$(OTHER_PYTHONS))

# One interpreter's run (`make test` runs them side by side).
decode-on-python%: $(BIN)/python
	@main=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	want=$*; \
	[ "$$want" = "$$main" ] && exit 0; \
	py=""; \
	for candidate in python$$want $$HOME/.pyenv/versions/$$want*/bin/python; do \
		if "$$candidate" -c "" >/dev/null 2>&1; then py=$$candidate; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
		if [ "$${CI:-}" = true ]; then \
			echo "decode-other-python: no python$$want found; install it" >&2; exit 1; \
		fi; \
		echo "decode-other-python: skipped python$$want: not installed"; exit 0; \
	fi; \
	venv=.venv-py$$want; \
	[ -x $$venv/bin/python ] || $$py -m venv $$venv || exit 1; \
	$$venv/bin/python -m pip install --quiet -e . pytest pytest-asyncio hypothesis || exit 1; \
	echo "decode-other-python: the decoder tests on $$($$venv/bin/python --version)"; \
	$$venv/bin/python -m pytest tests/wire/test_decode.py tests/wire/test_fast_decode.py \
		-q -p no:cacheprovider

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]" -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENV_AIOHTTP313) .venv-py3.* .coverage .coverage.* .pytest_cache .mypy_cache \
		.ruff_cache dist build site
