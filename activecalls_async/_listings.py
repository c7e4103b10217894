"""The walks and watches of ``ActiveCallsClient``: every method that reads listings
page by page (contracts: ``activecalls_async.pagination`` and ``activecalls_async.watch``)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from . import _endpoints as endpoints
from . import _validators as check
from ._fanout import FanOut
from ._paging import PagingMemo
from ._transport import Transport
from ._walk import CallWalk, Fetch, PageWalk, Target, WalkShape, Window, listing_label
from ._wire.request import Request, build_request
from .errors import ValidationError
from .limits.priority import Priority
from .limits.slack import room
from .models import ActiveCall, Product
from .options import DEFAULT, CallOptions, PriorityOption, RetryOption, TimeoutOption
from .watch import CallWatch, SnapshotWatch, WatchPace

if TYPE_CHECKING:  # the fleet needs the optional redis extra: only for annotations here
    from .fleet.hub import SharedCallWatch, SharedWatch, WatchHub
    from .fleet.work import TakenEvents

__all__ = ["ListingMethods", "TargetLike"]

#: What a caller may pass as one listing of a fan-out or a multi-target watch.
TargetLike = Target | tuple[Product | str, int | str | None]


class ListingMethods(abc.ABC):
    """The listing methods of a client; what they need of it is declared here."""

    #: The ``maxRows`` walks ask for by default.
    page_size: int
    #: What the client's walks have learnt of the server's page sizes.
    _paging: PagingMemo
    _transport: Transport

    @abc.abstractmethod
    def _options(
        self,
        default_priority: Priority,
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption,
    ) -> CallOptions:
        """One public call's options, checked and resolved."""

    @abc.abstractmethod
    async def _request(
        self, endpoint: endpoints.Endpoint, args: Mapping[str, Any], options: CallOptions
    ) -> Request:
        """One request, checked and built (the account looked up if needed)."""

    def _fetcher(self, listing: Mapping[str, Any], options: CallOptions) -> Fetch:
        """One listing's pages: its arguments checked now, its request built once (the
        account looked up first if needed), and only ``page`` and ``maxRows`` varying."""
        build_request(endpoints.LIST, "", listing, options)  # bad input fails here, not later
        base: Request | None = None

        async def fetch(page: int, max_rows: int) -> Sequence[ActiveCall]:
            nonlocal base
            if base is None:
                base = await self._request(endpoints.LIST, listing, options)
            calls: Sequence[ActiveCall] = await self._transport.send(base.page(page, max_rows))
            return calls

        return fetch

    def _shape(
        self, page_size: int | None, prefetch: int | Window, options: CallOptions
    ) -> WalkShape:
        """A walk's shape: its page size, its ceiling on guesses, the budget's room."""
        check.count("page_size", page_size, minimum=1, allow_none=True)
        if not callable(prefetch):
            check.count("prefetch", prefetch, minimum=1)
        return WalkShape(
            self.page_size if page_size is None else page_size,
            prefetch,
            room(self._transport.limiter, options.priority),
        )

    def _walk(
        self, fetch: Fetch, label: str, shape: WalkShape, max_items: int | None = None
    ) -> PageWalk:
        return PageWalk(
            fetch,
            attrs.evolve(shape, max_items=max_items),
            memo=self._paging,
            label=label,
            telemetry=self._transport.telemetry,
        )

    def iter_active_call_pages(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        prefetch: int | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> PageWalk:
        """Every page of a listing, each holding the calls new to the walk (the walk
        contract: ``activecalls_async.pagination``)."""
        options = self._options(Priority.BULK, timeout, retry, priority)
        listing = {"product": product, "product_id": product_id, "external_id": external_id}
        fetch = self._fetcher(listing, options)
        ceiling = self._transport.max_concurrency if prefetch is None else prefetch
        shape = self._shape(page_size, ceiling, options)
        label = listing_label(product, product_id, external_id)
        return self._walk(fetch, label, shape, max_items)

    def iter_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        prefetch: int | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> CallWalk:
        """Every call of a listing, each uii once (the walk contract:
        ``activecalls_async.pagination``)."""
        return CallWalk(
            self.iter_active_call_pages(
                product,
                product_id,
                external_id=external_id,
                page_size=page_size,
                max_items=max_items,
                prefetch=prefetch,
                timeout=timeout,
                retry=retry,
                priority=priority,
            )
        )

    def _target_walks(
        self, page_size: int | None, prefetch: int | None, options: CallOptions
    ) -> Callable[[Target, Window | None], PageWalk]:
        """Opens the walk of each target of a fan-out or a multi-target watch: each
        target's request built once, each walk's guesses within its share of the slots
        (or ``prefetch``, the lower)."""
        check.count("prefetch", prefetch, minimum=1, allow_none=True)
        shape = self._shape(page_size, prefetch or 1, options)
        fetchers: dict[Target, Fetch] = {}

        def open_walk(target: Target, share: Window | None) -> PageWalk:
            fetch = fetchers.get(target)
            if fetch is None:
                listing = {
                    "product": target.product,
                    "product_id": target.product_id,
                    "external_id": None,
                }
                fetch = fetchers[target] = self._fetcher(listing, options)
            ceiling: int | Window = prefetch or 1
            if share is not None:
                ceiling = share if prefetch is None else (lambda: min(share(), prefetch))
            return self._walk(fetch, str(target), attrs.evolve(shape, prefetch=ceiling))

        return open_walk

    def iter_active_calls_many(
        self,
        targets: Iterable[TargetLike],
        *,
        page_size: int | None = None,
        prefetch: int | None = None,
        concurrency: int | None = None,
        on_error: Literal["raise", "collect"] = "raise",
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> FanOut:
        """The calls of many listings, walked concurrently, each uii once across them (the
        walk contract: ``activecalls_async.pagination``)."""
        options = self._options(Priority.BULK, timeout, retry, priority)
        open_walk = self._target_walks(page_size, prefetch, options)
        slots = self._transport.max_concurrency
        return FanOut(
            open_walk,
            targets,
            concurrency=slots if concurrency is None else concurrency,
            on_error=on_error,
            slots=slots,
            telemetry=self._transport.telemetry,
        )

    def watch_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        interval: float = 5.0,
        budget_share: float = 0.5,
        initial_events: bool = True,
        page_size: int | None = None,
        prefetch: int = 2,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
        hub: WatchHub | None = None,
    ) -> CallWatch | SharedCallWatch:
        """Poll one listing and yield ``CallEvent``s, as ``activecalls_async.watch`` describes;
        with ``hub``, share the polls with the fleet (``activecalls_async.fleet.hub``)."""
        options = self._options(Priority.WATCH, timeout, retry, priority)
        if hub is not None:
            if external_id is not None:
                raise ValidationError("external_id", "a shared watch (hub=) takes a product")
            target = (product if product is not None else "", product_id)
            opener = self._watch_opener(
                [target], interval, budget_share, initial_events, page_size, None, options
            )
            return hub.share_listing(opener)
        listing = {"product": product, "product_id": product_id, "external_id": external_id}
        fetch = self._fetcher(listing, options)
        shape = self._shape(page_size, prefetch, options)
        label = listing_label(product, product_id, external_id)
        return CallWatch(
            lambda: self._walk(fetch, label, shape),
            WatchPace(interval, budget_share, self._transport.limiter),
            initial_events=initial_events,
            label=label,
        )

    def watch_active_calls_many(
        self,
        targets: Iterable[TargetLike],
        *,
        interval: float = 5.0,
        budget_share: float = 0.5,
        initial_events: bool = True,
        page_size: int | None = None,
        concurrency: int | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
        hub: WatchHub | None = None,
    ) -> SnapshotWatch | SharedWatch:
        """Poll many listings together and yield one ``Snapshot`` per poll, as
        ``activecalls_async.watch`` describes; with ``hub``, share the polls with the fleet
        (``activecalls_async.fleet.hub``)."""
        options = self._options(Priority.WATCH, timeout, retry, priority)
        opener = self._watch_opener(
            targets, interval, budget_share, initial_events, page_size, concurrency, options
        )
        return opener() if hub is None else hub.share(opener)

    def take_call_events(
        self,
        targets: Iterable[TargetLike],
        *,
        hub: WatchHub,
        group: str,
        consumer: str | None = None,
        claim_after: float = 30.0,
        interval: float = 5.0,
    ) -> TakenEvents:
        """Yield each ``CallEvent`` of the fleet's shared watch of ``targets`` to one member of
        ``group``, with ``ack()``, as ``activecalls_async.fleet.work`` describes."""
        from .fleet.work import TakenEvents

        options = self._options(Priority.WATCH, DEFAULT, DEFAULT, DEFAULT)
        opener = self._watch_opener(targets, interval, 0.5, True, None, None, options)
        return TakenEvents(hub, opener, group=group, consumer=consumer, claim_after=claim_after)

    def _watch_opener(
        self,
        targets: Iterable[TargetLike],
        interval: float,
        budget_share: float,
        initial_events: bool,
        page_size: int | None,
        concurrency: int | None,
        options: CallOptions,
    ) -> Callable[..., SnapshotWatch]:
        """Opens the ``SnapshotWatch`` of ``targets``: ``open()``, or ``open(budget_share=)``
        with another share (a fleet's member polling alone takes a part of it)."""
        if isinstance(targets, Iterator):
            targets = tuple(targets)  # every poll, and every opening, reads them again
        open_walk = self._target_walks(page_size, 2, options)
        slots = self._transport.max_concurrency

        def open_fan_out() -> FanOut:
            return FanOut(
                open_walk,
                targets,
                concurrency=slots if concurrency is None else concurrency,
                on_error="collect",
                slots=slots,
                telemetry=self._transport.telemetry,
            )

        def open_watch(*, budget_share: float = budget_share) -> SnapshotWatch:
            return SnapshotWatch(
                open_fan_out,
                WatchPace(interval, budget_share, self._transport.limiter),
                initial_events=initial_events,
            )

        return open_watch
