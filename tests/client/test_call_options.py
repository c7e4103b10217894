"""Per-call options: checked once, defaults filled in once, and a connect/total timeout."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from activecalls_async import (
    DEFAULT,
    ActiveCallsClient,
    APITimeoutError,
    CallOptions,
    Priority,
    RetryPolicy,
    Timeout,
    ValidationError,
)
from activecalls_async.options import ClientDefaults, client_timeout
from activecalls_async.testing import Faults, Simulator
from tests.support import ACCOUNT, silent_tcp


def test_the_defaults_are_decided_in_one_place_and_shared_when_nothing_is_asked() -> None:
    defaults = ClientDefaults.of(timeout=12.0, retry=None)
    plain = defaults.resolve(DEFAULT, DEFAULT, DEFAULT, default_priority=Priority.BULK)
    assert plain == CallOptions(aiohttp.ClientTimeout(total=12.0), None, Priority.BULK)
    assert defaults.resolve(DEFAULT, DEFAULT, DEFAULT, default_priority=Priority.BULK) is plain
    policy = RetryPolicy(max_attempts=2)
    asked = defaults.resolve(3.0, policy, Priority.ACTION, default_priority=Priority.BULK)
    assert asked == CallOptions(aiohttp.ClientTimeout(total=3.0), policy, Priority.ACTION)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, aiohttp.ClientTimeout(total=None)),
        (2, aiohttp.ClientTimeout(total=2.0)),
        (Timeout(10.0, connect=1.5), aiohttp.ClientTimeout(total=10.0, connect=1.5)),
        (Timeout(connect=1.0), aiohttp.ClientTimeout(total=None, connect=1.0)),
        (aiohttp.ClientTimeout(sock_read=3.0), aiohttp.ClientTimeout(sock_read=3.0)),
    ],
)
def test_a_timeout_is_seconds_a_pair_or_aiohttps_own(
    value: object, expected: aiohttp.ClientTimeout
) -> None:
    assert client_timeout(value) == expected


@pytest.mark.parametrize("value", [0, -1, float("nan"), "5", True, (1, 2)])
def test_a_bad_timeout_is_refused_naming_it(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        client_timeout(value)
    assert info.value.parameter.startswith("timeout")


@pytest.mark.parametrize("field", ["total", "connect"])
def test_a_bad_timeout_pair_is_refused_naming_its_part(field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Timeout(**{field: -2.0})  # type: ignore[arg-type]
    assert info.value.parameter == f"timeout.{field}"


async def test_the_connect_part_bounds_getting_a_connection() -> None:
    # A server that accepts TCP but never finishes TLS: the connect limit ends the
    # attempt long before the total would.
    async with silent_tcp() as (port, _):
        client = ActiveCallsClient(
            account_id=ACCOUNT,
            auth="tok-123456789",
            base_url=f"https://127.0.0.1:{port}",
            retry=None,
            rate_limit=None,
            timeout=Timeout(30.0, connect=0.2),
        )
        async with client:
            started = asyncio.get_running_loop().time()
            with pytest.raises(APITimeoutError) as info:
                await client.list_active_calls("ACD", 55)
            took = asyncio.get_running_loop().time() - started
    assert took < 5.0
    assert not info.value.request_sent
    assert "no connection within 0.2s" in str(info.value)


@pytest.mark.activecalls_simulator(calls=20)
async def test_a_per_call_pair_overrides_the_clients_timeout(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    activecalls_simulator.faults = Faults(latency=0.5)
    with pytest.raises(APITimeoutError) as info:
        await activecalls_client.list_active_calls(
            "ACD", 55, timeout=Timeout(0.1, connect=5.0), retry=None
        )
    assert "within 0.1s" in str(info.value)


@pytest.mark.activecalls_simulator(calls=20)
async def test_bad_per_call_options_are_refused_before_anything_is_sent(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    client = activecalls_client
    with pytest.raises(ValidationError, match="timeout"):
        await client.hangup_call("U1", timeout=Timeout(-1.0))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="retry"):
        await client.hangup_call("U1", retry="twice")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="priority"):
        await client.hangup_call("U1", priority=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="timeout"):
        client.iter_active_calls("ACD", 55, timeout=0)
    assert activecalls_simulator.requests == []
