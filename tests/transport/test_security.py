"""No secret in reprs, exception text, logs or CLI output; no clear-text or unverified TLS."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import string
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from hypothesis import assume, given
from hypothesis import strategies as st

from activecalls_async import (
    ActiveCallsClient,
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ApiToken,
    AuthenticationError,
    BearerToken,
    ResponseDecodeError,
    RetryPolicy,
    RingCentralAuth,
    ValidationError,
)
from activecalls_async._redact import mask, redact, redact_url
from activecalls_async.cli import main
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import ACCOUNT, FAST, serve

CERT = Path(__file__).with_name("localhost-test-only.pem")


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    """Tokens that expire by the wall clock within a test."""
    return {"calls": 40, "seed": 11, "rate_limit": None, "token_lifetime": 0.3}


def secrets_seen(sim: Simulator) -> set[str]:
    """Every credential that crossed the wire, as the simulator received it."""
    found = {sim.rc_client_secret, sim.rc_jwt, sim.api_token, sim.token}
    basic = base64.b64encode(f"{sim.rc_client_id}:{sim.rc_client_secret}".encode()).decode()
    found.add(basic)
    for request in sim.requests:
        for name in ("Authorization", "X-Auth-Token"):
            value = request.headers.get(name, "")
            found.add(value.partition(" ")[2] if " " in value else value)
        form = parse_qs(request.body)
        for name in ("refresh_token", "rcAccessToken", "assertion"):
            found.update(form.get(name, []))
    return {secret for secret in found if len(secret) >= 8}


def texts_of(error: BaseException) -> Iterator[str]:
    """The exception's str and repr, and those of everything chained to it."""
    seen: BaseException | None = error
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        yield from (str(arg) for arg in seen.args)
        seen = seen.__cause__ or seen.__context__


def record_texts(records: list[logging.LogRecord]) -> Iterator[str]:
    for record in records:
        yield record.getMessage()
        yield repr(record.args)
        if record.exc_info:
            yield "".join(traceback.format_exception(*record.exc_info))


