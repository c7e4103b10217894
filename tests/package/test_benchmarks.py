"""Every benchmark scenario imports and has what ``python -m benchmarks`` runs (the runs
themselves are ``make bench``'s, never timed in a test)."""

from __future__ import annotations

import importlib

import pytest

from benchmarks.__main__ import SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_imports_and_names_itself(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert name == module.NAME
    assert module.TITLE
    assert callable(module.run)
