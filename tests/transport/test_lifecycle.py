"""A borrowed session's own settings never change error mapping; one client, one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from activecalls_async import (
    ActiveCallsClient,
    ActiveCallsError,
    NotFoundError,
    RingCentralAuth,
)
from activecalls_async.testing import Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import FAST


@pytest.mark.activecalls_simulator(calls=5, seed=8, rate_limit=None)
async def test_a_session_raising_for_status_still_gets_the_sdk_errors(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        activecalls_client_factory(
            auth=auth, session=session, retry=FAST, rate_limit=None
        ) as client,
    ):
        calls = await client.list_active_calls("ACCOUNT", sim.account_id)
        token = next(r for r in sim.requests if r.operation == "list").headers["Authorization"]
        sim.expire_token(token.removeprefix("Bearer "))
        assert await client.list_active_calls("ACCOUNT", sim.account_id) == calls
        uii = calls[0].uii
        await client.hangup_call(uii)
        with pytest.raises(NotFoundError):  # the call has ended
            await client.hangup_call(uii)
    trail = [(r.operation, r.status) for r in sim.requests]
    assert trail[2:] == [
        ("list", 200),
        ("list", 401),
        ("auth.refresh", 200),
        ("list", 200),
        ("hangupCall", 200),
        ("hangupCall", 404),
    ]


@contextlib.contextmanager
def simulator_in_a_thread(**options: Any) -> Iterator[Simulator]:
    """A simulator serving from its own loop and thread, alive across asyncio.run() calls."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    simulator = Simulator(**options)
    try:
        asyncio.run_coroutine_threadsafe(simulator.__aenter__(), loop).result(10)
        try:
            yield simulator
        finally:
            asyncio.run_coroutine_threadsafe(simulator.__aexit__(None, None, None), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.parametrize("closed_in_second_loop", [True, False])
def test_a_client_refuses_a_second_event_loop_and_leaves_nothing_open(
    caplog: pytest.LogCaptureFixture, closed_in_second_loop: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        simulator_in_a_thread(calls=5, seed=2, rate_limit=None) as sim,
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        client = ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=None
        )

        async def first(client: ActiveCallsClient) -> None:  # left open, as scripts often do
            assert await client.list_active_calls("ACCOUNT", sim.account_id)

        async def second(client: ActiveCallsClient) -> None:
            with pytest.raises(ActiveCallsError, match="event loop it was first used on"):
                await client.list_active_calls("ACCOUNT", sim.account_id)
            if closed_in_second_loop:
                await client.aclose()

        asyncio.run(first(client))
        asyncio.run(second(client))
        del client
        gc.collect()
    assert [str(w.message) for w in seen] == []
    assert "Unclosed" not in caplog.text
    assert [r.status for r in sim.requests] == [200]


def test_a_client_closed_in_its_loop_stays_closed_in_another() -> None:
    with simulator_in_a_thread(calls=5, seed=2, rate_limit=None) as sim:
        client = ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=None
        )

        async def use_and_close() -> None:
            async with client:
                await client.list_active_calls("ACCOUNT", sim.account_id)

        asyncio.run(use_and_close())
        with pytest.raises(ActiveCallsError, match="closed"):
            asyncio.run(client.list_active_calls("ACCOUNT", sim.account_id))
