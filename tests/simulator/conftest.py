"""Fixtures for the simulator's own tests: a running simulator and a plain aiohttp session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from activecalls_async.testing import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A started simulator with 200 seeded calls and no rate limit (tests of it build their own)."""
    async with Simulator(calls=200, seed=7, rate_limit=None) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
