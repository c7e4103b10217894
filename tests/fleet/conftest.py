"""A real Redis for the fleet tests: one session-wide server, and private ones to stop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests.support import need_program

from .redis_server import INSTALL_HINT, RedisServer


def _binary() -> str:
    return need_program("redis-server", INSTALL_HINT)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole session (never stopped by a test)."""
    server = RedisServer(_binary())
    server.start()
    yield server
    server.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of the test's own, which the test may stop and restart."""
    server = RedisServer(_binary())
    server.start()
    yield server
    server.close()


@pytest.fixture
def fleet_key() -> str:
    """A key no other test uses."""
    return f"test-fleet-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client the test owns, on the session's server."""
    client = aioredis.Redis.from_url(redis_server.url, socket_timeout=2)
    yield client
    await client.aclose()
