"""With ``opentelemetry-instrumentation-aiohttp-client`` on, aiohttp's span of each request
on the wire is the child of the SDK's span of the call that sent it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.trace import SpanKind

from activecalls_async import ActiveCallsClient, RingCentralAuth
from activecalls_async.testing import Simulator
from tests.support import ACCOUNT, FAST, serve
from tests.telemetry.recorded import Recorded, attributes_of, children


@pytest.fixture
def instrumented(otel: Recorded) -> Iterator[Recorded]:
    """aiohttp instrumented for the test's providers: sessions made meanwhile are traced."""
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        yield otel
    finally:
        instrumentor.uninstrument()


async def test_each_attempt_on_the_wire_is_a_child_of_the_calls_span(
    instrumented: Recorded,
) -> None:
    answers = [web.Response(status=503), web.json_response([])]

    async def handler(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=FAST,
            telemetry=instrumented.telemetry,
        ) as client,
    ):
        await client.list_active_calls("ACD", 55)
    spans = instrumented.spans()
    (call,) = instrumented.spans("activecalls list")
    wire = children(spans, call)
    assert [span.name for span in wire] == ["GET", "GET"]
    assert all(span.kind is SpanKind.CLIENT for span in wire)
    assert [
        attributes_of(span).get(
            "http.response.status_code", attributes_of(span).get("http.status_code")
        )
        for span in wire
    ] == [503, 200]
    assert {span.context.trace_id for span in spans} == {call.context.trace_id}


async def test_a_renewals_login_requests_are_children_of_the_call_that_set_it_off(
    instrumented: Recorded,
) -> None:
    async with Simulator(calls=3, rate_limit=None) as sim:
        auth = RingCentralAuth.from_jwt(
            client_id=sim.rc_client_id,
            client_secret=sim.rc_client_secret,
            jwt=sim.rc_jwt,
            rc_server=sim.root_url,
            auth_url=sim.root_url,
        )
        async with ActiveCallsClient(
            account_id=sim.account_id,
            auth=auth,
            base_url=sim.base_url,
            telemetry=instrumented.telemetry,
        ) as client:
            await client.list_active_calls("ACCOUNT", sim.account_id)
    (call,) = instrumented.spans("activecalls list")
    assert [span.name for span in children(instrumented.spans(), call)] == [
        "POST",
        "POST",
        "GET",
    ]


async def test_without_the_sdks_telemetry_aiohttps_spans_stand_alone(
    instrumented: Recorded,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response([])

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT, auth="a-bearer-token", base_url=root, telemetry=None
        ) as client,
    ):
        await client.list_active_calls("ACD", 55)
    (span,) = instrumented.spans()
    assert span.name == "GET"
    assert span.parent is None
