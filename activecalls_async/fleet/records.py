"""The shared watch's records in Redis: snapshots and call events, format ``activecalls-watch/1``.

Every record is a Redis Stream entry (or hash) with two fields: ``format``, the bytes
``activecalls-watch/1``, and ``record``, a MessagePack array (msgspec) in that format.
A reader checks ``format`` before it reads anything else: a record in any other format
(another version of the SDK in the same fleet) or one that does not decode is refused
with ``FormatError``, never guessed at; the hub then says so with one ERROR and polls on
its own (see ``fleet.hub``). A later format gets a new name; records never change shape
under an old one.

**A snapshot** is ``[mark, base, taken_at, requests, interval, targets, calls, errors]``:

- ``mark``: a random 63-bit number naming this snapshot; ``base``: the mark of the
  snapshot it is written against, or nil when it is written whole;
- ``taken_at`` (a MessagePack timestamp, UTC), ``requests``, ``interval``: as in the
  ``Snapshot``;
- ``targets``: the watched listings in the poller's order, as ``[product, product id]``;
- ``calls``: in the snapshot's order, each either a whole call or, in a record written
  against a base, the index of an unchanged call (same fields, same listings) in the
  base's order. A record is written against the previous snapshot when that is smaller
  than writing it whole (the copy kept as the latest is always whole);
- ``errors``: ``[target index, kind, message, status, operation, method, url, retries,
  error code, details, body excerpt, retry after, request sent]`` per failed listing.

**A call** is ``[uii, listings, account id, ani, dnis, dnis E.164, enqueue time, dequeue
time, call state, archive, agent first name, agent last name, destination name,
external id, cnam, extra]``: ``listings`` are indexes into ``targets``; a time is
microseconds since the epoch when it is in UTC (``timezone.utc``), else its ISO 8601
text (so its offset comes back as it was); ``extra`` is nil or the undocumented fields
as JSON text (kept exactly as the API sent them).

**A call event** is ``[mark, type, call, previous, seen_at]``: the mark of the snapshot
that brought it, ``started``/``changed``/``ended``, the call (and its previous state for
``changed``; their ``listings`` are empty) and that snapshot's ``taken_at``.

**What a failed listing's error keeps**: its class (by name: a reader rebuilds the same
``ActiveCallsError`` subclass, or the class its status maps to when it does not know the
name), its message, and the request context the SDK's errors carry (status, operation,
method, URL without secrets, retries, error code, details, body excerpt,
``retry_after``, whether the request was sent). Its traceback, cause, and field errors
are not kept.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
import msgspec

from .. import errors as _errors
from ..errors import ActiveCallsError
from ..models import ActiveCall, CallEvent, CallEventType
from ..pagination import Target
from ..watch import Snapshot

__all__ = [
    "FORMAT",
    "FormatError",
    "Published",
    "decode_event",
    "decode_snapshot",
    "encode_event",
    "encode_snapshot",
    "new_mark",
]

#: The name of this format, written beside every record.
FORMAT = b"activecalls-watch/1"

_T = TypeVar("_T")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


class FormatError(Exception):
    """A record this SDK cannot read: another format, or bytes that do not decode."""

    def __init__(self, found: bytes | None, problem: str) -> None:
        self.found = found
        super().__init__(problem)


class _Call(msgspec.Struct, array_like=True, gc=False):
    uii: str
    listings: list[int]
    account_id: str | None
    ani: str | None
    dnis: str | None
    dnis_e164: str | None
    enqueue_time: int | str | None
    dequeue_time: int | str | None
    call_state: str | None
    archive: bool | None
    agent_first_name: str | None
    agent_last_name: str | None
    destination_name: str | None
    external_id: str | None
    cnam: str | None
    extra: str | None


class _Error(msgspec.Struct, array_like=True, gc=False):
    target: int
    kind: str
    message: str
    status: int | None
    operation: str
    method: str
    url: str
    retries: int
    error_code: str | None
    details: str | None
    body_excerpt: str
    retry_after: float | None
    request_sent: bool


class _Snapshot(msgspec.Struct, array_like=True, gc=False):
    mark: int
    base: int | None
    taken_at: datetime
    requests: int
    interval: float
    targets: list[tuple[str, str | None]]
    calls: list[_Call | int]
    errors: list[_Error]


class _Event(msgspec.Struct, array_like=True, gc=False):
    mark: int
    type: str
    call: _Call
    previous: _Call | None
    seen_at: datetime


_encoder = msgspec.msgpack.Encoder()
_snapshot_decoder = msgspec.msgpack.Decoder(_Snapshot)
_event_decoder = msgspec.msgpack.Decoder(_Event)


def new_mark() -> int:
    """A fresh random mark for a snapshot (63 bits: a MessagePack integer either way)."""
    return secrets.randbits(63)


@attrs.frozen
class Published:
    """A snapshot as published, with its mark: what the next record may be written against."""

    snapshot: Snapshot
    mark: int


# -- calls -------------------------------------------------------------------------------------


def _time_out(value: datetime | None) -> int | str | None:
    if value is None:
        return None
    if value.tzinfo is timezone.utc:
        return (value - _EPOCH) // _MICROSECOND
    return value.isoformat()


def _time_in(value: int | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
    return datetime.fromisoformat(value)


def _call_out(call: ActiveCall, listings: list[int]) -> _Call:
    return _Call(
        call.uii,
        listings,
        call.account_id,
        call.ani,
        call.dnis,
        call.dnis_e164,
        _time_out(call.enqueue_time),
        _time_out(call.dequeue_time),
        call.call_state,
        call.archive,
        call.agent_first_name,
        call.agent_last_name,
        call.destination_name,
        call.external_id,
        call.cnam,
        # The stdlib's JSON, as the API's bodies are read: any number, NaN included,
        # comes back as it was.
        json.dumps(dict(call.extra)) if call.extra else None,
    )


def _call_in(record: _Call) -> ActiveCall:
    return ActiveCall(
        uii=record.uii,
        account_id=record.account_id,
        ani=record.ani,
        dnis=record.dnis,
        dnis_e164=record.dnis_e164,
        enqueue_time=_time_in(record.enqueue_time),
        dequeue_time=_time_in(record.dequeue_time),
        call_state=record.call_state,
        archive=record.archive,
        agent_first_name=record.agent_first_name,
        agent_last_name=record.agent_last_name,
        destination_name=record.destination_name,
        external_id=record.external_id,
        cnam=record.cnam,
        extra=json.loads(record.extra) if record.extra is not None else {},
    )


# -- errors ------------------------------------------------------------------------------------

#: The classes a reader rebuilds by name.
_KINDS: dict[str, type[ActiveCallsError]] = {
    cls.__name__: cls
    for cls in (
        _errors.ActiveCallsError,
        _errors.APIConnectionError,
        _errors.APITimeoutError,
        _errors.APIStatusError,
        _errors.BadRequestError,
        _errors.AuthenticationError,
        _errors.PermissionDeniedError,
        _errors.NotFoundError,
        _errors.RateLimitError,
        _errors.ServerError,
        _errors.ResponseDecodeError,
    )
}


def _error_out(target: int, exc: ActiveCallsError) -> _Error:
    status = getattr(exc, "status", None)
    return _Error(
        target,
        type(exc).__name__,
        str(getattr(exc, "message", exc)),
        status if isinstance(status, int) else None,
        str(getattr(exc, "operation", "")),
        str(getattr(exc, "method", "")),
        str(getattr(exc, "url", "")),
        int(getattr(exc, "retries", 0)),
        getattr(exc, "error_code", None),
        getattr(exc, "details", None),
        str(getattr(exc, "body_excerpt", "")),
        getattr(exc, "retry_after", None),
        bool(getattr(exc, "request_sent", True)),
    )


def _error_in(record: _Error) -> ActiveCallsError:
    kind = _KINDS.get(record.kind)
    if kind is None:  # a class this version does not know: the nearest it does
        kind = (
            _errors.status_error_class(record.status)
            if record.status is not None
            else _errors.ActiveCallsError
        )
    context: dict[str, Any] = {
        "operation": record.operation,
        "method": record.method,
        "url": record.url,
    }
    exc: ActiveCallsError
    if issubclass(kind, _errors.APIStatusError):
        exc = kind(
            record.message,
            status=record.status if record.status is not None else 0,
            error_code=record.error_code,
            details=record.details,
            body_excerpt=record.body_excerpt,
            retry_after=record.retry_after,
            **context,
        )
    elif issubclass(kind, _errors.APIConnectionError):
        exc = kind(record.message, request_sent=record.request_sent, **context)
    elif issubclass(kind, _errors.ResponseDecodeError):
        status = record.status if record.status is not None else 200
        exc = kind(record.message, status=status, body_excerpt=record.body_excerpt, **context)
    else:
        exc = kind(record.message)
    if hasattr(exc, "retries"):
        exc.retries = record.retries
    return exc


# -- snapshots ---------------------------------------------------------------------------------


def encode_snapshot(
    snapshot: Snapshot, mark: int, previous: Published | None
) -> tuple[bytes, bytes]:
    """``snapshot`` written whole, and as the stream gets it: against ``previous`` when
    that is smaller, else whole again."""
    targets: list[Target] = []
    index: dict[Target, int] = {}

    def listing(target: Target) -> int:
        if target not in index:
            index[target] = len(targets)
            targets.append(target)
        return index[target]

    whole: list[_Call | int] = []
    against: list[_Call | int] = []
    before = previous.snapshot if previous is not None else None
    positions = {uii: i for i, uii in enumerate(before.calls)} if before is not None else {}
    for uii, call in snapshot.calls.items():
        sources = snapshot.sources.get(uii, ())
        record = _call_out(call, [listing(target) for target in sources])
        whole.append(record)
        if before is not None:
            same = (
                uii in positions
                and before.calls[uii] == call
                and tuple(before.sources.get(uii, ())) == tuple(sources)
            )
            against.append(positions[uii] if same else record)
    errors = [_error_out(listing(target), exc) for target, exc in snapshot.errors.items()]
    pairs = [(target.product.value, target.product_id) for target in targets]
    fields = (snapshot.taken_at, snapshot.requests, snapshot.interval, pairs)
    full = _encoder.encode(_Snapshot(mark, None, *fields, whole, errors))
    if previous is None:
        return full, full
    delta = _encoder.encode(_Snapshot(mark, previous.mark, *fields, against, errors))
    return full, delta if len(delta) < len(full) else full


def decode_snapshot(
    format: bytes | None, data: bytes | None, previous: Published | None
) -> Published | None:
    """The snapshot a record holds (with no ``events``: each reader works them out), or
    None when it is written against a snapshot other than ``previous``."""
    record = _decode(format, data, _snapshot_decoder)
    if record.base is not None and (previous is None or previous.mark != record.base):
        return None
    try:
        targets = [Target(product, product_id) for product, product_id in record.targets]
        before = list(previous.snapshot.calls.values()) if previous is not None else []
        base_sources = previous.snapshot.sources if previous is not None else {}
        calls: dict[str, ActiveCall] = {}
        sources: dict[str, tuple[Target, ...]] = {}
        for entry in record.calls:
            if isinstance(entry, int):
                if not 0 <= entry < len(before):
                    raise IndexError(f"no call {entry} in the base of {len(before)}")
                call = before[entry]
                calls[call.uii] = call
                sources[call.uii] = tuple(base_sources.get(call.uii, ()))
            else:
                call = _call_in(entry)
                calls[call.uii] = call
                sources[call.uii] = tuple(targets[i] for i in entry.listings)
        errors = {targets[e.target]: _error_in(e) for e in record.errors}
    except (ValueError, TypeError, IndexError, ActiveCallsError) as exc:
        raise FormatError(format, f"a snapshot record does not hold together: {exc}") from None
    snapshot = Snapshot(
        calls=MappingProxyType(calls),
        events=(),
        taken_at=record.taken_at,
        requests=record.requests,
        interval=record.interval,
        sources=MappingProxyType(sources),
        errors=MappingProxyType(errors),
    )
    return Published(snapshot, record.mark)


# -- events ------------------------------------------------------------------------------------


def encode_event(event: CallEvent, mark: int, seen_at: datetime) -> bytes:
    """One call event of the snapshot ``mark``, taken at ``seen_at``."""
    previous = _call_out(event.previous, []) if event.previous is not None else None
    record = _Event(mark, event.type.value, _call_out(event.call, []), previous, seen_at)
    return _encoder.encode(record)


def decode_event(format: bytes | None, data: bytes | None) -> tuple[CallEvent, datetime, int]:
    """The call event a record holds, when its snapshot was taken, and that snapshot's mark."""
    record = _decode(format, data, _event_decoder)
    try:
        previous = _call_in(record.previous) if record.previous is not None else None
        event = CallEvent(CallEventType(record.type), _call_in(record.call), previous)
    except (ValueError, TypeError) as exc:
        raise FormatError(format, f"an event record does not hold together: {exc}") from None
    return event, record.seen_at, record.mark


def _decode(format: bytes | None, data: bytes | None, decoder: msgspec.msgpack.Decoder[_T]) -> _T:
    if format != FORMAT:
        found = "no format" if format is None else repr(format.decode(errors="replace")[:60])
        raise FormatError(format, f"a record in {found}, not {FORMAT.decode()}")
    if data is None:
        raise FormatError(format, "a record without its data")
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise FormatError(format, f"a record that does not decode: {exc}") from None
