"""Suite-wide fixtures: the SDK's own simulator plugin, dogfooded by every end-to-end test,
and a check that no test leaves the event loop reporting an error."""

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest_plugins = ["activecalls_async.testing.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """No hypothesis deadline: it times each example on the wall clock, which under coverage,
    in parallel workers on a shared machine, measures the machine (performance is measured
    in benchmarks/). The aioresponses environment has no hypothesis and needs none."""
    if config.pluginmanager.hasplugin("hypothesispytest"):
        from hypothesis import settings

        settings.register_profile("activecalls", deadline=None)
        settings.load_profile("activecalls")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of modules that mock aiohttp with aioresponses: ``make test`` runs
    them on the aiohttp 3.13 line (aioresponses cannot mock 3.14+), the rest on the newest.
    Every async test is checked for errors its event loop reports (``loop_errors``)."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and "aioresponses" in vars(module):
            item.add_marker(pytest.mark.aioresponses)
        if asyncio.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.usefixtures("loop_errors"))


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail the test if the event loop reports anything (an exception never retrieved, a
    task destroyed while pending, an unclosed session)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(previous)
    assert not errors, errors
