"""The account a client's requests act on: given, or looked up once for every request.

With ``account_id=None`` the first request that needs the account id looks it up
(``list_accounts``), once however many tasks start at the same time, and uses it when
the credentials see exactly one sub-account; with several it raises a
``ValidationError`` naming them, with none a ``ValidationError`` saying so. A failed
lookup is tried again by the next request; closing the client stops one in flight,
and the requests waiting for it raise ``ClientClosedError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from . import _validators as check
from ._aio import retrieve
from ._wire.request import api_prefix
from .errors import ClientClosedError, ValidationError
from .models import Account

__all__ = ["AccountLookup"]

logger = logging.getLogger("activecalls_async")


class AccountLookup:
    """The account id and the ``activeCalls`` URL prefix, looked up once if not given."""

    def __init__(
        self,
        base_url: str,
        account_id: str | int | None,
        accounts: Callable[[], Awaitable[Sequence[Account]]],
    ) -> None:
        self._base_url = base_url
        self._accounts = accounts
        #: The account requests act on; ``None`` until looked up when none was given.
        self.account_id: str | None = None
        #: The ``activeCalls`` URL prefix; ``None`` until the account is known.
        self.prefix: str | None = None
        if account_id is not None:
            self._use(check.path_segment("account_id", account_id))
        #: The lookup in flight, shared by every request waiting for it.
        self._lookup: asyncio.Future[str] | None = None

    async def aclose(self) -> None:
        """Stop a lookup in flight: its waiters raise ``ClientClosedError``."""
        lookup, self._lookup = self._lookup, None
        if lookup is not None:
            lookup.cancel()
            await asyncio.wait([lookup])

    async def resolve(self) -> str:
        """The ``activeCalls`` prefix, looking the account up first if needed."""
        if self.prefix is not None:
            return self.prefix
        lookup = self._lookup
        if lookup is None:
            lookup = self._lookup = asyncio.ensure_future(self._discover())
            lookup.add_done_callback(self._done)
        try:
            # Shielded: one caller giving up must not cancel the lookup the others wait for.
            return await asyncio.shield(lookup)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            # Only aclose() cancels the lookup itself; a waiter's own cancel stands.
            if lookup.cancelled() and not (cancelling and cancelling()):
                raise ClientClosedError("the client was closed during the request") from None
            raise

    def _done(self, lookup: asyncio.Future[str]) -> None:
        if self._lookup is lookup:
            self._lookup = None  # a failed lookup is tried again by the next request
        retrieve(lookup)  # a lookup nobody awaits any more is no error

    def _use(self, account_id: str) -> str:
        self.prefix = api_prefix(self._base_url, account_id)
        self.account_id = account_id
        return self.prefix

    async def _discover(self) -> str:
        """Look the account up and keep it; return the ``activeCalls`` prefix."""
        accounts = await self._accounts()
        if not accounts:
            raise ValidationError(
                "account_id",
                "not given, and these credentials see no sub-account to use; pass account_id=",
            )
        if len(accounts) > 1:
            seen = ", ".join(
                f"{a.account_id} ({a.account_name})" if a.account_name else a.account_id
                for a in accounts
            )
            raise ValidationError(
                "account_id", f"not given, and these credentials see several accounts: {seen}"
            )
        account_id = check.path_segment("account_id", accounts[0].account_id)
        prefix = self._use(account_id)
        logger.info("using account %s, the only one these credentials see", account_id)
        return prefix
