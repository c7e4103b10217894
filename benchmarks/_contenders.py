"""The contenders' shared plumbing: the SDK client, hand-written aiohttp, the official SDK."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import aiohttp

from activecalls_async import ActiveCallsClient, Limiter

from ._server import ServerInfo

#: Every scenario asks for pages of this many rows (the SDK's default page size).
PAGE_SIZE = 100

#: The client's default ``max_concurrency``, read from the SDK so that it stays true.
DEFAULT_CONCURRENCY: int = (
    inspect.signature(ActiveCallsClient).parameters["max_concurrency"].default
)

Listing = tuple[str, int, int]  # (product, product_id, calls)


def sdk_client(
    server: ServerInfo,
    *,
    rate_limit: Limiter | None = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> ActiveCallsClient:
    """An SDK client on the simulator; no client-side rate limit unless one is given."""
    return ActiveCallsClient(
        account_id=server.account_id,
        auth=server.token,
        base_url=server.base_url,
        rate_limit=rate_limit,
        max_concurrency=max_concurrency,
        page_size=PAGE_SIZE,
        # As installed without the otel extra, whatever this environment holds: the
        # telemetry scenario measures it on.
        telemetry=None,
    )


def list_path(server: ServerInfo) -> str:
    """The list operation's path under the API prefix, as the official SDK takes it."""
    return f"api/v1/admin/accounts/{server.account_id}/activeCalls/list"


def list_url(server: ServerInfo, product: str, product_id: int, page: int) -> str:
    """The full URL of one page, as hand-written aiohttp code would build it."""
    query = urlencode(
        {"product": product, "productId": product_id, "page": page, "maxRows": PAGE_SIZE}
    )
    return f"{server.base_url}/{list_path(server)}?{query}"


def auth_headers(server: ServerInfo) -> dict[str, str]:
    """The bearer header a hand-written client sends."""
    return {"Authorization": f"Bearer {server.token}"}


def raw_session() -> aiohttp.ClientSession:
    """A plain aiohttp session with the same connection limit as the SDK's default."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=DEFAULT_CONCURRENCY))


def pick_listings(targets: Iterable[Listing]) -> list[Listing]:
    """The largest listing of each product: one target per product, ACCOUNT first."""
    best: dict[str, Listing] = {}
    for listing in targets:
        product = listing[0]
        if product not in best or listing[2] > best[product][2]:
            best[product] = listing
    return list(best.values())


def pages_of(listing: Listing) -> int:
    """The fewest requests that list ``listing``: its full pages and one short one."""
    return max(1, math.ceil(listing[2] / PAGE_SIZE))


async def raw_walk(
    session: aiohttp.ClientSession, server: ServerInfo, listing: Listing, seen: set[str]
) -> None:
    """Hand-written aiohttp: ask page after page until a short one; add uiis to ``seen``."""
    product, product_id, _ = listing
    headers = auth_headers(server)
    page = 0
    while True:
        url = list_url(server, product, product_id, page)
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            rows = json.loads(await response.read())
        seen.update(row["uii"] for row in rows)
        if len(rows) < PAGE_SIZE:
            return
        page += 1


class OfficialSdk:
    """The official ``ringcentral-engage-voice`` SDK, pointed at the simulator.

    It is synchronous (``requests``, one new ``Session`` per call) and has no
    pagination, so listing is the page loop a user of it writes around ``get()``.
    """

    def __init__(self, server: ServerInfo) -> None:
        # Imported here: it is a benchmark-only dependency (benchmarks/requirements.txt).
        from ringcentral_engage_voice import RingCentralEngageVoice

        # ``server`` is the host; the SDK adds its ``voice`` API prefix itself.
        self._sdk: Any = RingCentralEngageVoice(server=server.root_url)
        # What its getToken() stores after a RingCX login: only accessToken is read.
        self._sdk.token = {"accessToken": server.token}
        self._path = list_path(server)

    def page(
        self, product: str, product_id: int, page: int, *, max_rows: int = PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """One page of rows through the official ``get()``."""
        params = {"product": product, "productId": product_id, "page": page, "maxRows": max_rows}
        rows: list[dict[str, Any]] = self._sdk.get(self._path, params).json()
        return rows

    def walk(self, listing: Listing, seen: set[str], *, max_rows: int = PAGE_SIZE) -> None:
        """Every page of one listing, one after another, until a short one; add uiis to
        ``seen``."""
        product, product_id, _ = listing
        page = 0
        while True:
            rows = self.page(product, product_id, page, max_rows=max_rows)
            seen.update(row["uii"] for row in rows)
            if len(rows) < max_rows:
                return
            page += 1


def official_available() -> str | None:
    """None when the official SDK can be imported, else why not."""
    try:
        import ringcentral_engage_voice  # noqa: F401
    except ImportError as exc:
        return f"ringcentral-engage-voice is not installed ({exc}); run `make bench`"
    return None
