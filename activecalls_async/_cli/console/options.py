"""How ``top`` was asked to run, and how the console lists the calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ...models import ActiveCall, Product
from .calls import Budget

if TYPE_CHECKING:
    from ...client import ActiveCallsClient

__all__ = ["PAGE_SIZE", "ConsoleOptions", "Listing", "fetch_calls"]

#: Rows per request: the fewest requests per refresh (the server's cap is learnt if lower).
PAGE_SIZE = 1000

#: A listing: a product and its id (None for the products that take none).
Listing = tuple[Product, int | str | None]


@attrs.frozen
class ConsoleOptions:
    """How ``top`` was asked to run (the command line's options, resolved)."""

    label: str
    targets: Sequence[Listing]
    budget: Budget
    sort: str = "wait"
    keys: Sequence[str] | None = None
    interval: float = 5.0
    duration: float | None = None
    simulated: bool = False
    supervisor_phone: str | None = None
    secrets: Sequence[str] = ()

    @property
    def whole_account(self) -> bool:
        """Whether the view lists the whole account (then a call it no longer lists has
        ended, whichever view showed it)."""
        return any(product is Product.ACCOUNT for product, _ in self.targets)


async def fetch_calls(client: ActiveCallsClient, targets: Sequence[Listing]) -> list[ActiveCall]:
    """Every call of ``targets``, each uii once, in the fewest requests."""
    calls: list[ActiveCall] = []
    async with client.iter_active_calls_many(list(targets), page_size=PAGE_SIZE) as fanout:
        async for call in fanout:
            calls.append(call)
    return calls
