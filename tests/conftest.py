"""Suite-wide fixtures: the SDK's own simulator plugin, dogfooded by every end-to-end test."""

import pytest

pytest_plugins = ["activecalls_async.testing.pytest_plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of modules that mock aiohttp with aioresponses: ``make test`` runs
    them on the aiohttp 3.13 line (aioresponses cannot mock 3.14+), the rest on the newest."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and "aioresponses" in vars(module):
            item.add_marker(pytest.mark.aioresponses)
