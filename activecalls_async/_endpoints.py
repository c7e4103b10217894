"""The endpoint registry: one descriptor per operation, each a module constant.

A descriptor says everything the pure request builder and response decoder need:
the HTTP method, the path (under ``accounts/{accountId}/activeCalls/`` or, for the
``ADMIN`` scope, directly under ``api/v1/admin/``), every query parameter (wire name,
Python name, type, whether required, and the check that turns a value into wire
text), the response kind and the retry class. Adding an operation means adding one
descriptor here and one thin client method; code refers to descriptors by constant
(``DISPOSITION_CALL``), never by looking a name up.

Checks that are the SDK's own (the API documents no such rule) are marked in
``_validators``; ``docs/concepts/operations.md`` lists them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

import attrs

from . import _validators as check
from .errors import ValidationError
from .limits.priority import Priority
from .models import Product, SessionType

__all__ = [
    "ACCOUNTS",
    "ADD_SESSION_TO_CALL",
    "CHECK_QUEUE_STATUS",
    "CHECK_QUEUE_THRESHOLD",
    "CREATE_MANUAL_AGENT_CALL",
    "DISPOSITION_CALL",
    "ENDPOINTS",
    "HANGUP_CALL",
    "HANGUP_SESSION",
    "HANGUP_SESSION_BY_ID",
    "LIST",
    "PING_CALL",
    "REQUEUE_CALL",
    "TOGGLE_CALL_HOLD",
    "TOGGLE_CALL_RECORDING",
    "Endpoint",
    "Param",
    "ResponseKind",
    "RetryClass",
    "Scope",
    "default_priority",
]


class ResponseKind(enum.Enum):
    """The shape of a 2xx body."""

    CALL_LIST = "a JSON array of ActiveCall"
    ACTION = "text/plain true or false"
    QUEUE_CHECK = 'a JSON object {"status": bool, "reason": str}'
    ACCOUNT_LIST = "a JSON array of accounts"
    #: Whatever the server sends: JSON when it parses, else text (``client.request``).
    ANY = "JSON or text"
    #: The answer itself: status, headers and body (``client.request(..., raw=True)``).
    RAW = "any body, kept as it came"


class RetryClass(enum.Enum):
    """Whether repeating the request could act twice."""

    #: A read, or an action whose repeat changes nothing (set recording to a value).
    IDEMPOTENT = "idempotent"
    #: A repeat could act twice, or report a success as a failure: retried only when
    #: the server cannot have acted on the first attempt.
    AT_MOST_ONCE = "at-most-once"


class Scope(enum.Enum):
    """Which URL a descriptor's path is relative to."""

    #: ``{BASE_URL}/api/v1/admin/accounts/{accountId}/activeCalls/``: needs the account id.
    ACTIVE_CALLS = "activeCalls"
    #: ``{BASE_URL}/api/v1/admin/``: no account id needed.
    ADMIN = "admin"


@attrs.frozen
class Param:
    """One query parameter: its wire and Python names, type and check."""

    wire: str
    name: str
    type: type[Any]
    encode: Callable[[str, Any], str]
    required: bool = False


@attrs.frozen
class Endpoint:
    """Everything needed to build one operation's request and decode its answer."""

    operation: str
    method: str
    path: str
    params: tuple[Param, ...]
    response: ResponseKind
    retry: RetryClass
    #: Cross-parameter rule over the Python-named arguments, run before encoding.
    check: Callable[[Mapping[str, Any]], None] | None = None
    scope: Scope = Scope.ACTIVE_CALLS
    #: The default claim on slots and rate limit: call control (POST) acts, the rest reads.
    priority: Priority = attrs.field(
        default=attrs.Factory(lambda self: default_priority(self.method), takes_self=True)
    )
    #: The Python names ``build_request`` accepts for this operation (derived, kept once).
    arguments: frozenset[str] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda self: _arguments(self.path, self.params), takes_self=True),
    )

    @property
    def takes_uii(self) -> bool:
        """Whether the path carries a call's ``uii`` segment."""
        return "{uii}" in self.path


def default_priority(method: str) -> Priority:
    """A request's claim on slots and rate limit by default: call control (POST) acts,
    the rest reads."""
    return Priority.ACTION if method == "POST" else Priority.READ


def _arguments(path: str, params: tuple[Param, ...]) -> frozenset[str]:
    names = {param.name for param in params}
    if "{uii}" in path:
        names.add("uii")
    return frozenset(names)


def _list_check(args: Mapping[str, Any]) -> None:
    # Neither product nor externalId is legal per the spec: the server decides.
    if args.get("product_id") is not None and args.get("product") is None:
        raise ValidationError("product", "product_id needs a product")


def _disposition_check(args: Mapping[str, Any]) -> None:
    if args.get("callback") is True and args.get("callback_at") is None:
        raise ValidationError("callback_at", "required when callback is True")
    if args.get("callback") is False and args.get("callback_at") is not None:
        raise ValidationError("callback_at", "only allowed when callback is True")


_notes = partial(check.text, max_length=4000)

