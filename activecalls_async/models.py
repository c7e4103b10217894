"""Typed models of what the Active Calls API returns, and the enums it takes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "RESULT_PRODUCTS",
    "Account",
    "ActiveCall",
    "CallEvent",
    "CallEventType",
    "Product",
    "QueueCheck",
    "SessionType",
]


class Product(str, enum.Enum):
    """A product whose active calls can be listed."""

    ACCOUNT = "ACCOUNT"
    ACD = "ACD"
    AGENT = "AGENT"
    CHAT_QUEUE = "CHAT_QUEUE"
    OUTBOUND = "OUTBOUND"
    VISUAL_IVR = "VISUAL_IVR"
    CLOUD_PROFILE = "CLOUD_PROFILE"
    CLOUD_DESTINATION = "CLOUD_DESTINATION"
    TRAC_NUMBER = "TRAC_NUMBER"
    HTTP_SERVICES = "HTTP_SERVICES"
    SCRIPTING = "SCRIPTING"
    TN_MANAGER = "TN_MANAGER"
    SURVEY = "SURVEY"
    DNIS = "DNIS"
    TEAMS = "TEAMS"
    KNOWLEDGE_BASE = "KNOWLEDGE_BASE"
    UTILITIES = "UTILITIES"

    def __str__(self) -> str:
        return self.value


#: The products that take a ``productId`` and return calls; the rest return ``[]``.
RESULT_PRODUCTS: frozenset[Product] = frozenset(
    {
        Product.ACCOUNT,
        Product.ACD,
        Product.OUTBOUND,
        Product.VISUAL_IVR,
        Product.CLOUD_PROFILE,
        Product.TRAC_NUMBER,
        Product.DNIS,
    }
)


class SessionType(str, enum.Enum):
    """How a supervisor joins a call: listen, whisper to the agent, or join."""

    MONITOR = "MONITOR"
    COACHING = "COACHING"
    BARGEIN = "BARGEIN"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class ActiveCall:
    """One call in flight, as the ``list`` operation reports it.

    Times are timezone-aware; ``dequeue_time`` and the agent names are ``None`` while
    the call waits in queue. Fields the API adds later land in ``extra`` untouched.
    """

    uii: str
    account_id: str | None = None
    ani: str | None = None
    dnis: str | None = None
    dnis_e164: str | None = None
    enqueue_time: datetime | None = None
    dequeue_time: datetime | None = None
    call_state: str | None = None
    archive: bool | None = None
    agent_first_name: str | None = None
    agent_last_name: str | None = None
    destination_name: str | None = None
    external_id: str | None = None
    cnam: str | None = None
    # Compared (a change in a field the API adds later is a change) but not hashed
    # (a dict is not hashable).
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    @property
    def agent_name(self) -> str | None:
        """The agent's full name, or ``None`` while nobody has answered."""
        parts = [p for p in (self.agent_first_name, self.agent_last_name) if p]
        return " ".join(parts) or None


@attrs.frozen
class QueueCheck:
    """The answer of a pre-route queue check: may a call be routed to the queue?"""

    status: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.status


class CallEventType(str, enum.Enum):
    """What happened to a call between two polls."""

    STARTED = "started"
    CHANGED = "changed"
    ENDED = "ended"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class CallEvent:
    """A change seen by ``watch_active_calls``; ``previous`` is set for ``changed``."""

    type: CallEventType
    call: ActiveCall
    previous: ActiveCall | None = None


@attrs.frozen(kw_only=True)
class Account:
    """A RingCX sub-account the credentials can see (``client.list_accounts()``).

    ``account_id`` is what ``ActiveCallsClient(account_id=...)`` takes; fields the API
    adds beyond the documented three land in ``extra`` untouched.
    """

    account_id: str
    account_name: str | None = None
    main_account_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
