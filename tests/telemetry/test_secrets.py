"""No credential reaches a span, an event or a metric: not from the URL, not from an
error the server echoed, not from a login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from activecalls_async import (
    ActiveCallsClient,
    AuthenticationError,
    BadRequestError,
    RingCentralAuth,
)
from tests.support import ACCOUNT, serve
from tests.telemetry.recorded import Recorded, attributes_of

#: A marker no source line holds, so that a stack trace cannot match it by chance.
MARK = "zq7MARKzq7"
BEARER = f"opaque-{MARK}-bearer-token"
#: Shaped like a JWT: recognised wherever it appears, sent or not.
JWT = f"eyJhbGciOi.eyJzdWIi{MARK}.c2lnbmF0dXJl"


def texts(otel: Recorded) -> Iterator[str]:
    """Every piece of text the test's SDK recorded: names, attributes, events, metrics."""
    for span in otel.spans():
        yield span.name
        yield from (str(value) for value in attributes_of(span).values())
        for event in span.events:
            yield event.name
            yield from (str(value) for value in attributes_of(event).values())
    for name, points in otel.metrics().items():
        yield name
        for point in points:
            yield from (f"{key}={value}" for key, value in point.attributes.items())


class AtStart(SpanProcessor):
    """Keeps what each span holds when it starts, as a processor streaming spans sees it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.extend(str(value) for value in (span.attributes or {}).values())


async def test_credentials_in_the_url_and_in_an_echoed_error_are_masked(
    otel: Recorded,
) -> None:
    at_start = AtStart()
    otel.tracer_provider.add_span_processor(at_start)

    async def echo(request: web.Request) -> web.StreamResponse:
        # A server that repeats everything it was sent back in its error.
        return web.Response(
            status=400,
            text=f"bad {request.path_qs} from {request.headers['Authorization']}",
        )

    async with (
        serve(echo) as root,
        ActiveCallsClient(
            account_id=ACCOUNT, auth=BEARER, base_url=root, retry=None, telemetry=otel.telemetry
        ) as client,
    ):
        for path, params in (
            (f"accounts/{BEARER}/users", {"access_token": f"query-{MARK}-value"}),
            ("accounts/1/users", {"other": BEARER, "id_token": JWT}),
            (f"accounts/{JWT}/users", {"token": f"t-{MARK}"}),
        ):
            with pytest.raises(BadRequestError) as caught:
                await client.request("GET", path, params=params)
            assert MARK not in str(caught.value)  # the error itself, which the span records
    recorded = [*texts(otel), *at_start.seen]
    assert len(otel.spans()) == 3
    assert all(MARK not in text for text in recorded), [t for t in recorded if MARK in t]
    urls = [str(attributes_of(span)["url.full"]) for span in otel.spans()]
    assert urls[0].startswith(f"{root}/api/v1/admin/accounts/***/users?access_token=***")
    assert urls[1].endswith("/accounts/1/users?other=***&id_token=***")
    assert "exception" in [event.name for event in otel.spans()[0].events]


async def test_a_login_refusal_echoing_the_credentials_leaves_no_trace_of_them(
    otel: Recorded,
) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        echoed = ", ".join(f"{key}={value!s}" for key, value in form.items())
        return web.Response(status=401, text=f"refused: {echoed}")

    async with serve(refuse) as root:
        for auth in (
            RingCentralAuth(f"rc-{MARK}-token", auth_url=root),
            RingCentralAuth.from_jwt(
                client_id="app",
                client_secret=f"secret-{MARK}",
                jwt=JWT,
                rc_server=root,
                auth_url=root,
            ),
        ):
            async with ActiveCallsClient(
                account_id=ACCOUNT, auth=auth, base_url=root, retry=None, telemetry=otel.telemetry
            ) as client:
                with pytest.raises(AuthenticationError):
                    await client.list_active_calls("ACD", 55)
    recorded = list(texts(otel))
    assert [event.name for span in otel.spans() for event in span.events].count(
        "activecalls.token_renewal"
    ) == 2
    assert all(MARK not in text for text in recorded), [t for t in recorded if MARK in t]
