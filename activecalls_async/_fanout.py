"""Many listings walked at once: ``FanOut`` (the contract is
``activecalls_async.pagination``'s, under "Many listings")."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import attrs

from . import _validators as check
from ._aio import ClosingIterator, cancel_all
from ._walk import ActiveCallPage, PageWalk, Target, Window, as_target
from .errors import ActiveCallsError, ValidationError
from .models import ActiveCall, Product
from .telemetry._base import OFF, Recorder, ScopeTrace

__all__ = ["FanOut", "OpenWalk"]

logger = logging.getLogger("activecalls_async")

#: Opens one target's walk; ``Window`` is its share of the fan-out's slots (None: its own).
OpenWalk = Callable[[Target, Window | None], PageWalk]


@attrs.define(eq=False)
class _FanOutState:
    """What a fan-out's workers share; they never reference the FanOut itself, so that
    dropping it can cancel them."""

    todo: deque[Target]
    open_walk: OpenWalk
    on_error: str
    queue: asyncio.Queue[tuple[Target, ActiveCallPage] | None]
    errors: dict[Target, Exception] = attrs.field(factory=dict)
    walks: dict[Target, PageWalk] = attrs.field(factory=dict)
    failure: BaseException | None = None
    workers_left: int = 0
    #: Request slots shared among the walks in progress (0: each keeps its own prefetch).
    slots: int = 0
    walking: int = 0

    def share(self) -> int:
        """Each walk's fair share of the request slots (at least one)."""
        return max(1, -(-self.slots // max(1, self.walking)))

    def fail(self, exc: Exception) -> None:
        """Record the fan-out's failure; the first one recorded is the one raised."""
        if self.failure is None:
            self.failure = exc

    def wake(self) -> None:
        """Wake a consumer waiting on an empty queue (a full queue needs no wake-up)."""
        if not self.queue.full():
            self.queue.put_nowait(None)


async def _walk_targets(state: _FanOutState) -> None:
    """Worker: walk targets one after another until none is left or the fan-out fails.

    A worker never dies silently: anything it raises, other than being cancelled, is
    recorded as the fan-out's failure, which the consumer raises.
    """
    try:
        while state.todo and state.failure is None:
            await _walk_target(state, state.todo.popleft())
    except Exception as exc:  # a bug in the worker itself: fail the fan-out with it
        state.fail(exc)
    finally:
        state.workers_left -= 1
        state.wake()


async def _walk_target(state: _FanOutState, target: Target) -> None:
    """Walk one target into the queue; record its failure as ``on_error`` says."""
    walk: PageWalk | None = None
    state.walking += 1
    try:
        walk = state.walks[target] = state.open_walk(target, state.share if state.slots else None)
        async for page in walk:
            await state.queue.put((target, page))
    except ActiveCallsError as exc:
        state.errors[target] = exc
        if state.on_error == "raise":
            state.fail(exc)
        else:
            logger.warning("%s: listing failed, carrying on without it: %s", target, exc)
    except Exception as exc:  # a bug is never collected: it fails the fan-out
        state.errors[target] = exc
        state.fail(exc)
    finally:
        state.walking -= 1
        if walk is not None:
            await walk.aclose()


class FanOut(ClosingIterator[ActiveCall]):
    """The calls of many listings, walked concurrently, each uii once (see the module
    docstring); ``open_walk(target, window)`` opens each target's walk. Its span, the
    parent of its walks', is ``telemetry``'s."""

    def __init__(
        self,
        open_walk: OpenWalk,
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        *,
        concurrency: int,
        on_error: Literal["raise", "collect"] = "raise",
        slots: int = 0,
        telemetry: Recorder = OFF,
    ) -> None:
        check.count("concurrency", concurrency, minimum=1)
        check.count("slots", slots, minimum=0)
        if on_error not in ("raise", "collect"):
            raise ValidationError("on_error", f"expected 'raise' or 'collect'; got {on_error!r}")
        if isinstance(targets, (str, bytes, Target)) or not isinstance(targets, Iterable):
            raise ValidationError("targets", "expected an iterable of targets")
        #: The distinct targets, in the order given.
        self.targets: tuple[Target, ...] = tuple(dict.fromkeys(as_target(t) for t in targets))
        self.concurrency = min(concurrency, len(self.targets)) or 1
        self._state = _FanOutState(
            deque(self.targets),
            open_walk,
            on_error,
            asyncio.Queue(maxsize=self.concurrency),
            slots=slots,
        )
        self._sources: dict[str, tuple[Target, ...]] = {}
        self._buffer: deque[ActiveCall] = deque()
        self._workers: list[asyncio.Future[None]] = []
        self._started = False
        self._closed = False
        self._telemetry = telemetry
        self._trace: ScopeTrace | None = None

    def __repr__(self) -> str:
        return (
            f"<FanOut {len(self.targets)} targets concurrency={self.concurrency} "
            f"on_error={self._state.on_error!r} errors={len(self.errors)}>"
        )

    @property
    def errors(self) -> Mapping[Target, Exception]:
        """The error of each target whose listing failed."""
        return self._state.errors

    @property
    def walks(self) -> Mapping[Target, PageWalk]:
        """The walk of each target opened so far (what each read, what it cost)."""
        return self._state.walks

    @property
    def sources(self) -> Mapping[str, tuple[Target, ...]]:
        """For each uii seen so far, the targets that listed it, in the order seen."""
        return self._sources

    def __del__(self) -> None:
        cancel_all(getattr(self, "_workers", ()))
        if getattr(self, "_trace", None) is not None:
            self._end_trace()

    async def aclose(self) -> None:
        """Cancel and await every worker and request in flight; iteration stops at once."""
        self._closed = True
        self._buffer.clear()
        workers, self._workers = self._workers, []
        cancel_all(workers)
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        if self._trace is not None:  # after its walks, which their workers closed
            self._end_trace()

    def _end_trace(self) -> None:
        trace, self._trace = self._trace, None
        if trace is not None:
            walks = self._state.walks.values()
            trace.end(
                {
                    "activecalls.pages": sum(walk.pages_read for walk in walks),
                    "activecalls.requests": sum(walk.requests for walk in walks),
                    "activecalls.failed_targets": len(self._state.errors),
                }
            )

    def _start(self) -> None:
        self._started = True
        state = self._state
        state.workers_left = min(self.concurrency, len(self.targets))
        self._trace = trace = self._telemetry.fan_out(len(self.targets))
        self._workers = [
            # Started in its span's context, workers walk (and send) as its children.
            asyncio.ensure_future(_walk_targets(state))
            if trace is None
            else trace.spawn(_walk_targets(state))
            for _ in range(state.workers_left)
        ]

    async def __anext__(self) -> ActiveCall:
        if self._closed:
            raise StopAsyncIteration
        if not self._started:
            self._start()
        try:
            return await self._next_call()
        except BaseException as exc:
            if self._trace is not None:
                self._trace.failed(exc)
            await self.aclose()
            raise

    async def _next_call(self) -> ActiveCall:
        state = self._state
        sources = self._sources
        while True:
            if state.failure is not None:
                raise state.failure
            if self._buffer:
                return self._buffer.popleft()
            if state.workers_left == 0 and state.queue.empty():
                await self.aclose()
                raise StopAsyncIteration
            item = await state.queue.get()
            if item is None:
                continue  # a wake-up: look at the state again
            target, page = item
            for call in page.calls:
                known = sources.get(call.uii)
                if known is None:
                    sources[call.uii] = (target,)
                    self._buffer.append(call)
                elif target not in known:
                    sources[call.uii] = (*known, target)
