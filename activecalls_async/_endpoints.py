"""The endpoint registry: one descriptor per Active Calls operation.

A descriptor says everything the pure request builder and response decoder need:
the HTTP method, the path under ``activeCalls/``, every query parameter (wire name,
Python name, type, whether required, and the check that turns a value into wire
text), the response kind and the retry class. Adding an operation means adding one
descriptor here and one thin client method.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

import attrs

from . import _validators as v
from .errors import ValidationError
from .models import Product, SessionType
from .priority import Priority

__all__ = ["ENDPOINTS", "Endpoint", "Param", "ResponseKind", "RetryClass"]


class ResponseKind(enum.Enum):
    """The shape of a 2xx body."""

    CALL_LIST = "a JSON array of ActiveCall"
    ACTION = "text/plain true or false"
    QUEUE_CHECK = 'a JSON object {"status": bool, "reason": str}'


class RetryClass(enum.Enum):
    """Whether repeating the request could act twice."""

    #: A read, or an action whose repeat changes nothing (set recording to a value).
    IDEMPOTENT = "idempotent"
    #: A repeat could act twice, or report a success as a failure: retried only when
    #: the server cannot have acted on the first attempt.
    AT_MOST_ONCE = "at-most-once"


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
    #: The default claim on slots and rate limit: call control (POST) acts, the rest reads.
    priority: Priority = attrs.field(
        default=attrs.Factory(
            lambda self: Priority.ACTION if self.method == "POST" else Priority.READ,
            takes_self=True,
        )
    )

    @property
    def takes_uii(self) -> bool:
        """Whether the path carries a call's ``uii`` segment."""
        return "{uii}" in self.path


def _list_check(args: Mapping[str, Any]) -> None:
    if args.get("product") is None and args.get("external_id") is None:
        raise ValidationError("product", "give a product (with product_id) or an external_id")
    if args.get("product_id") is not None and args.get("product") is None:
        raise ValidationError("product", "product_id needs a product")


def _disposition_check(args: Mapping[str, Any]) -> None:
    if args.get("callback") is True and args.get("callback_at") is None:
        raise ValidationError("callback_at", "required when callback is True")
    if args.get("callback") is False and args.get("callback_at") is not None:
        raise ValidationError("callback_at", "only allowed when callback is True")


_E = RetryClass
_R = ResponseKind
_notes = partial(v.text, max_length=4000)

_ALL = (
    Endpoint(
        "list",
        "GET",
        "list",
        (
            Param("product", "product", Product, v.product),
            Param("productId", "product_id", int, v.identifier),
            Param("externalId", "external_id", str, v.text),
            Param("page", "page", int, v.non_negative_int),
            Param("maxRows", "max_rows", int, v.positive_int),
        ),
        _R.CALL_LIST,
        _E.IDEMPOTENT,
        _list_check,
    ),
    Endpoint(
        "createManualAgentCall",
        "POST",
        "createManualAgentCall",
        (
            Param("username", "username", str, v.username, required=True),
            Param("destination", "destination", str, v.phone_number, required=True),
            Param("ringDuration", "ring_duration", int, v.ring_duration, required=True),
            Param("callerId", "caller_id", str, v.phone_number, required=True),
        ),
        _R.ACTION,
        _E.AT_MOST_ONCE,
    ),
    Endpoint(
        "addSessionToCall",
        "POST",
        "{uii}/addSessionToCall",
        (
            Param("destination", "destination", str, v.phone_number, required=True),
            Param("sessionType", "session_type", SessionType, v.session_type, required=True),
        ),
        _R.ACTION,
        _E.AT_MOST_ONCE,
    ),
    Endpoint(
        "dispositionCall",
        "POST",
        "{uii}/dispositionCall",
        (
            Param("disposition", "disposition", str, v.text, required=True),
            Param("callback", "callback", bool, v.boolean, required=True),
            Param("callBackDTS", "callback_at", datetime, v.callback_time),
            Param("notes", "notes", str, _notes),
        ),
        _R.ACTION,
        _E.AT_MOST_ONCE,
        _disposition_check,
    ),
    Endpoint("hangupCall", "POST", "{uii}/hangupCall", (), _R.ACTION, _E.AT_MOST_ONCE),
    Endpoint(
        "hangupSession",
        "POST",
        "{uii}/hangupSession",
        (Param("phone", "phone", str, v.phone_number, required=True),),
        _R.ACTION,
        _E.AT_MOST_ONCE,
    ),
    Endpoint(
        "toggleCallRecording",
        "POST",
        "{uii}/toggleCallRecording",
        (Param("record", "record", bool, v.boolean, required=True),),
        _R.ACTION,
        _E.IDEMPOTENT,
    ),
    Endpoint(
        "checkQueueStatus",
        "GET",
        "prerouteChecks/checkQueueStatus",
        (
            Param("destination_number", "destination_number", str, v.phone_number, required=True),
            Param("maxq", "max_queued", int, v.integer, required=True),
            Param("phoneNumbersI18nEnabled", "i18n_numbers", bool, v.boolean),
        ),
        _R.QUEUE_CHECK,
        _E.IDEMPOTENT,
    ),
    Endpoint(
        "checkQueueThreshold",
        "GET",
        "prerouteChecks/checkQueueThreshold",
        (
            Param("destination_number", "destination_number", str, v.phone_number, required=True),
            Param("maxCallsQueued", "max_calls_queued", int, v.non_negative_int),
            Param("phoneNumbersI18nEnabled", "i18n_numbers", bool, v.boolean),
        ),
        _R.QUEUE_CHECK,
        _E.IDEMPOTENT,
    ),
)

#: Every operation, by its wire name.
ENDPOINTS: Mapping[str, Endpoint] = {e.operation: e for e in _ALL}
