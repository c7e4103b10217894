"""The fast decoder (msgspec) against the reference one (cattrs): same calls, same refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from activecalls_async import ActiveCall
from activecalls_async._wire.calls import MAX_LEARNED, CallDecoder, _FastPath
from activecalls_async._wire.convert import structure_calls

from .test_decode import DOCUMENTED_CALL

CALL_KEYS = list(DOCUMENTED_CALL)
TIME_KEYS = ("enqueueTime", "dequeueTime")


def reference(body: bytes) -> list[ActiveCall] | None:
    """What the cattrs converter makes of ``body``; None when it refuses it."""
    try:
        return structure_calls(json.loads(body))
    except (ValueError, RecursionError):
        return None


def fast(body: bytes, path: _FastPath) -> list[ActiveCall] | None:
    """What the fast path makes of ``body``; None when it declines it."""
    try:
        return path.decode(body)
    except msgspec.MsgspecError:
        return None


def decoded(body: bytes, decoder: CallDecoder) -> list[ActiveCall] | None:
    """What the SDK's decoder makes of ``body``; None when it raises its ValueError."""
    try:
        return decoder.decode(body)
    except ValueError:
        return None


def same_calls(got: list[ActiveCall], expected: list[ActiveCall]) -> None:
    """Equal call by call and field by field, with the same types and UTC offsets."""
    assert got == expected
    for a, b in zip(got, expected, strict=True):
        for field in attrs.fields(ActiveCall):
            left, right = getattr(a, field.name), getattr(b, field.name)
            assert left == right, field.name
            assert type(left) is type(right), field.name
            if isinstance(left, datetime):
                assert left.utcoffset() == right.utcoffset(), field.name


def assert_agree(body: bytes) -> None:
    """Fresh, then having learnt from the body, the decoder reads it as the reference does."""
    expected = reference(body)
    decoder = CallDecoder()
    for attempt in ("fresh", "learnt"):
        got = fast(body, decoder._fast)
        if got is not None:
            assert expected is not None, f"{attempt} fast path accepted a refused body"
            same_calls(got, expected)
        result = decoded(body, decoder)
        if expected is None:
            assert result is None
        else:
            assert result is not None
            same_calls(result, expected)


# Times in every shape a server might send: RFC 3339 and its neighbours, some invalid.
def two_digits(valid: int, odd: list[str]) -> st.SearchStrategy[str]:
    """Mostly a valid two-digit value below ``valid``, sometimes an odd one."""
    return st.integers(min_value=0, max_value=valid - 1).map(
        lambda n: f"{n:02d}"
    ) | st.sampled_from(odd)


