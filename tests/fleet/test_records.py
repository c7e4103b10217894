"""The shared watch's record format: snapshots and events come back exactly, or are refused."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import attrs
import msgspec
import pytest

from activecalls_async import (
    ActiveCall,
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CallEvent,
    CallEventType,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    Snapshot,
    Target,
)
from activecalls_async.fleet.records import (
    FORMAT,
    FormatError,
    Published,
    decode_event,
    decode_snapshot,
    encode_event,
    encode_snapshot,
    new_mark,
)

QUEUE, CAMPAIGN, DNIS = Target("ACD", 55), Target("OUTBOUND", 101), Target("DNIS", "0866")
TAKEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)


def call(number: int, **fields: object) -> ActiveCall:
    values: dict[str, object] = {
        "uii": f"2026{number:026d}",
        "account_id": "12440001",
        "ani": f"650{number:07d}",
        "dnis": "8661234567",
        "dnis_e164": "+18661234567",
        "enqueue_time": datetime(2026, 3, 4, 5, 0, number % 60, 123000, tzinfo=timezone.utc),
        "call_state": "ACTIVE",
        "agent_first_name": "Ada",
        "destination_name": "Queue 55",
        **fields,
    }
    return ActiveCall(**values)  # type: ignore[arg-type]


def snapshot(
    calls: list[ActiveCall], sources: dict[str, tuple[Target, ...]], **more: object
) -> Snapshot:
    # As a watch gives them: every call has the listings that held it.
    held = {c.uii: sources.get(c.uii, (QUEUE,)) for c in calls}
    fields: dict[str, object] = {
        "calls": MappingProxyType({c.uii: c for c in calls}),
        "events": (),
        "taken_at": TAKEN,
        "requests": 3,
        "interval": 5.25,
        "sources": MappingProxyType(held),
        **more,
    }
    return Snapshot(**fields)  # type: ignore[arg-type]


def same(left: Snapshot, right: Snapshot) -> None:
    """Equal in every field a reader relies on, order and errors included."""
    assert list(left.calls.items()) == list(right.calls.items())
    assert dict(left.sources) == dict(right.sources)
    assert (left.taken_at, left.requests, left.interval) == (
        right.taken_at,
        right.requests,
        right.interval,
    )
    assert list(left.errors) == list(right.errors)
    for target, exc in left.errors.items():
        again = right.errors[target]
        assert type(again) is type(exc)
        assert str(again) == str(exc)
        assert vars(again) == vars(exc)


def round_trip(original: Snapshot, previous: Published | None = None) -> Snapshot:
    """``original`` as a reader gets it, from the stream's record; the whole one kept as
    the latest reads the same."""
    mark = new_mark()
    whole, record = encode_snapshot(original, mark, previous)
    published = decode_snapshot(FORMAT, record, previous)
    kept = decode_snapshot(FORMAT, whole, None)
    assert published is not None
    assert kept is not None
    assert published.mark == kept.mark == mark
    same(kept.snapshot, published.snapshot)
    return published.snapshot


def test_every_field_of_a_call_comes_back_exactly() -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    odd = call(
        1,
        enqueue_time=datetime(2026, 3, 4, 10, 30, 1, 5, tzinfo=plus_five),
        dequeue_time=datetime(2026, 3, 4, 5, 0, 3, tzinfo=timezone.utc),
        archive=False,
        agent_last_name="Lovelace",
        external_id="crm-42",
        cnam="ADA L",
        extra={"huge": 2**80, "nan": math.nan, "nested": {"list": [1, "2", None, True]}},
    )
    naive = call(2, enqueue_time=datetime(2026, 3, 4, 5, 0, 0), agent_first_name=None)
    original = snapshot([odd, naive], {odd.uii: (QUEUE, CAMPAIGN), naive.uii: (CAMPAIGN,)})
    again = round_trip(original)
    back = again.calls[odd.uii]
    # NaN is not equal to itself: compare the rest, then NaN by what it is.
    assert attrs.evolve(back, extra={}) == attrs.evolve(odd, extra={})
    assert back.extra["huge"] == 2**80
    assert math.isnan(back.extra["nan"])
    assert back.extra["nested"] == {"list": [1, "2", None, True]}
    assert back.enqueue_time is not None
    assert back.enqueue_time.utcoffset() == timedelta(hours=5, minutes=30)
    assert back.dequeue_time is not None
    assert back.dequeue_time.tzinfo is timezone.utc
    assert again.calls[naive.uii] == naive
    assert again.sources[odd.uii] == (QUEUE, CAMPAIGN)
    assert again.events == ()  # each reader works them out itself


def test_failed_listings_come_back_as_the_same_kind_of_error() -> None:
    throttled = RateLimitError(
        "Too Many Requests", status=429, operation="list", method="GET",
        url="https://x.test/list?product=ACD", retry_after=2.5, body_excerpt="slow down",
    )  # fmt: skip
    throttled.retries = 3
    errors = {
        QUEUE: throttled,
        CAMPAIGN: ServerError("Bad Gateway", status=502, error_code="E1", details="upstream"),
        DNIS: APITimeoutError("timed out", operation="list", request_sent=False),
        Target("ACD", 1): APIConnectionError("connection reset"),
        Target("ACD", 2): ResponseDecodeError("not JSON", status=200, body_excerpt="<html>"),
        Target("ACD", 3): APIStatusError("I'm a teapot", status=418),
    }
    original = snapshot([call(1)], {call(1).uii: (QUEUE,)}, errors=MappingProxyType(errors))
    again = round_trip(original)
    same(original, again)
    assert again.errors[QUEUE].retries == 3  # type: ignore[attr-defined]
    assert again.errors[DNIS].request_sent is False  # type: ignore[attr-defined]
    assert isinstance(again.errors[DNIS], TimeoutError)


def test_an_error_of_a_kind_this_version_does_not_know_comes_back_as_its_nearest() -> None:
    class Newer(ServerError):
        pass

    class Unheard(ActiveCallsError):
        pass

    errors = {QUEUE: Newer("Gateway Timeout", status=504), CAMPAIGN: Unheard("odd")}
    again = round_trip(snapshot([], {}, errors=MappingProxyType(errors)))
    assert type(again.errors[QUEUE]) is ServerError
    assert again.errors[QUEUE].status == 504  # type: ignore[attr-defined]
    assert type(again.errors[CAMPAIGN]) is ActiveCallsError
    assert str(again.errors[CAMPAIGN]) == "odd"


def test_a_snapshot_is_written_against_the_previous_one_when_that_is_smaller() -> None:
    calls = [call(n) for n in range(200)]
    sources = {c.uii: (QUEUE,) for c in calls}
    first = snapshot(calls, sources)
    previous = Published(round_trip(first), new_mark())
    # One call ended, one changed, one moved to another listing, one started; the rest
    # stay in their places.
    later = [*calls[1:]]
    later[10] = attrs.evolve(later[10], agent_first_name="Grace")
    started = call(999)
    later.insert(50, started)
    moved = {**sources, calls[20].uii: (QUEUE, CAMPAIGN), started.uii: (CAMPAIGN,)}
    moved.pop(calls[0].uii)
    second = snapshot(later, moved)
    whole, record = encode_snapshot(second, 7, previous)
    assert len(record) < len(whole) / 10
    again = decode_snapshot(FORMAT, record, previous)
    assert again is not None
    same(second, again.snapshot)
    # Against nothing (a reader that missed the base) it is refused, not misread.
    assert decode_snapshot(FORMAT, record, None) is None
    assert decode_snapshot(FORMAT, record, Published(previous.snapshot, previous.mark + 1)) is None


def test_a_snapshot_unlike_the_previous_one_is_written_whole() -> None:
    previous = Published(snapshot([call(n) for n in range(3)], {}), 1)
    fresh = snapshot([call(n) for n in range(10, 13)], {})
    whole, record = encode_snapshot(fresh, 2, previous)
    assert record == whole
    again = decode_snapshot(FORMAT, record, None)
    assert again is not None
    same(fresh, again.snapshot)


@pytest.mark.parametrize(
    ("format", "data", "problem"),
    [
        (b"activecalls-watch/2", b"\x90", "activecalls-watch/2"),
        (None, b"\x90", "no format"),
        (FORMAT, None, "without its data"),
        (FORMAT, b"\xc1", "does not decode"),
        (FORMAT, msgspec.msgpack.encode([1, None, TAKEN, 1]), "does not decode"),
        (
            FORMAT,
            msgspec.msgpack.encode([1, None, TAKEN, 1, 1.0, [["ACD", "1"]], [], [[5, "X", "m"]]]),
            "does not decode",
        ),
    ],
)
def test_a_record_this_version_cannot_read_is_refused(
    format: bytes | None, data: bytes | None, problem: str
) -> None:
    with pytest.raises(FormatError, match=problem) as refused:
        decode_snapshot(format, data, None)
    assert refused.value.found == format


def test_a_record_that_decodes_but_does_not_hold_together_is_refused() -> None:
    base = Published(snapshot([call(1)], {}), 5)
    out_of_range = msgspec.msgpack.encode([6, 5, TAKEN, 1, 1.0, [], [3], []])
    with pytest.raises(FormatError, match="does not hold together"):
        decode_snapshot(FORMAT, out_of_range, base)
    bad_listing = msgspec.msgpack.encode([6, None, TAKEN, 1, 1.0, [["NOPE", "1"]], [], []])
    with pytest.raises(FormatError, match="does not hold together"):
        decode_snapshot(FORMAT, bad_listing, None)


def test_call_events_come_back_exactly() -> None:
    before, after = call(1), call(1, agent_first_name="Grace", extra={"a": [1]})
    for event in (
        CallEvent(CallEventType.STARTED, before),
        CallEvent(CallEventType.CHANGED, after, before),
        CallEvent(CallEventType.ENDED, after),
    ):
        again, seen_at, mark = decode_event(FORMAT, encode_event(event, 42, TAKEN))
        assert (again, seen_at, mark) == (event, TAKEN, 42)
    with pytest.raises(FormatError, match="activecalls-watch/0"):
        decode_event(b"activecalls-watch/0", encode_event(event, 42, TAKEN))
    with pytest.raises(FormatError, match="does not hold together"):
        decode_event(
            FORMAT,
            msgspec.msgpack.encode([1, "vanished", [before.uii, []] + [None] * 14, None, TAKEN]),
        )


def test_marks_are_random_and_fit_a_msgpack_integer() -> None:
    marks = {new_mark() for _ in range(1000)}
    assert len(marks) == 1000
    assert all(0 <= mark < 2**63 for mark in marks)
