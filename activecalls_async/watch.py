"""Poll a listing and turn the differences between snapshots into call events."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ActiveCallsError, ClientClosedError, ValidationError
from .models import ActiveCall, CallEvent, CallEventType
from .pagination import PageWalk, _Closing

__all__ = ["CallWatch", "diff_snapshots"]

logger = logging.getLogger("activecalls_async")


def diff_snapshots(
    previous: Mapping[str, ActiveCall], current: Mapping[str, ActiveCall]
) -> list[CallEvent]:
    """Events turning ``previous`` into ``current`` (both keyed by uii): ``started`` and
    ``changed`` in the current listing order, then ``ended`` in the previous one."""
    events = []
    for uii, call in current.items():
        before = previous.get(uii)
        if before is None:
            events.append(CallEvent(CallEventType.STARTED, call))
        elif before != call:
            events.append(CallEvent(CallEventType.CHANGED, call, before))
    events.extend(
        CallEvent(CallEventType.ENDED, call) for uii, call in previous.items() if uii not in current
    )
    return events


def _check_interval(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValidationError("interval", f"expected seconds > 0; got {value!r}")
    return float(value)


class CallWatch(_Closing[CallEvent]):
    """Call events for one listing, from a full walk every ``interval`` seconds.

    The first snapshot yields ``started`` for every call in flight. A later one yields
    ``started`` for new calls, ``changed`` (with ``previous``) for calls whose fields
    changed, and ``ended`` (with the last state seen) for calls gone. A failed poll is
    logged and tried again on the next tick, never reported as calls ending; only a
    closed client ends the stream. Polls start ``interval`` seconds apart (at once when
    the last poll and its events took longer). Cancelling the consumer stops it cleanly.
    """

    def __init__(
        self, open_walk: Callable[[], PageWalk], *, interval: float, label: str = "listing"
    ) -> None:
        self.interval = _check_interval(interval)
        self.label = label
        self._open_walk = open_walk
        self._previous: dict[str, ActiveCall] | None = None
        self._events: deque[CallEvent] = deque()
        self._next_poll: float | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._previous or ())} calls"
        return f"<CallWatch {self.label} every {self.interval:g}s {state}>"

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        self._events.clear()

    async def __anext__(self) -> CallEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            await self._poll_when_due()
        return self._events.popleft()

    async def _poll_when_due(self) -> None:
        loop = asyncio.get_running_loop()
        if self._next_poll is not None:
            delay = self._next_poll - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._next_poll = loop.time() + self.interval
        try:
            async with self._open_walk() as walk:
                current = {call.uii: call async for page in walk for call in page.calls}
        except ClientClosedError:
            self._closed = True
            raise
        except ActiveCallsError as exc:
            # A partial snapshot would report calls as ended: keep the last good one.
            logger.warning(
                "%s: poll failed, trying again in %gs: %s", self.label, self.interval, exc
            )
            return
        self._events.extend(diff_snapshots(self._previous or {}, current))
        self._previous = current
