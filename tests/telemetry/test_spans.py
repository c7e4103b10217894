"""The spans a client makes: one per call, with the HTTP client conventions, its retries,
its failures; a walk's and a fan-out's spans holding their requests."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode

from activecalls_async import (
    ActionRejectedError,
    ActiveCallsClient,
    APITimeoutError,
    ServerError,
)
from activecalls_async._version import __version__
from activecalls_async.testing import Simulator
from tests.support import ACCOUNT, FAST, assert_no_tasks_left, serve, silent_tcp
from tests.telemetry.recorded import Recorded, attributes_of, children


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=25, seed=5, rate_limit=None) as simulator:
        yield simulator


def client_of(sim: Simulator, otel: Recorded, **options: object) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=sim.account_id,
        auth=sim.token,
        base_url=sim.base_url,
        telemetry=otel.telemetry,
        **options,  # type: ignore[arg-type]
    )


async def test_one_list_span_per_page_request_under_the_walk(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel, page_size=10) as client:
        pages = [
            page
            async for page in client.iter_active_call_pages("ACCOUNT", sim.account_id, prefetch=1)
        ]
    assert sum(len(page.calls) for page in pages) == 25
    lists = otel.spans("activecalls list")
    assert len(lists) == sim.requests.total == 3
    (walk,) = otel.spans("activecalls walk")
    assert children(otel.spans(), walk) == lists
    port = int(sim.base_url.split(":")[2].split("/")[0])
    for number, span in enumerate(sorted(lists, key=lambda s: s.start_time or 0)):
        assert span.kind is SpanKind.CLIENT
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "activecalls_async"
        assert span.instrumentation_scope.version == __version__
        attributes = attributes_of(span)
        url = attributes.pop("url.full")
        assert isinstance(url, str)
        assert url.startswith(f"{sim.base_url}/api/v1/admin/accounts/{sim.account_id}/")
        assert url.endswith(
            f"activeCalls/list?product=ACCOUNT&productId={sim.account_id}&page={number}&maxRows=10"
        )
        waits = attributes.pop("activecalls.limiter.wait"), attributes.pop("activecalls.slot.wait")
        assert all(isinstance(wait, float) and 0 <= wait < 5 for wait in waits)
        assert attributes == {
            "http.request.method": "GET",
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
            "activecalls.operation": "list",
            "activecalls.priority": "BULK",
            "activecalls.attempts": 1,
        }
        assert span.status.status_code is StatusCode.UNSET
        assert list(span.events) == []
    assert attributes_of(walk) == {
        "activecalls.listing": f"ACCOUNT {sim.account_id}",
        "activecalls.pages": 3,
        "activecalls.requests": 3,
        "activecalls.complete": True,
    }
    assert walk.kind is SpanKind.INTERNAL
    assert walk.parent is None


async def test_a_429_then_200_is_one_span_with_a_retry_event(otel: Recorded) -> None:
    answers = [
        web.Response(status=429, headers={"Retry-After": "0"}, text="slow down"),
        web.json_response([]),
    ]

    async def handler(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=FAST,
            telemetry=otel.telemetry,
        ) as client,
    ):
        assert await client.list_active_calls("ACD", 55) == []
    (span,) = otel.spans()
    assert span.name == "activecalls list"
    attributes = attributes_of(span)
    assert attributes["http.response.status_code"] == 200
    assert attributes["activecalls.attempts"] == 2
    assert attributes["http.request.resend_count"] == 1
    assert attributes["activecalls.priority"] == "READ"
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    (event,) = span.events
    assert event.name == "activecalls.retry"
    assert attributes_of(event) == {
        "activecalls.attempt": 1,
        "http.response.status_code": 429,
        "error.type": "429",
        "activecalls.retry.delay": 0.0,
    }


async def test_an_error_answer_marks_the_span(otel: Recorded) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"generalMessage": "down"}, status=503)

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=FAST,
            telemetry=otel.telemetry,
        ) as client,
    ):
        with pytest.raises(ServerError):
            await client.list_active_calls("ACD", 55, retry=None)
    (span,) = otel.spans()
    attributes = attributes_of(span)
    assert attributes["http.response.status_code"] == 503
    assert attributes["error.type"] == "503"
    assert attributes["activecalls.attempts"] == 1
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    assert attributes_of(event)["exception.type"] == "activecalls_async.errors.ServerError"


async def test_a_timeout_has_no_status_and_names_the_error(otel: Recorded) -> None:
    async with (
        silent_tcp() as (port, _),
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=f"http://127.0.0.1:{port}",
            retry=None,
            timeout=0.05,
            telemetry=otel.telemetry,
        ) as client,
    ):
        with pytest.raises(APITimeoutError):
            await client.list_active_calls("ACD", 55)
    (span,) = otel.spans()
    attributes = attributes_of(span)
    assert "http.response.status_code" not in attributes
    assert attributes["error.type"] == "activecalls_async.errors.APITimeoutError"
    assert span.status.status_code is StatusCode.ERROR


async def test_a_rejected_action_is_an_error_with_its_status(otel: Recorded) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.Response(text="false", content_type="text/plain")

    async with (
        serve(refuse) as root,
        ActiveCallsClient(
            account_id=ACCOUNT, auth="a-bearer-token", base_url=root, telemetry=otel.telemetry
        ) as client,
    ):
        with pytest.raises(ActionRejectedError):
            await client.hangup_call("UII1")
    (span,) = otel.spans()
    assert span.name == "activecalls hangupCall"
    attributes = attributes_of(span)
    assert attributes["http.request.method"] == "POST"
    assert attributes["activecalls.priority"] == "ACTION"
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "activecalls_async.errors.ActionRejectedError"
    assert span.status.status_code is StatusCode.ERROR


async def test_client_request_is_named_by_what_it_is_not_by_its_path(otel: Recorded) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True})

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT, auth="a-bearer-token", base_url=root, telemetry=otel.telemetry
        ) as client,
    ):
        await client.request("GET", "accounts/1/users/2")
        await client.request("GET", "accounts/1/users/3", raw=True)
    spans = otel.spans()
    assert [span.name for span in spans] == ["activecalls request"] * 2
    assert {attributes_of(span)["activecalls.operation"] for span in spans} == {"request"}
    assert (spans[0].attributes or {})["url.full"] == f"{root}/api/v1/admin/accounts/1/users/2"


async def test_a_call_runs_inside_the_applications_span(sim: Simulator, otel: Recorded) -> None:
    tracer = otel.tracer_provider.get_tracer("supervisor-bot")
    async with client_of(sim, otel) as client:
        with tracer.start_as_current_span("tick") as tick:
            await client.list_active_calls("ACCOUNT", sim.account_id)
            await client.ping_call(sim.add_call(product="ACD", product_id=55))
    tick_span = otel.spans("tick")[0]
    assert [span.name for span in children(otel.spans(), tick_span)] == [
        "activecalls list",
        "activecalls pingCall",
    ]
    assert all(span.context.trace_id == tick.get_span_context().trace_id for span in otel.spans())


async def test_a_cancelled_caller_is_marked_not_failed(otel: Recorded) -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response([])

    async with (
        serve(slow) as root,
        ActiveCallsClient(
            account_id=ACCOUNT, auth="a-bearer-token", base_url=root, telemetry=otel.telemetry
        ) as client,
    ):
        call = asyncio.ensure_future(client.list_active_calls("ACD", 55))
        await arrived.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        (span,) = otel.spans()
        attributes = attributes_of(span)
        assert attributes["activecalls.cancelled"] is True
        assert "error.type" not in attributes
        assert span.status.status_code is StatusCode.UNSET
        release.set()
        await assert_no_tasks_left()


async def test_a_fan_out_span_holds_its_walks_which_hold_their_requests(
    sim: Simulator, otel: Recorded
) -> None:
    targets: list[tuple[str, int | str]] = [("ACD", 55), ("ACD", 56), ("ACCOUNT", sim.account_id)]
    async with client_of(sim, otel, page_size=4) as client:
        calls = [call async for call in client.iter_active_calls_many(targets)]
    assert calls
    spans = otel.spans()
    (fan_out,) = otel.spans("activecalls fan-out")
    walks = children(spans, fan_out)
    assert sorted(attributes_of(w)["activecalls.listing"] for w in walks) == sorted(
        ["ACD 55", "ACD 56", f"ACCOUNT {sim.account_id}"]
    )
    lists = otel.spans("activecalls list")
    assert sorted(s.context.span_id for w in walks for s in children(spans, w)) == sorted(
        s.context.span_id for s in lists
    )
    # Every request the server saw has its span; pages asked ahead and dropped before
    # they left have one marked cancelled, or none if dropped before they began.
    answered = [s for s in lists if not attributes_of(s).get("activecalls.cancelled")]
    assert len(answered) <= sim.requests.total <= len(lists)
    for walk in walks:
        attributes = attributes_of(walk)
        assert attributes["activecalls.requests"] >= len(children(spans, walk))
        assert attributes["activecalls.complete"] is True
    totals = attributes_of(fan_out)
    assert totals == {
        "activecalls.targets": 3,
        "activecalls.pages": sum(attributes_of(w)["activecalls.pages"] for w in walks),
        "activecalls.requests": sum(attributes_of(w)["activecalls.requests"] for w in walks),
        "activecalls.failed_targets": 0,
    }
    assert fan_out.end_time is not None
    assert all(w.end_time is not None and w.end_time <= fan_out.end_time for w in walks)


async def test_a_failed_listing_of_a_collecting_fan_out_is_counted(otel: Recorded) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("productId") == "56":
            return web.Response(status=500, text="broken")
        return web.json_response([])

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=None,
            telemetry=otel.telemetry,
        ) as client,
    ):
        fan_out = client.iter_active_calls_many([("ACD", 55), ("ACD", 56)], on_error="collect")
        assert [call async for call in fan_out] == []
    (span,) = otel.spans("activecalls fan-out")
    assert attributes_of(span)["activecalls.failed_targets"] == 1
    assert span.status.status_code is StatusCode.UNSET
    failed = [w for w in otel.spans("activecalls walk") if w.status.status_code is StatusCode.ERROR]
    assert [attributes_of(w)["activecalls.listing"] for w in failed] == ["ACD 56"]
    assert attributes_of(failed[0])["error.type"] == "500"


async def test_a_walk_closed_early_ends_its_span_incomplete(sim: Simulator, otel: Recorded) -> None:
    async with client_of(sim, otel, page_size=5) as client:
        async with client.iter_active_calls("ACCOUNT", sim.account_id) as walk:
            async for _ in walk:
                break
        await assert_no_tasks_left()
    (span,) = otel.spans("activecalls walk")
    attributes = attributes_of(span)
    assert attributes["activecalls.complete"] is False
    assert attributes["activecalls.pages"] == 1
    assert attributes["activecalls.requests"] >= len(otel.spans("activecalls list")) >= 1
    assert span.status.status_code is StatusCode.UNSET


async def test_a_walk_dropped_without_closing_still_ends_its_span(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel, page_size=5) as client:
        async for _ in client.iter_active_calls("ACCOUNT", sim.account_id):
            break  # the walk is garbage now: nobody closes it
        gc.collect()
        await assert_no_tasks_left()
    (span,) = otel.spans("activecalls walk")
    assert attributes_of(span)["activecalls.complete"] is False


async def test_a_fan_out_dropped_without_closing_still_ends_its_span(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel, page_size=5) as client:
        async for _ in client.iter_active_calls_many([("ACD", 55), ("ACCOUNT", sim.account_id)]):
            break  # the fan-out is garbage now: nobody closes it
        gc.collect()
        await assert_no_tasks_left()
    (fan_out,) = otel.spans("activecalls fan-out")
    assert attributes_of(fan_out)["activecalls.targets"] == 2
    assert all(walk.end_time is not None for walk in children(otel.spans(), fan_out))


async def test_a_failed_walk_is_an_error(otel: Recorded) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="broken")

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=None,
            telemetry=otel.telemetry,
        ) as client,
    ):
        with pytest.raises(ServerError):
            async for _ in client.iter_active_calls("ACD", 55):
                pass  # pragma: no cover - the first page fails
    (walk,) = otel.spans("activecalls walk")
    assert walk.status.status_code is StatusCode.ERROR
    assert attributes_of(walk)["error.type"] == "500"
    assert attributes_of(walk)["activecalls.complete"] is False


async def test_each_poll_of_a_watch_is_a_walk_or_a_fan_out(sim: Simulator, otel: Recorded) -> None:
    async with client_of(sim, otel) as client:
        async with client.watch_active_calls("ACCOUNT", sim.account_id) as watch:
            await anext(watch)  # the first poll's first event
        async with client.watch_active_calls_many(
            [("ACD", 55), ("ACD", 56)], interval=0.01
        ) as snapshots:
            for _ in range(2):
                await anext(snapshots)  # one snapshot a poll
    (walk,) = [w for w in otel.spans("activecalls walk") if w.parent is None]
    assert attributes_of(walk)["activecalls.listing"] == f"ACCOUNT {sim.account_id}"
    polls = otel.spans("activecalls fan-out")
    assert len(polls) == 2
    assert polls[0].context.trace_id != polls[1].context.trace_id
    for poll in polls:
        assert poll.parent is None
        assert len(children(otel.spans(), poll)) == 2


async def test_the_account_lookup_is_a_span_of_its_own(sim: Simulator, otel: Recorded) -> None:
    async with ActiveCallsClient(
        account_id=None, auth=sim.token, base_url=sim.base_url, telemetry=otel.telemetry
    ) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
    assert [span.name for span in otel.spans()] == ["activecalls accounts", "activecalls list"]
