"""Where ``top`` gets each refresh's calls: its own listing, or a fleet's shared watch.

Without a fleet, each refresh is one fan-out of the listings (:func:`.options.fetch_calls`),
and the view waits its interval between refreshes. In a fleet (a Redis URL configured),
``top`` joins the fleet's shared watch of the same listings instead: one process polls
for every member, and each refresh is the next snapshot it publishes, so a console
beside the bots sends no listing request of its own while another member polls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from ...errors import ActiveCallsError
from ...models import ActiveCall
from .options import Listing, fetch_calls

if TYPE_CHECKING:
    from ...client import ActiveCallsClient
    from ...fleet.hub import SharedWatch

__all__ = ["CallFeed", "ListingFeed", "Refresh", "SharedFeed"]


@attrs.frozen
class Refresh:
    """One refresh: every call in flight, and what failed (its calls kept as last seen)."""

    calls: list[ActiveCall]
    problem: str | None = None


class CallFeed(Protocol):
    """Each refresh's calls."""

    #: True when ``next()`` itself waits for the next refresh (the view does not wait).
    paced: bool

    @property
    def shared_with(self) -> int | None:
        """How many other processes share the view; None when it is this process's own."""

    async def next(self) -> Refresh:
        """The next refresh; an error that waiting cannot heal is raised."""

    async def aclose(self) -> None:
        """Stop."""


class ListingFeed:
    """One fan-out of the listings per refresh."""

    paced = False
    shared_with = None

    def __init__(self, client: ActiveCallsClient, targets: Sequence[Listing]) -> None:
        self._client = client
        self._targets = list(targets)

    async def next(self) -> Refresh:
        """List every call now."""
        return Refresh(await fetch_calls(self._client, self._targets))

    async def aclose(self) -> None:
        """Nothing to stop: each refresh closes its own fan-out."""


class SharedFeed:
    """The snapshots of a fleet's shared watch (``activecalls_async.fleet.hub``)."""

    paced = True

    def __init__(self, watch: SharedWatch) -> None:
        self._watch = watch

    @property
    def shared_with(self) -> int:
        """How many other members the watch had when Redis last answered."""
        return self._watch.shared_with

    async def next(self) -> Refresh:
        """The next snapshot, the listings that failed in it named."""
        try:
            snapshot = await self._watch.__anext__()
        except StopAsyncIteration:  # its hub closed under it
            raise ActiveCallsError("the fleet's shared watch was closed") from None
        problem = None
        if snapshot.errors:
            failed = ", ".join(f"{target}: {error}" for target, error in snapshot.errors.items())
            problem = f"refresh failed: {failed}"
        return Refresh(list(snapshot.calls.values()), problem)

    async def aclose(self) -> None:
        """Leave the shared watch."""
        await self._watch.aclose()