async def test_no_secret_leaks_during_a_stormy_session(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = activecalls_simulator
    caplog.set_level(logging.DEBUG)  # every logger, every level
    # Faults on the login endpoints too: their garbled bodies may carry half a token.
    operations = {"list", "hangupCall", "auth.jwt", "auth.exchange", "auth.refresh"}
    sim.faults = Faults(
        error_rate=0.15,
        throttle_rate=0.1,
        drop_rate=0.05,
        malformed_rate=0.15,
        operations=operations,
        seed=5,
    )
    errors: list[BaseException] = []
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
        token_lifetime=0.3,
        refresh_margin=0.1,
    )
    policy = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.005)
    async with activecalls_client_factory(auth=auth, retry=policy, rate_limit=None) as client:
        uiis = [call["uii"] for call in sim.wire_calls()][:10]
        for round_ in range(30):
            try:
                await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=10)
                if round_ % 3 == 0:
                    await client.hangup_call(uiis[round_ // 3])
            except ActiveCallsError as exc:
                errors.append(exc)
            if round_ % 10 == 9:
                # The token expires, on the simulator's wall clock too (it takes no other
                # for its tokens): renewals and 401s follow.
                await asyncio.sleep(0.35)
        errors.append(APIConnectionError("context", request_sent=False))
        texts = [repr(client), repr(auth)]
    operations_seen = {r.operation for r in sim.requests}
    assert {"auth.jwt", "auth.exchange", "auth.refresh", "list"} <= operations_seen
    assert len(errors) > 1  # the storm did reach the caller sometimes
    secrets = secrets_seen(sim)
    assert len(secrets) > 10
    texts += [text for error in errors for text in texts_of(error)]
    texts += list(record_texts(caplog.records))
    assert any("retrying" in text for text in texts)
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_reprs_show_no_secret() -> None:
    objects: list[Any] = [
        BearerToken("bearer-SECRET-1"),
        ApiToken("api-SECRET-2"),
        RingCentralAuth("rc-SECRET-3"),
        RingCentralAuth.from_jwt(
            client_id="app", client_secret="client-SECRET-4", jwt="jwt.SECRET.5"
        ),
        ActiveCallsClient(account_id=ACCOUNT, auth="bearer-SECRET-6"),
    ]
    for thing in objects:
        assert "SECRET" not in repr(thing)
        assert "SECRET" not in str(thing)


async def test_refused_credentials_are_reported_without_them(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret="wrong-SECRET-value",
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    async with activecalls_client_factory(auth=auth, retry=FAST) as client:
        with pytest.raises(ActiveCallsError) as caught:
            await client.list_active_calls("ACCOUNT", sim.account_id)
    for text in texts_of(caught.value):
        assert "SECRET" not in text
        assert sim.rc_jwt not in text


async def test_cli_output_carries_no_rc_secret(
    activecalls_simulator: Simulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = activecalls_simulator
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", sim.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", sim.account_id)
    monkeypatch.setenv("ACTIVECALLS_RC_CLIENT_ID", sim.rc_client_id)
    monkeypatch.setenv("ACTIVECALLS_RC_CLIENT_SECRET", sim.rc_client_secret)
    monkeypatch.setenv("ACTIVECALLS_RC_JWT", sim.rc_jwt)
    monkeypatch.setenv("ACTIVECALLS_RC_SERVER", sim.root_url)
    monkeypatch.setenv("ACTIVECALLS_AUTH_URL", sim.root_url)
    # The login service refuses: the CLI must say so without echoing what it sent.
    sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.exchange"})
    status = await asyncio.to_thread(main, ["list", "--product", "ACD:55"])
    out, err = capsys.readouterr()
    assert status != 0
    assert "auth.exchange" in err or "401" in err
    for secret in secrets_seen(sim):
        assert secret not in out + err


async def test_garbled_or_echoing_login_answers_are_reported_without_their_tokens() -> None:
    answers = [
        # A truncated success: half a body that still holds a whole token.
        web.Response(body=b'{"accessToken":"acc-SECRET-1","refreshToken":"ref-SECRET-2","ag'),
        # A refusal that echoes what it was sent.
        web.json_response({"error": "invalid", "rcAccessToken": "rc-SECRET-3"}, status=401),
    ]

    async def login(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async with serve(login) as root:
        for _ in range(2):
            auth = RingCentralAuth("rc-SECRET-3", auth_url=root)
            async with ActiveCallsClient(
                account_id=ACCOUNT, auth=auth, base_url=root, retry=None
            ) as client:
                with pytest.raises(ActiveCallsError) as caught:
                    await client.list_active_calls("ACD", 55)
            for text in texts_of(caught.value):
                assert "SECRET" not in text


async def test_a_login_refusal_echoing_an_opaque_credential_is_masked() -> None:
    """Opaque values have no token shape: only the exact values sent can be masked."""

    async def refuse(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if request.path.endswith("/restapi/oauth/token"):
            echoed = f"client plain-SECRET-secret and {form['assertion']} refused"
            return web.json_response(
                {"error": "invalid_client", "error_description": echoed}, status=400
            )
        return web.Response(text=f"unknown RingCentral token {form['rcAccessToken']}", status=401)

    async with serve(refuse) as root:
        by_token = RingCentralAuth("plain-SECRET-rc-token", auth_url=root)
        by_jwt = RingCentralAuth.from_jwt(
            client_id="app",
            client_secret="plain-SECRET-secret",
            jwt="plain-SECRET-jwt",
            rc_server=root,
            auth_url=root,
        )
        for auth in (by_token, by_jwt):
            async with ActiveCallsClient(
                account_id=ACCOUNT, auth=auth, base_url=root, retry=None
            ) as client:
                with pytest.raises(AuthenticationError) as caught:
                    await client.list_active_calls("ACD", 55)
            assert "***" in str(caught.value)
            for text in [*texts_of(caught.value), caught.value.body_excerpt]:
                assert "SECRET" not in text


async def test_a_login_redirect_is_an_error_not_a_garbled_success() -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("https://sso.example/login?ticket=t-SECRET")

    async with serve(redirect) as root:
        auth = RingCentralAuth("rc-SECRET-7", auth_url=root)
        async with ActiveCallsClient(
            account_id=ACCOUNT, auth=auth, base_url=root, retry=FAST
        ) as client:
            with pytest.raises(APIStatusError) as caught:
                await client.list_active_calls("ACD", 55)
    assert caught.value.status == 302
    assert caught.value.operation == "auth.exchange"
    assert caught.value.retries == 0
    assert "redirected to https://sso.example/login" in str(caught.value)
    assert "SECRET" not in str(caught.value)


async def test_a_login_that_never_connects_was_not_sent() -> None:
    async def unused(request: web.Request) -> web.StreamResponse:
        raise AssertionError("unreachable")  # pragma: no cover

    async with serve(unused) as root:
        pass  # the port is free again: connecting is refused
    auth = RingCentralAuth("rc-SECRET-8", auth_url=root)
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth=auth, base_url=root, retry=None
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.list_active_calls("ACD", 55)
    assert caught.value.operation == "auth.exchange"
    assert caught.value.request_sent is False


async def test_a_login_answer_without_a_token_or_in_time_is_an_error() -> None:
    async def login(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/slow/"):
            await asyncio.sleep(1.0)
        return web.json_response({"tokenType": "Bearer", "refreshToken": "ref-SECRET-5"})

    async with serve(login) as root:
        auth = RingCentralAuth("rc-SECRET-6", auth_url=root)
        async with ActiveCallsClient(
            account_id=ACCOUNT, auth=auth, base_url=root, retry=None
        ) as client:
            with pytest.raises(ResponseDecodeError) as caught:
                await client.list_active_calls("ACD", 55)
        assert caught.value.operation == "auth.exchange"
        assert "accessToken" in str(caught.value)
        assert "SECRET" not in str(caught.value)
        slow = RingCentralAuth("rc-SECRET-6", auth_url=f"{root}/slow", timeout=0.1)
        async with ActiveCallsClient(
            account_id=ACCOUNT, auth=slow, base_url=root, retry=None
        ) as client:
            with pytest.raises(APITimeoutError) as timed_out:
                await client.list_active_calls("ACD", 55)
        assert timed_out.value.operation == "auth.exchange"


async def test_connection_error_text_is_redacted() -> None:
    # A proxy or a patched connector may put request details into its error text.
    async def echo_headers(session: Any, context: Any, params: Any) -> None:
        raise aiohttp.ClientOSError(f"proxy refused; sent {dict(params.headers)}")

    tracer = aiohttp.TraceConfig()
    tracer.on_request_start.append(echo_headers)
    async with (
        aiohttp.ClientSession(trace_configs=[tracer]) as session,
        ActiveCallsClient(
            account_id=ACCOUNT, auth="tok-SECRET-4", session=session, retry=None
        ) as client,
    ):
        with pytest.raises(APIConnectionError) as caught:
            await client.list_active_calls("ACD", 55)
    assert "proxy refused" in str(caught.value)
    assert "SECRET" not in str(caught.value)


TOKEN_CHARS = string.ascii_letters + string.digits + "-._~+/="


@given(
    token=st.text(TOKEN_CHARS, min_size=6, max_size=60).map(lambda t: "S3cr" + t),
    template=st.sampled_from(
        [
            "Authorization: Bearer {}",
            "authorization: bearer {}",
            "X-Auth-Token: {}",
            '{{"accessToken": "{}", "tokenType": "Bearer"}}',
            '{{"refresh_token":"{}"}}',
            "refresh_token={}&grant_type=refresh",
            "rcAccessToken={}&rcTokenType=Bearer",
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion={}",
            "POST https://user:{}@host.example/path failed",
        ]
    ),
)
def test_redact_masks_credentials_wherever_they_appear(token: str, template: str) -> None:
    assume("&" not in token and "=" not in token[:1])
    if template.startswith("POST"):
        assume(not set(token) & set("/@"))
    assert token not in redact(template.format(token))


def test_redact_url_drops_user_info_and_secret_query_values() -> None:
    url = "https://bob:pw-SECRET@ringcx.example/voice/x?access_token=tok-SECRET&page=1"
    assert "SECRET" not in redact_url(url)
    assert redact_url(url).endswith("page=1")


@pytest.mark.parametrize("url", ["http://ringcx.example.com/voice", "http://10.0.0.5/voice"])
def test_clear_text_http_to_another_host_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ActiveCallsClient(account_id=ACCOUNT, auth="tok", base_url=url)
    assert caught.value.parameter == "base_url"
    ActiveCallsClient(account_id=ACCOUNT, auth="tok", base_url=url, allow_insecure_http=True)
    with pytest.raises(ValidationError) as caught:
        RingCentralAuth("rc-token", auth_url=url)
    assert caught.value.parameter == "auth_url"
    RingCentralAuth("rc-token", auth_url=url, allow_insecure_http=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://bob:pw-SECRET@h.example/voice",
        "https://h.example/voice?",
        "https://h.example/voice#",
        "https://h.example/vo ice",
        "https://h.example/vo%ice",
        "ftp://h.example",
        "http://127.attacker.example",
    ],
)
def test_base_url_auth_url_and_rc_server_share_one_check(url: str) -> None:
    with pytest.raises(ValidationError) as for_api:
        ActiveCallsClient(account_id=ACCOUNT, auth="tok", base_url=url)
    with pytest.raises(ValidationError) as for_login:
        RingCentralAuth("rc-token", auth_url=url)
    with pytest.raises(ValidationError) as for_grant:
        RingCentralAuth.from_jwt(client_id="id", client_secret="secret", jwt="a.b.c", rc_server=url)
    assert (for_api.value.parameter, for_login.value.parameter, for_grant.value.parameter) == (
        "base_url",
        "auth_url",
        "rc_server",
    )
    assert for_api.value.problem == for_login.value.problem == for_grant.value.problem
    assert "SECRET" not in str(for_api.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/voice", "http://localhost/voice"])
def test_clear_text_http_to_loopback_is_allowed(url: str) -> None:
    ActiveCallsClient(account_id=ACCOUNT, auth="tok", base_url=url)
    RingCentralAuth("rc-token", auth_url=url)


@pytest.fixture
async def tls_root() -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate no default trust store accepts."""

    async def handle(request: web.Request) -> web.Response:
        return web.json_response([])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_certificates_are_verified_by_default_and_failures_not_retried(
    tls_root: str,
) -> None:
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth="tok", base_url=tls_root, retry=FAST
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.list_active_calls("ACD", 55)
    assert isinstance(caught.value.__cause__, ssl.SSLError | OSError)
    assert "certificate" in str(caught.value).lower()
    assert caught.value.retries == 0


async def test_a_trusted_private_ca_works_quietly(
    tls_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="activecalls_async")
    context = ssl.create_default_context(cafile=str(CERT))
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth="tok", base_url=tls_root, ssl_context=context
    ) as client:
        assert await client.list_active_calls("ACD", 55) == []
    assert caplog.records == []


@pytest.mark.parametrize("weakening", ["no-verification", "no-hostname-check"])
async def test_turning_verification_off_is_never_silent(
    tls_root: str, caplog: pytest.LogCaptureFixture, weakening: str
) -> None:
    caplog.set_level(logging.WARNING, logger="activecalls_async")
    context = ssl.create_default_context(cafile=str(CERT))
    context.check_hostname = False
    if weakening == "no-verification":
        context.verify_mode = ssl.CERT_NONE
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth="tok", base_url=tls_root, ssl_context=context
    ) as client:
        await client.list_active_calls("ACD", 55)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "TLS verification is OFF" in record.getMessage()


@pytest.mark.parametrize(
    "echo",
    [
        "Invalid token {prefix}...",
        "Invalid token {upper}",
        "token '{lower}' is unknown",
        "bad credentials {prefix}",
    ],
)
async def test_an_echoed_prefix_or_recased_token_is_masked(echo: str) -> None:
    token = "opaque-SECRET-token-0123456789"
    body = echo.format(prefix=token[:12], upper=token.upper(), lower=token.lower())

    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.json_response({"generalMessage": body, "details": body}, status=403)

    async with (
        serve(refuse) as root,
        ActiveCallsClient(account_id=ACCOUNT, auth=token, base_url=root, retry=None) as client,
    ):
        with pytest.raises(APIStatusError) as caught:
            await client.list_active_calls("ACD", 55)
    assert "***" in str(caught.value)
    for text in [*texts_of(caught.value), caught.value.body_excerpt]:
        assert "secret-tok" not in text.lower()
        assert token[:8].lower() not in text.lower()


def test_mask_covers_prefixes_and_case_but_not_short_fragments() -> None:
    token = "opaque-SECRET-token-0123456789"
    assert mask(f"a {token[:8]} b", [token]) == "a *** b"
    assert mask(f"a {token[:7]} b", [token]) == f"a {token[:7]} b"  # too short to tell
    assert mask(f"<{token.swapcase()}>", [token]) == "<***>"
    assert mask(f"{token}{token}!", [token]) == "***!"
    # A credential with its scheme is masked whole only: "Bearer o" is a common prefix.
    assert mask("Bearer other words", [f"Bearer {token}"]) == "Bearer other words"
    assert mask(f"BEARER {token.upper()}", [f"Bearer {token}"]) == "***"


async def test_ssl_context_false_turns_verification_off_with_a_warning(
    tls_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="activecalls_async")
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth="tok", base_url=tls_root, ssl_context=False
    ) as client:
        assert await client.list_active_calls("ACD", 55) == []
    (record,) = caplog.records
    assert "TLS verification is OFF" in record.getMessage()


@pytest.mark.parametrize("context", [True, "off", 0])
def test_an_ssl_context_of_another_kind_is_refused(context: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ActiveCallsClient(account_id=ACCOUNT, auth="tok", ssl_context=context)  # type: ignore[arg-type]
    assert caught.value.parameter == "ssl_context"