offsets = st.builds(
    lambda sign, h, m, colon: f"{sign}{h}{colon}{m}",
    st.sampled_from("+-"),
    two_digits(24, ["24", "99"]),
    two_digits(60, ["60", "99"]),
    st.sampled_from(["", ":"]),
)
time_strings = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, off: f"{y:04d}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{off}",
    st.integers(min_value=1, max_value=9999) | st.just(0),
    two_digits(13, ["00", "13"]).filter(lambda m: m != "00") | st.just("13"),
    st.sampled_from(["01", "08", "28", "29", "30", "31", "32"]),
    st.sampled_from(["T", "T", "T", "t", " ", "_"]),
    two_digits(24, ["24"]),
    two_digits(60, ["60"]),
    two_digits(60, ["60"]),
    st.one_of(
        st.just(""),
        st.just(".000"),
        st.just("."),
        st.text("0123456789", min_size=1, max_size=12).map(lambda f: "." + f),
    ),
    st.one_of(
        st.sampled_from(["", "Z", "z", "+0000", "-0000", "+00:00", "+05", "+05:30:15"]),
        offsets,
    ),
)
good_times = st.builds(
    lambda when, sep, frac, off: when.isoformat(sep, "seconds") + frac + off,
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["", ".000", ".5"])
    | st.text("0123456789", min_size=1, max_size=9).map(lambda f: "." + f),
    st.sampled_from(["Z", "+0000", "+00:00", "-0500", "+05:30", "z"]),
)
time_values = (
    time_strings
    | st.none()
    | st.integers(min_value=-(10**16), max_value=10**16)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | good_times
    | st.builds(lambda ms: {"millis": ms}, st.integers(min_value=0, max_value=10**13))
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["false", "true", "12440001", ""])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def call_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A call near the documented shape: a few fields dropped, nulled or changed."""
    call: dict[str, Any] = dict(DOCUMENTED_CALL)
    for key in TIME_KEYS:
        call[key] = draw(
            st.one_of(good_times, st.none()) if draw(st.integers(0, 5)) else time_strings
        )
    changed = st.lists(st.sampled_from(CALL_KEYS), min_size=1, max_size=2, unique=True)
    for key in draw(changed) if draw(st.integers(0, 2)) == 0 else []:
        choice = draw(st.sampled_from(["drop", "null", "change"]))
        if choice == "drop":
            del call[key]
        elif choice == "null":
            call[key] = None
        else:
            call[key] = draw(time_values if key in TIME_KEYS else json_values)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        call.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return call


calls = st.lists(call_dicts(), max_size=3)
pages = st.one_of(calls, calls, st.lists(call_dicts() | json_values, max_size=3))


@settings(max_examples=500, deadline=None)
@given(page=pages)
@example(page=[DOCUMENTED_CALL])
@example(page=[{**DOCUMENTED_CALL, "enqueueTime": "2020-12-31T23:59:59.9999995Z"}])
@example(page=[{**DOCUMENTED_CALL, "enqueueTime": "2020-05-08T14:40:47.1234564999z"}])
@example(page=[{**DOCUMENTED_CALL, "enqueueTime": "9999-12-31T23:59:59.9999999Z"}])
@example(page=[{**DOCUMENTED_CALL, "enqueueTime": "2020-05-08T14:40:47+0560"}])
@example(page=[{**DOCUMENTED_CALL, "enqueueTime": "2020-05-08T14:40:47"}])
@example(page=[{**DOCUMENTED_CALL, "accountId": 12440001}])
@example(page=[{**DOCUMENTED_CALL, "archive": "false"}])
@example(page=[{**DOCUMENTED_CALL, "uii": True}])
def test_fast_and_reference_decoders_agree_on_every_page(page: Any) -> None:
    assert_agree(json.dumps(page).encode())


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200))
@example(body=b"\xef\xbb\xbf[]")
@example(body=b'[{"uii": "\\ud800"}]')
@example(body=b'[{"uii": "a", "uii": "b"}]')
@example(body=b'[{"uii": "a", "enqueueTime": 1e400}]')
@example(body=b'[{"uii": "a", "cnam": NaN}]')
@example(body=b"[" * 5000 + b"]" * 5000)
@example(body=b'[{"uii": "a\nb"}]')
@example(body=b'[{"uii": "a"},]')
@example(body=b'[{"uii": "a"}]\x0c')
@example(body=b'[{"uii": "a", "x": 1e309}]')
@example(body=b'[{"uii": "a", "x": 2.4703282292062328e-324, "y": -0.0}]')
def test_fast_and_reference_decoders_agree_on_any_bytes(body: bytes) -> None:
    assert_agree(body)


def test_the_documented_body_takes_the_fast_path() -> None:
    body = json.dumps([DOCUMENTED_CALL, {**DOCUMENTED_CALL, "dequeueTime": None}]).encode()
    calls = _FastPath().decode(body)
    assert calls == reference(body)
    assert calls[0].enqueue_time == datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc)
    assert calls[1].dequeue_time is None


@pytest.mark.parametrize(
    "change",
    [
        {"surprise": 1},  # an undocumented field is kept in extra
        {"accountId": 12440001},  # an id sent as a number
        {"enqueueTime": 1588948847000},  # epoch milliseconds
        {"enqueueTime": "2020-05-08T14:40:47"},  # no offset: read as UTC
        {"archive": "false"},  # refused: a string is not a boolean
    ],
)
def test_what_the_fast_path_declines_goes_to_the_reference(change: dict[str, Any]) -> None:
    body = json.dumps([{**DOCUMENTED_CALL, **change}]).encode()
    with pytest.raises(msgspec.MsgspecError):
        _FastPath().decode(body)
    assert decoded(body, CallDecoder()) == reference(body)


def test_undocumented_fields_are_learnt_and_then_decoded_fast() -> None:
    decoder = CallDecoder()
    first = json.dumps([{**DOCUMENTED_CALL, "queueName": "VIP", "skills": [1, {"a": None}]}])
    second = json.dumps(
        [{**DOCUMENTED_CALL, "skills": []}, DOCUMENTED_CALL, {**DOCUMENTED_CALL, "uii": "2"}]
    ).encode()
    assert decoder.learned == ()
    (call,) = decoder.decode(first.encode())
    assert call.extra == {"queueName": "VIP", "skills": [1, {"a": None}]}
    assert decoder.learned == ("queueName", "skills")
    # Now on the fast path, each call with only the learnt fields it carries.
    calls = decoder._fast.decode(second)
    assert [c.extra for c in calls] == [{"skills": []}, {}, {}]
    assert calls == reference(second)
    assert calls[1].extra is not calls[2].extra


def test_learning_stops_at_its_limit() -> None:
    decoder = CallDecoder()
    many = {f"field{i:02d}": i for i in range(MAX_LEARNED + 1)}
    body = json.dumps([{**DOCUMENTED_CALL, **many}]).encode()
    (call,) = decoder.decode(body)
    assert call.extra == many
    assert decoder.learned == ()
    few = dict(list(many.items())[:MAX_LEARNED])
    decoder.decode(json.dumps([{**DOCUMENTED_CALL, **few}]).encode())
    assert decoder.learned == tuple(sorted(few))
    # Full: a body with one more name still decodes, on the reference path.
    assert decoder.decode(body) == [call]
    assert len(decoder.learned) == MAX_LEARNED


def test_a_refused_body_teaches_nothing() -> None:
    decoder = CallDecoder()
    body = json.dumps([{**DOCUMENTED_CALL, "queueName": "VIP", "archive": "false"}]).encode()
    with pytest.raises(ValueError, match=r"body\[0\]\.archive"):
        decoder.decode(body)
    assert decoder.learned == ()


def test_fast_calls_are_the_public_frozen_model() -> None:
    body = json.dumps([DOCUMENTED_CALL, DOCUMENTED_CALL]).encode()
    first, second = _FastPath().decode(body)
    assert type(first) is ActiveCall
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.uii = "other"  # type: ignore[misc]
    assert first == second
    assert hash(first) == hash(second)
    assert first.extra == {}
    assert first.extra is not second.extra
    assert first.agent_name == "Ada Lovelace"
    assert attrs.evolve(first, call_state="HOLD").call_state == "HOLD"


def test_offsets_keep_their_instant_and_their_offset() -> None:
    body = json.dumps([{**DOCUMENTED_CALL, "enqueueTime": "2020-05-08T09:40:47.000-0500"}])
    (call,) = _FastPath().decode(body.encode())
    assert call.enqueue_time == datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc)
    assert call.enqueue_time is not None
    assert call.enqueue_time.utcoffset() == timedelta(hours=-5)


def test_names_msgspec_cannot_take_stay_on_the_reference_path() -> None:
    decoder = CallDecoder()
    body = json.dumps([{**DOCUMENTED_CALL, "\x1f": None, 'say "hi"': 1, "ok": 2}]).encode()
    for _ in range(2):
        (call,) = decoder.decode(body)
        assert call.extra == {"\x1f": None, 'say "hi"': 1, "ok": 2}
    assert decoder.learned == ("ok",)
    assert decoder._refused == {"\x1f", 'say "hi"'}


def test_refused_names_are_bounded_too() -> None:
    decoder = CallDecoder()
    bad = {f"\x01{i:02d}": i for i in range(MAX_LEARNED)}
    decoder.decode(json.dumps([{**DOCUMENTED_CALL, **bad}]).encode())
    assert decoder._refused == set(bad)
    body = json.dumps([{**DOCUMENTED_CALL, "\x02": 1, "ok": 2}]).encode()
    (call,) = decoder.decode(body)
    assert call.extra == {"\x02": 1, "ok": 2}
    # Nothing more is tried once the refused names fill their bound.
    assert decoder._refused == set(bad)
    assert decoder.learned == ()


def test_the_model_has_nothing_the_fast_path_would_skip() -> None:
    # msgspec fills attrs instances without running validators or converters: a model
    # that gains one must teach the fast path (or this test) about it.
    for field in attrs.fields(ActiveCall):
        assert field.validator is None, field.name
        assert field.converter is None, field.name
    assert not hasattr(ActiveCall, "__attrs_post_init__")
    assert not hasattr(ActiveCall, "__attrs_pre_init__")
