"""pytest fixtures that give a test a running Active Calls simulator and a client bound to it.

They load by themselves in any suite where ``activecalls-async`` is installed (a ``pytest11``
entry point; ``-p no:activecalls_async.testing.pytest_plugin`` turns them off); naming the
module in ``pytest_plugins`` as well does no harm. Ask for ``activecalls_client`` (and
``activecalls_simulator`` to inspect or drive the account); a test that needs more clients
of the same account, or one with other credentials, calls ``activecalls_client_factory``.
All are function-scoped: every test gets a fresh, seeded account, and every client made for
it is closed after it. The fixtures are async, so the suite needs pytest-asyncio (any mode).

Configure the simulator and the client per test with markers, or for a whole directory by
overriding the ``activecalls_simulator_options`` and ``activecalls_client_options`` fixtures;
a marker's keywords win over the fixture's (the closest marker's over a class's or module's)::

    @pytest.mark.activecalls_simulator(calls=50, seed=3, live=False)
    @pytest.mark.activecalls_client(retry=None, max_concurrency=2)
    async def test_bot(activecalls_client, activecalls_simulator): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from ..client import ActiveCallsClient
from ._simulator import Simulator

__all__ = [
    "DEFAULT_SIMULATOR_OPTIONS",
    "ClientFactory",
    "activecalls_client",
    "activecalls_client_factory",
    "activecalls_client_options",
    "activecalls_simulator",
    "activecalls_simulator_options",
]

#: What ``activecalls_simulator`` starts by default: a small, seeded, still account.
DEFAULT_SIMULATOR_OPTIONS: dict[str, Any] = {"calls": 200, "seed": 0, "live": False}

#: ``activecalls_client_factory``'s type: keyword arguments for ``ActiveCallsClient`` in,
#: a client of the test's simulator out.
ClientFactory = Callable[..., ActiveCallsClient]

MARKER = "activecalls_simulator"
CLIENT_MARKER = "activecalls_client"

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """pytest-asyncio's fixture decorator; without pytest-asyncio, a fixture that fails with
    the missing package's name (the plugin loads in every suite, so it must not break one)."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - depends on the user's environment

        def needs_pytest_asyncio() -> None:
            pytest.fail(
                f"the {function.__name__} fixture needs pytest-asyncio: pip install pytest-asyncio"
            )

        needs_pytest_asyncio.__name__ = function.__name__
        needs_pytest_asyncio.__doc__ = function.__doc__
        return pytest.fixture(needs_pytest_asyncio)  # type: ignore[return-value]
    return pytest_asyncio.fixture(function)  # type: ignore[return-value]


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, so ``--strict-markers`` suites accept them."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): Simulator options for the activecalls_simulator fixture "
        "(calls, seed, live, latency, rate_limit, faults, ...)",
    )
    config.addinivalue_line(
        "markers",
        f"{CLIENT_MARKER}(**options): ActiveCallsClient options for the activecalls_client "
        "fixture (retry, rate_limit, max_concurrency, page_size, ...)",
    )


def _options(
    request: pytest.FixtureRequest, defaults: dict[str, Any], marker: str
) -> dict[str, Any]:
    """``defaults`` updated by the test's ``marker`` keywords, the closest marker last."""
    options = dict(defaults)
    for found in reversed(list(request.node.iter_markers(marker))):
        if found.args:
            raise pytest.UsageError(f"@pytest.mark.{marker} takes keyword arguments only")
        options.update(found.kwargs)
    return options


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    """Keyword arguments for ``Simulator``; override this fixture to change a suite's default."""
    return dict(DEFAULT_SIMULATOR_OPTIONS)


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    """Extra keyword arguments for ``ActiveCallsClient`` (e.g. ``retry=None``); override this
    fixture to change a suite's default."""
    return {}


@_async_fixture
async def activecalls_simulator(
    request: pytest.FixtureRequest, activecalls_simulator_options: dict[str, Any]
) -> AsyncIterator[Simulator]:
    """A running simulator on 127.0.0.1, stopped after the test."""
    options = _options(request, activecalls_simulator_options, MARKER)
    async with Simulator(**options) as simulator:
        yield simulator


@_async_fixture
async def activecalls_client_factory(
    request: pytest.FixtureRequest,
    activecalls_simulator: Simulator,
    activecalls_client_options: dict[str, Any],
) -> AsyncIterator[ClientFactory]:
    """Makes clients of ``activecalls_simulator`` as ``activecalls_client`` is made, the
    call's keywords (``auth``, ``account_id`` and ``base_url`` too) winning; each is closed
    after the test."""
    defaults = {
        "account_id": activecalls_simulator.account_id,
        "auth": activecalls_simulator.token,
        "base_url": activecalls_simulator.base_url,
        **_options(request, activecalls_client_options, CLIENT_MARKER),
    }
    made: list[ActiveCallsClient] = []

    def make(**options: Any) -> ActiveCallsClient:
        client = ActiveCallsClient(**{**defaults, **options})
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in reversed(made):
            await client.aclose()


@_async_fixture
async def activecalls_client(
    activecalls_client_factory: ClientFactory,
) -> AsyncIterator[ActiveCallsClient]:
    """An ``ActiveCallsClient`` bound to ``activecalls_simulator``, closed after the test."""
    async with activecalls_client_factory() as client:
        yield client
