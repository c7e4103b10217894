"""A client's request path: its session, rate limit, priority slots, retry loop and auth.

One request on the wire (sending, reading, mapping failures) is ``_wire.http``'s.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any, Literal

import aiohttp
from yarl import URL

from ._aio import retrieve, start_task, stop_task
from ._endpoints import RetryClass
from ._redact import sent_secrets
from ._wire.http import Answer, Outgoing, post_form, progress_tracer, request_once
from ._wire.request import Request
from ._wire.response import decode_response, error_from_response
from .auth import Auth, LoginRequest, LoginSender
from .errors import (
    ActiveCallsError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
)
from .limits.ratelimit import Limiter
from .limits.slots import PrioritySlots
from .limits.stats import ClientStats
from .retry import RetryPolicy
from .telemetry import Telemetry, recorder_for
from .telemetry._base import Recorder, RequestTrace

__all__ = ["Attempt", "Transport"]

logger = logging.getLogger("activecalls_async")

#: Reads answer JSON; actions answer ``true``/``false`` as text (or JSON from ``request``).
_ACCEPT_READ = "application/json"
_ACCEPT_ACTION = "text/plain, application/json;q=0.9"


class Attempt:
    """One attempt at a request: its number, the credentials it carries, its waits, its
    outcome, and the trace of its call (None: telemetry off)."""

    __slots__ = (
        "credentials",
        "failure",
        "number",
        "secrets",
        "status",
        "took",
        "trace",
        "waited_limiter",
        "waited_slot",
    )

    def __init__(self, number: int, trace: RequestTrace | None = None) -> None:
        #: 1 for the first attempt, 2 for the first retry...
        self.number = number
        self.trace = trace
        self.credentials: Mapping[str, str] = {}
        #: The credential values it carries, masked in anything its answer may echo.
        self.secrets: frozenset[str] = frozenset()
        #: Seconds it waited for the rate limiter, and then for a concurrency slot.
        self.waited_limiter = 0.0
        self.waited_slot = 0.0
        #: Its answer's status (None: no answer), its seconds on the wire, and the class
        #: of what ended it without an answer (only the class: the exception would keep
        #: its traceback alive).
        self.status: int | None = None
        self.took = 0.0
        self.failure: type[BaseException] | None = None


class Transport:
    """Sends prepared requests for one client and decodes their answers.

    Each attempt waits for the rate limiter, then for a concurrency slot, then sends.
    Both serve waiting requests by priority (``ACTION`` > ``READ`` > ``WATCH`` >
    ``BULK``, with aging; see ``activecalls_async.limits.waitline``). The limiter comes
    first so that a slot is only ever held by a request on the wire or about to be:
    with the slot first, bulk requests paced by the limiter would sit on every slot
    and an urgent action, let through by the limiter at once, would wait for a slot
    until bulk requests were answered. Taking the limiter's turn before the slot is
    safe for the window because a ``Limiter`` counts a request from ``acquire()``
    until ``release()``, after its answer (see ``RateLimit``), so a wait for a slot can
    only make the count err on the safe side.

    A request keeps its slot and its turn until its answer arrives or its timeout
    passes, even when its caller is cancelled first (the wire part runs as a task of
    its own; the caller gets ``CancelledError`` at once): the server never serves more
    than ``max_concurrency`` requests of this client at once. ``aclose()`` ends those
    too. Retries (one loop in ``send``) wait outside the limiter and the slots.
    Credentials come from the auth object, whose login requests go through this
    transport's ``LoginSender``, outside the slots and the rate limiter.

    At DEBUG, one line per attempt (operation, redacted URL, status, milliseconds,
    attempt number, seconds waited for the limiter and for a slot, priority); at INFO,
    each retry and each wait longer than a second for the limiter. Every attempt and
    retry is counted in ``stats``, and reported to ``telemetry`` (each call a span, the
    current one while it runs; ``activecalls_async.telemetry``).
    """

    def __init__(
        self,
        *,
        auth: Auth,
        session: aiohttp.ClientSession | None,
        limiter: Limiter | None,
        max_concurrency: int,
        tls: ssl.SSLContext | Literal[False] | None,
        user_agent: str,
        stats: ClientStats,
        telemetry: Telemetry | None,
    ) -> None:
        self.auth = auth
        self.limiter = limiter
        self.max_concurrency = max_concurrency
        self.stats = stats
        #: Where requests, walks and renewals are reported (a silent one when off).
        self.telemetry: Recorder = recorder_for(telemetry, limiter)
        self._borrowed = session
        self._session: aiohttp.ClientSession | None = session
        #: The session of requests whose repeat could act twice (and of logins): the
        #: same connections, with trace hooks telling whether a failed one was sent.
        self._traced: aiohttp.ClientSession | None = session
        self._tls = tls
        self._slots = PrioritySlots(max_concurrency)
        self._in_flight: set[asyncio.Task[Any]] = set()
        #: The last credentials sent and the secrets they carry (see ``_secrets_of``).
        self._known_secrets: tuple[dict[str, str], frozenset[str]] | None = None
        self._read_headers = {"User-Agent": user_agent, "Accept": _ACCEPT_READ}
        self._action_headers = {"User-Agent": user_agent, "Accept": _ACCEPT_ACTION}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_guard: AsyncGenerator[None, None] | None = None
        # Kept as one object: a renewal remembers which client's sender carried it.
        self._login_sender: LoginSender = self._send_login

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` has been called."""
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through, created on first use inside the loop."""
        return self._sessions()[0]

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        """The plain and the traced session, made on first use inside the loop: one
        connection pool for both. The trace hooks cost a request some 30 µs of CPU, so
        only those that need to know whether a failure reached the server carry them:
        actions whose repeat could act twice, and logins (reads are retried either way,
        and know it only for a failure to connect)."""
        if self._closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        if self._session is None or self._traced is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_concurrency,
                # False is aiohttp's own spelling of "do not verify" (the client warned).
                ssl=self._tls if self._tls is not None else True,
            )
            self._session = aiohttp.ClientSession(connector=connector)
            self._traced = aiohttp.ClientSession(
                connector=connector, connector_owner=False, trace_configs=[progress_tracer()]
            )
        return self._session, self._traced

    async def aclose(self) -> None:
        """Close the owned session (never a borrowed one); refuse further work.

        A request in flight raises ``ClientClosedError``: its connection goes away with
        the session (over a borrowed session, it is cancelled).
        """
        if self._closed:
            return
        self._closed = True
        guard, self._loop_guard = self._loop_guard, None
        if guard is not None and _running_loop() is self._loop:
            await guard.aclose()  # its own clean-up is the one below
        await self._release()

    async def _release(self) -> None:
        """Close the session this transport made, so that no task of it outlives it.

        Requests still on the wire end with the session (a borrowed one stays open:
        theirs are cancelled).
        """
        session, self._session = self._session, None
        traced, self._traced = self._traced, None
        if session is not None and session is not self._borrowed:
            if traced is not None:
                await traced.close()  # it does not own the connections: the other does
            await session.close()
        if self._in_flight:
            # Their connections are gone: they fail at their next step. Cancelling is
            # for requests over a borrowed session, which stays open.
            pending = set(self._in_flight)
            if session is None or session is self._borrowed:
                for task in pending:
                    task.cancel()
            _, late = await asyncio.wait(pending, timeout=1.0)
            for task in late:
                await stop_task(task)

    async def _enter_loop(self) -> None:
        """Bind to the running loop on first use; refuse to work in any other loop.

        An aiohttp session, its connections and a renewal in flight all belong to the
        loop that made them, so a client cannot move to another one.
        """
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        if self._loop is not None:
            raise ActiveCallsError(
                "this ActiveCallsClient belongs to the event loop it was first used on "
                "(each asyncio.run() has its own): create one client per event loop"
            )
        self._loop = loop
        self._loop_guard = self._until_loop_ends()
        await self._loop_guard.asend(None)

    async def _until_loop_ends(self) -> AsyncGenerator[None, None]:
        """Suspended while the loop lives; asyncio closes it as the loop shuts down.

        ``asyncio.run()`` closes every open async generator before it closes its loop,
        so a client never closed still releases its session there, in its own loop,
        rather than leaving an "Unclosed client session" behind.
        """
        try:
            yield
        finally:
            if self._loop_guard is not None:  # not already being closed by aclose()
                self._loop_guard = None
                await self._release()

    async def _send_login(self, request: LoginRequest) -> Mapping[str, Any]:
        """The ``LoginSender`` this transport gives its auth: one POST over its session."""
        out = Outgoing(
            request.operation,
            "POST",
            URL(request.url),
            {"Accept": "application/json", **request.headers},
            aiohttp.ClientTimeout(total=request.timeout),
            sent_secrets(request.headers, *request.secrets),
            request.form,
        )
        session = self._sessions()[1]  # raises ClientClosedError once closed: nothing sent
        with self.telemetry.login(request.operation):
            return await post_form(session, out)

    async def send(self, request: Request) -> Any:
        """Send ``request`` under its options and return its decoded result."""
        if self._loop is not asyncio.get_running_loop():
            await self._enter_loop()
        trace = self.telemetry.request(request, self._known_secrets)
        if trace is None:
            return await self._retrying(request, None)
        with trace:  # its span is current: the wire task and a renewal inherit it
            return await self._retrying(request, trace)

    async def _retrying(self, request: Request, trace: RequestTrace | None) -> Any:
        """The retry loop: attempt, classify the failure, wait the policy's next delay,
        repeat; the error finally raised carries the number of retries taken."""
        retry = request.options.retry
        delays: Generator[float, BaseException | None, None] | None = None
        number = 1
        while True:
            try:
                return await self._attempt(request, Attempt(number, trace))
            except ActiveCallsError as exc:
                if retry is None or number >= retry.max_attempts or not _may_retry(exc, request):
                    if isinstance(exc, APIError):
                        exc.retries = number - 1
                    raise
                if delays is None:
                    delays = retry.delays()
                    next(delays)  # primed: from now on it is sent each failure
                wait = delays.send(exc)
                self.stats.record_retry()
                if trace is not None:
                    trace.retrying(number, exc, wait)
                logger.info(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    request.operation,
                    number,
                    _reason(exc),
                    wait,
                )
            await asyncio.sleep(wait)
            number += 1

    def _secrets_of(self, credentials: Mapping[str, str]) -> frozenset[str]:
        """``sent_secrets(credentials)``, worked out once per set of credentials: they
        change only when a token is renewed, and every request needs them."""
        known = self._known_secrets
        if known is None or known[0] != credentials:
            known = self._known_secrets = (dict(credentials), sent_secrets(credentials))
        return known[1]

    async def _attempt(self, request: Request, attempt: Attempt) -> Any:
        """One attempt, repeated once at most after renewing an expired token."""
        for renewed in (False, True):
            attempt.credentials = await self.auth.headers(self._login_sender)
            attempt.secrets = secrets = self._secrets_of(attempt.credentials)
            answer = await self._exchange(request, attempt)
            status = answer[0]
            if 200 <= status < 300:
                return decode_response(request, answer, secrets=secrets)
            # Anything else, a redirect included (never followed), is an error.
            error = error_from_response(request, answer, secrets=secrets)
            if (
                renewed
                or not isinstance(error, AuthenticationError)
                or not error.token_expired
                or not await self.auth.refresh(self._login_sender, attempt.credentials)
            ):
                raise error
            logger.info("%s: access token expired; renewed it, repeating", request.operation)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, request: Request, attempt: Attempt) -> Answer:
        """Send once under a slot and the rate limiter and read the answer (see the class).

        The wire part runs as its own task holding the slot: a caller cancelled
        meanwhile gets ``CancelledError`` at once, while the request goes on to its
        answer or its timeout, so the server never serves more than the slots allow.
        """
        plain, traced = self._sessions()  # raises ClientClosedError once closed
        session = traced if request.endpoint.retry is RetryClass.AT_MOST_ONCE else plain
        loop = asyncio.get_running_loop()
        priority = request.options.priority
        asked = loop.time()
        limiter = self.limiter
        if limiter is not None:
            waiting = self.stats.limiter_wait_started()
            try:
                await limiter.acquire(priority)
            finally:
                self.stats.limiter_wait_ended(waiting)
        allowed = loop.time()
        try:
            await self._slots.acquire(priority)
        except BaseException:
            if limiter is not None:
                await limiter.release()  # never sent: its turn goes back at once
            raise
        attempt.waited_limiter = allowed - asked
        attempt.waited_slot = loop.time() - allowed
        if attempt.waited_limiter > 1.0:
            logger.info(
                "%s: waited %.1fs for the rate limit (priority %s)",
                request.operation,
                attempt.waited_limiter,
                priority.name,
            )
        wire = start_task(self._on_the_wire(session, request, attempt))
        self._in_flight.add(wire)
        wire.add_done_callback(self._in_flight.discard)
        try:
            return await asyncio.shield(wire)
        except asyncio.CancelledError:
            if wire.cancelled():  # only aclose() cancels it, as a last resort
                raise ClientClosedError("the client was closed during the request") from None
            if not wire.done():
                # Only this caller was cancelled: the request itself goes on (holding
                # its slot) until its answer or timeout; its outcome is nobody's now.
                wire.add_done_callback(retrieve)
            raise

    async def _on_the_wire(
        self, session: aiohttp.ClientSession, request: Request, attempt: Attempt
    ) -> Answer:
        """The request itself; gives back its slot and its limiter turn once answered.

        Counted and logged here, when the answer is in, whether or not its caller
        still waits for it.
        """
        started = asyncio.get_running_loop().time()
        try:
            base = self._read_headers if request.method == "GET" else self._action_headers
            headers = {**base, **attempt.credentials}
            if request.body is not None:  # only client.request sends a (JSON) body
                headers["Content-Type"] = "application/json"
            out = Outgoing(
                request.operation,
                request.method,
                URL(request.url, encoded=True),
                headers,
                request.options.timeout,
                attempt.secrets,
                request.body,
            )
            answer = await request_once(session, out)
            attempt.status = answer[0]
            return answer
        except BaseException as exc:
            attempt.failure = type(exc)
            raise
        finally:
            attempt.took = asyncio.get_running_loop().time() - started
            try:
                if self.limiter is not None:
                    await self.limiter.release()
            finally:
                self._slots.release()
                self._record(request, attempt)

    def _record(self, request: Request, attempt: Attempt) -> None:
        """Count the attempt, report it, and log it at DEBUG (cheap when none is wanted)."""
        priority, status = request.options.priority, attempt.status
        waited = attempt.waited_limiter + attempt.waited_slot
        self.stats.record_attempt(request.operation, status, priority, waited)
        if attempt.trace is not None:
            attempt.trace.attempted(attempt)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s in %.0f ms (attempt %d, waited %.3fs for the limiter, "
                "%.3fs for a slot, priority %s)",
                request.operation,
                request.safe_url,
                status if status is not None else "no answer",
                attempt.took * 1000,
                attempt.number,
                attempt.waited_limiter,
                attempt.waited_slot,
                priority.name,
            )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # aclose() driven without a loop, e.g. by hand
        return None


def _may_retry(exc: ActiveCallsError, request: Request) -> bool:
    """Whether the request's retry policy lets it be tried again after ``exc``."""
    policy: RetryPolicy | None = request.options.retry
    if policy is None:
        return False
    # An error naming another operation came from obtaining credentials, before this
    # request was sent, so repeating cannot make the server act twice.
    own = getattr(exc, "operation", None) == request.operation
    return policy.should_retry(exc, request.endpoint.retry if own else RetryClass.IDEMPOTENT)


def _reason(exc: BaseException) -> str:
    """A short, secret-free cause for a retry log line."""
    if isinstance(exc, APIStatusError):
        after = f", Retry-After {exc.retry_after:g}s" if exc.retry_after is not None else ""
        return f"HTTP {exc.status}{after}"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection error"
        return f"{cause}, {'sent' if exc.request_sent else 'not sent'}"
    if isinstance(exc, ResponseDecodeError):
        return "malformed body"
    return type(exc).__name__