LIST = Endpoint(
    "list",
    "GET",
    "list",
    (
        Param("product", "product", Product, check.product),
        Param("productId", "product_id", int, check.identifier),
        Param("externalId", "external_id", str, check.text),
        Param("page", "page", int, check.non_negative_int),
        Param("maxRows", "max_rows", int, check.positive_int),
    ),
    ResponseKind.CALL_LIST,
    RetryClass.IDEMPOTENT,
    _list_check,
)
CREATE_MANUAL_AGENT_CALL = Endpoint(
    "createManualAgentCall",
    "POST",
    "createManualAgentCall",
    (
        Param("username", "username", str, check.username, required=True),
        Param("destination", "destination", str, check.phone_number, required=True),
        Param("ringDuration", "ring_duration", int, check.ring_duration, required=True),
        Param("callerId", "caller_id", str, check.phone_number, required=True),
    ),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
)
ADD_SESSION_TO_CALL = Endpoint(
    "addSessionToCall",
    "POST",
    "{uii}/addSessionToCall",
    (
        Param("destination", "destination", str, check.phone_number, required=True),
        Param("sessionType", "session_type", SessionType, check.session_type, required=True),
    ),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
)
DISPOSITION_CALL = Endpoint(
    "dispositionCall",
    "POST",
    "{uii}/dispositionCall",
    (
        Param("disposition", "disposition", str, check.text, required=True),
        Param("callback", "callback", bool, check.boolean, required=True),
        Param("callBackDTS", "callback_at", datetime, check.callback_time),
        Param("notes", "notes", str, _notes),
    ),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
    _disposition_check,
)
HANGUP_CALL = Endpoint(
    "hangupCall", "POST", "{uii}/hangupCall", (), ResponseKind.ACTION, RetryClass.AT_MOST_ONCE
)
HANGUP_SESSION = Endpoint(
    "hangupSession",
    "POST",
    "{uii}/hangupSession",
    (Param("phone", "phone", str, check.phone_number, required=True),),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
)
TOGGLE_CALL_RECORDING = Endpoint(
    "toggleCallRecording",
    "POST",
    "{uii}/toggleCallRecording",
    (Param("record", "record", bool, check.boolean, required=True),),
    ResponseKind.ACTION,
    RetryClass.IDEMPOTENT,
)
CHECK_QUEUE_STATUS = Endpoint(
    "checkQueueStatus",
    "GET",
    "prerouteChecks/checkQueueStatus",
    (
        Param("destination_number", "destination_number", str, check.phone_number, required=True),
        Param("maxq", "max_queued", int, check.integer, required=True),
        Param("phoneNumbersI18nEnabled", "i18n_numbers", bool, check.boolean),
    ),
    ResponseKind.QUEUE_CHECK,
    RetryClass.IDEMPOTENT,
)
CHECK_QUEUE_THRESHOLD = Endpoint(
    "checkQueueThreshold",
    "GET",
    "prerouteChecks/checkQueueThreshold",
    (
        Param("destination_number", "destination_number", str, check.phone_number, required=True),
        Param("maxCallsQueued", "max_calls_queued", int, check.non_negative_int),
        Param("phoneNumbersI18nEnabled", "i18n_numbers", bool, check.boolean),
    ),
    ResponseKind.QUEUE_CHECK,
    RetryClass.IDEMPOTENT,
)
#: Keeps the call from moving to the archived, read-only state; a repeat changes nothing.
PING_CALL = Endpoint(
    "pingCall", "POST", "{uii}/pingCall", (), ResponseKind.ACTION, RetryClass.IDEMPOTENT
)
#: Sets (not flips) the hold state, so a repeat changes nothing.
TOGGLE_CALL_HOLD = Endpoint(
    "toggleCallHold",
    "POST",
    "{uii}/toggleCallHold",
    (Param("state", "hold", bool, check.on_off, required=True),),
    ResponseKind.ACTION,
    RetryClass.IDEMPOTENT,
)
REQUEUE_CALL = Endpoint(
    "requeueCall",
    "POST",
    "{uii}/requeueCall",
    (Param("gateId", "gate_id", int, check.identifier, required=True),),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
)
HANGUP_SESSION_BY_ID = Endpoint(
    "hangupSessionById",
    "POST",
    "{uii}/hangupSessionById",
    (Param("sessionId", "session_id", str, check.session_id, required=True),),
    ResponseKind.ACTION,
    RetryClass.AT_MOST_ONCE,
)
#: The sub-accounts the credentials can see (outside ``activeCalls/``).
ACCOUNTS = Endpoint(
    "accounts",
    "GET",
    "accounts",
    (),
    ResponseKind.ACCOUNT_LIST,
    RetryClass.IDEMPOTENT,
    scope=Scope.ADMIN,
)

#: Every operation, by its wire name.
ENDPOINTS: Mapping[str, Endpoint] = {
    e.operation: e
    for e in (
        LIST,
        CREATE_MANUAL_AGENT_CALL,
        ADD_SESSION_TO_CALL,
        DISPOSITION_CALL,
        HANGUP_CALL,
        HANGUP_SESSION,
        TOGGLE_CALL_RECORDING,
        CHECK_QUEUE_STATUS,
        CHECK_QUEUE_THRESHOLD,
        PING_CALL,
        TOGGLE_CALL_HOLD,
        REQUEUE_CALL,
        HANGUP_SESSION_BY_ID,
        ACCOUNTS,
    )
}
