"""The simulated account's records (agents, products, calls) and their wire form."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

import attrs
import msgspec

_encode = msgspec.json.Encoder().encode

#: The products whose listing carries calls; every other product name lists nothing.
RESULT_PRODUCTS = (
    "ACCOUNT",
    "ACD",
    "OUTBOUND",
    "VISUAL_IVR",
    "CLOUD_PROFILE",
    "TRAC_NUMBER",
    "DNIS",
)

#: Every product name the list operation accepts, in the API's documented order.
PRODUCTS = (
    "ACCOUNT",
    "ACD",
    "AGENT",
    "CHAT_QUEUE",
    "OUTBOUND",
    "VISUAL_IVR",
    "CLOUD_PROFILE",
    "CLOUD_DESTINATION",
    "TRAC_NUMBER",
    "HTTP_SERVICES",
    "SCRIPTING",
    "TN_MANAGER",
    "SURVEY",
    "DNIS",
    "TEAMS",
    "KNOWLEDGE_BASE",
    "UTILITIES",
)

SESSION_TYPES = ("MONITOR", "BARGEIN", "COACHING")


@functools.lru_cache(maxsize=8192)
def _second_strings(second: int) -> tuple[str, str]:
    """Return the ISO prefix and the 14-digit stamp of one epoch second (cached: hot path)."""
    moment = datetime.fromtimestamp(second, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.strftime("%Y%m%d%H%M%S")


def wire_time(epoch_ms: int) -> str:
    """Format epoch milliseconds as the API does: ``2026-11-28T14:40:47.000+0000``."""
    second, millis = divmod(epoch_ms, 1000)
    return f"{_second_strings(second)[0]}.{millis:03d}+0000"


def epoch_ms(moment: datetime | int) -> int:
    """Epoch milliseconds from a datetime (naive means UTC) or from epoch milliseconds."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1000)
    return int(moment)


def make_uii(seq: int, epoch_ms: int) -> str:
    """Build a 30-digit uii: the enqueue second's ``yyyyMMddHHmmss`` then the sequence number."""
    return f"{_second_strings(epoch_ms // 1000)[1]}{seq:016d}"


def e164(number: str) -> str:
    """Return the E.164 form of a stored digit string (10 digits are North American)."""
    return f"+1{number}" if len(number) == 10 else f"+{number}"


def phone_key(phone: str) -> str:
    """Reduce a phone number to the digits that identify it (``+1`` NANP prefix dropped)."""
    digits = phone.lstrip("+")
    if len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    return digits


@attrs.define(eq=False, weakref_slot=False)
class Agent:
    """An agent login: available means online, ready and on no call."""

    agent_id: int
    username: str
    first_name: str
    last_name: str
    online: bool
    ready: bool
    queue_ids: tuple[int, ...]
    active_calls: int = 0

    @property
    def available(self) -> bool:
        """Whether the agent can take a new call now."""
        return self.online and self.ready and self.active_calls == 0


@attrs.define(eq=False, weakref_slot=False)
class AccountProduct:
    """A call-carrying product (ACD queue, campaign, IVR, cloud profile, trac number)."""

    kind: str
    product_id: int
    name: str
    dnis: list[str] = attrs.field(factory=list)
    caller_id: str | None = None


@attrs.define(eq=False, weakref_slot=False)
class DnisNumber:
    """An inbound number; its product id is the 10-digit number and it routes to ``target``."""

    number: str
    target: AccountProduct

    @property
    def product_id(self) -> int:
        """The DNIS product id, which is the number itself."""
        return int(self.number)


@attrs.frozen
class Session:
    """A supervisor leg on a call: the phone as given, its session type and its id.

    The API never returns a session's id (``addSessionToCall`` answers ``true``); the
    simulator gives each one so that ``hangupSessionById`` can be exercised.
    """

    phone: str
    session_type: str
    session_id: str = ""


@attrs.frozen
class Disposition:
    """A disposition recorded against a call."""

    disposition: str
    callback: bool
    callback_at: str | None
    notes: str | None


def _forget_row(call: Call, attribute: attrs.Attribute[Any], value: Any) -> Any:
    """Any change to a call drops its encoded row: the next listing encodes it afresh."""
    if attribute.name != "_row":
        object.__setattr__(call, "_row", None)
    return value


@attrs.define(eq=False, weakref_slot=False, repr=False, on_setattr=_forget_row)
class Call:
    """One call in flight, kept compact; :meth:`wire` renders the API's ActiveCall object."""

    seq: int
    enqueue_ms: int
    dequeue_ms: int | None
    product: AccountProduct | None  # None for a manual agent call: it is seen under ACCOUNT only
    dnis: str
    ani: str
    cnam: str
    external_id: str
    destination_name: str
    state: str
    archive: bool
    agent: Agent | None = None
    first_name: str | None = None
    last_name: str | None = None
    recording: bool = True
    sessions: dict[str, Session] | None = None
    # (account id, encoded wire form), kept while the call is unchanged: a listing is the
    # simulator's hottest path, and most rows are the same from one page request to the next.
    _row: tuple[str, msgspec.Raw] | None = attrs.field(default=None, init=False)

    @property
    def uii(self) -> str:
        """The call's unique id (derived, so it costs no memory per call)."""
        return make_uii(self.seq, self.enqueue_ms)

    @property
    def inbound(self) -> bool:
        """Whether the call came in on a DNIS (and so is also listed under that DNIS)."""
        return self.product is not None and self.product.kind != "OUTBOUND"

    def wire(self, account_id: str) -> dict[str, Any]:
        """Render the call as the API's ActiveCall JSON object (wire field names)."""
        dequeue = self.dequeue_ms
        return {
            "uii": make_uii(self.seq, self.enqueue_ms),
            "accountId": account_id,
            "ani": self.ani,
            "dnis": self.dnis,
            "dnisE164": e164(self.dnis),
            "enqueueTime": wire_time(self.enqueue_ms),
            "dequeueTime": None if dequeue is None else wire_time(dequeue),
            "callState": self.state,
            "archive": self.archive,
            "agentFirstName": self.first_name,
            "agentLastName": self.last_name,
            "destinationName": self.destination_name,
            "externalId": self.external_id,
            "cnam": self.cnam,
        }

    def row(self, account_id: str) -> msgspec.Raw:
        """The call's wire form, JSON-encoded, to place in a listing's page as it is."""
        row = self._row
        if row is None or row[0] != account_id:
            row = self._row = (account_id, msgspec.Raw(_encode(self.wire(account_id))))
        return row[1]

    def __repr__(self) -> str:
        return f"Call(uii={self.uii!r}, state={self.state!r})"
