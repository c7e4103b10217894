"""Where a ``RingCentralAuth`` keeps its RingCX login, so that several can share one."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["StoredLogin", "TokenCache"]


@attrs.frozen(repr=False)
class StoredLogin:
    """A RingCX login as the exchange or refresh answered it, and when it was asked for.

    ``answer`` is the login's JSON object (``accessToken``, ``refreshToken``,
    ``mainAccountId``, ``agentDetails``...); ``obtained_at`` is wall-clock epoch seconds
    taken before the request was sent, so that every process can judge its age.
    """

    answer: Mapping[str, Any]
    obtained_at: float

    def __repr__(self) -> str:
        return f"StoredLogin(obtained_at={self.obtained_at:.3f})"


@runtime_checkable
class TokenCache(Protocol):
    """A login shared by every ``RingCentralAuth`` that uses the same cache.

    ``renewal()`` is held by the one user that renews; the others wait for it and
    then ``load()`` what it stored, so that a fleet renews once, not once per process.
    How ``RingCentralAuth`` uses the three methods is stated in its docstring. An
    exception from any of them reaches the request that needed the login: a cache
    whose store is unreachable should rather behave as an empty cache with no lock
    (and say so in a log), so that each user falls back to a login of its own.
    """

    async def load(self) -> StoredLogin | None:
        """The login stored last, or None."""

    async def store(self, login: StoredLogin) -> None:
        """Keep ``login`` for every user of the cache."""

    def renewal(self) -> AbstractAsyncContextManager[None]:
        """Held while renewing: one holder at a time across every user of the cache."""
