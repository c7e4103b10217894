"""The aiohttp application: routes, then per request: record, limit, faults, auth, handler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, NoReturn

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler as StreamHandler
from aiohttp.web_urldispatcher import AbstractRoute

from . import _bodies as bodies
from ._api import ActiveCallsApi, Handler
from ._auth import TokenStore, Verdict
from ._faults import API_OPERATIONS, Faults
from ._login import LoginApi
from ._malformed import malformed
from ._ratelimit import SlidingWindow
from ._records import Journal, RecordedRequest

#: The API is served under both prefixes: today's ``/voice`` and the legacy bare one.
PREFIXES = ("/voice", "")
ADMIN = "/api/v1/admin"
ACTIVE_CALLS = ADMIN + "/accounts/{accountId}/activeCalls"

#: What each operation's 200 body is, for the malformed-body fault.
_BODY_KINDS = {
    "list": "list",
    "checkQueueStatus": "queue",
    "checkQueueThreshold": "queue",
    "accounts": "list",
    "users": "list",
    "auth.jwt": "auth",
    "auth.exchange": "auth",
    "auth.refresh": "auth",
}


class _Dropped(web.HTTPServiceUnavailable):
    """Raised after closing the connection; aiohttp's attempt to answer then goes nowhere."""


@attrs.define
class _Outcome:
    status: int = 0
    fault: str | None = None


class ApiServer:
    """Builds the application and runs every request through the simulator's rules."""

    def __init__(
        self,
        *,
        api: ActiveCallsApi,
        login: LoginApi,
        tokens: TokenStore,
        journal: Journal,
        limiter: SlidingWindow,
        exchange_limiter: SlidingWindow,
        faults: Callable[[], Faults],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.login = login
        self.tokens = tokens
        self.journal = journal
        self.limiter = limiter
        self.exchange_limiter = exchange_limiter
        self.faults = faults
        self.clock = clock
        self._operations: dict[AbstractRoute, str] = {}
        # Handlers run on after their client hangs up (as a real server's do), so the
        # simulator must find and cancel them itself when it stops.
        self._inflight: set[asyncio.Task[Any]] = set()

    def application(self) -> web.Application:
        """A fresh application with every route registered."""
        app = web.Application(middlewares=[self._middleware])
        for prefix in PREFIXES:
            for method, suffix, operation, handler in self.api.routes():
                self._add(app, method, prefix + ACTIVE_CALLS + suffix, operation, handler)
            for method, suffix, operation, handler in self.api.admin_routes():
                self._add(app, method, prefix + ADMIN + suffix, operation, handler)
        for method, path, operation, handler in self.login.routes():
            self._add(app, method, path, operation, handler)
        return app

    def _add(
        self, app: web.Application, method: str, path: str, operation: str, handler: Handler
    ) -> None:
        route = app.router.add_route(method, path, handler)
        self._operations[route] = operation

    @web.middleware
    async def _middleware(self, request: web.Request, handler: StreamHandler) -> web.StreamResponse:
        operation = self._operations.get(request.match_info.route, "unknown")
        started = self.clock()
        arrival = RecordedRequest(
            method=request.method,
            path=request.path,
            query=tuple(request.query.items()),
            raw_query=request.rel_url.raw_query_string,
            headers=dict(request.headers),
            status=0,
            started=started,
            finished=started,
            operation=operation,
            uii=request.match_info.get("uii"),
            body=await request.text() if request.body_exists else "",
        )
        index = self.journal.arrived(arrival)
        outcome = _Outcome()
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            response = await self._dispatch(request, handler, operation, outcome)
            outcome.status = response.status
            return response
        finally:
            if task is not None:
                self._inflight.discard(task)
            settled = attrs.evolve(
                arrival, status=outcome.status, finished=self.clock(), fault=outcome.fault
            )
            self.journal.settled(index, arrival, settled)

    async def cancel_inflight(self) -> None:
        """Cancel every request still being handled and wait for them to unwind."""
        tasks = [task for task in self._inflight if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _dispatch(
        self, request: web.Request, handler: StreamHandler, operation: str, outcome: _Outcome
    ) -> web.StreamResponse:
        if operation == "unknown":
            return await self._unknown(request, handler)
        limiter: SlidingWindow | None = None
        if operation in API_OPERATIONS:
            limiter = self.limiter
        elif operation == "auth.exchange":
            limiter = self.exchange_limiter
        # The limit is judged at arrival: "requests started within any window".
        retry_after = limiter.acquire(self.clock()) if limiter is not None else None
        faults = self.faults()
        fault = faults.draw(operation) if retry_after is None else None
        if faults.latency and faults.applies_to(operation):
            await asyncio.sleep(faults.latency)
        if retry_after is not None and limiter is not None:
            details = f"More than {limiter.limit} requests in {limiter.window:g} seconds"
            return bodies.too_many(request, retry_after, details)
        outcome.fault = fault
        if fault == "drop":
            self._drop(request)
        if fault == "error":
            general = "Service Unavailable" if faults.error_status == 503 else "Server Error"
            return bodies.errors(faults.error_status, request, general, "Injected server error")
        if fault == "throttle":
            details = "Injected throttling"
            return bodies.too_many(request, faults.throttle_retry_after, details)
        if operation in API_OPERATIONS:
            refused = self._authorize(request)
            if refused is not None:
                return refused
        response = await handler(request)
        if fault == "drop_after_effect":
            self._drop(request)
        if fault == "malformed" and isinstance(response, web.Response) and response.status == 200:
            kind = _BODY_KINDS.get(operation, "action")
            raw = response.body if isinstance(response.body, bytes) else b""
            body, content_type, _ = malformed(kind, raw, faults.choose)
            return web.Response(body=body, content_type=content_type)
        return response

    def _drop(self, request: web.Request) -> NoReturn:
        """Close the connection with nothing sent: the client sees a server disconnect."""
        if request.transport is not None:
            request.transport.close()
        raise _Dropped()

    def _authorize(self, request: web.Request) -> web.Response | None:
        """401 for a missing, unknown or expired token; 403 for another account."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return bodies.unauthorized("Invalid token")
            verdict = self.tokens.check(token.strip())
            if verdict is Verdict.EXPIRED:
                return bodies.unauthorized("Jwt is expired")
            if verdict is Verdict.INVALID:
                return bodies.unauthorized("Invalid token")
        else:
            api_token = request.headers.get("X-Auth-Token")
            if api_token is None:
                return bodies.unauthorized(
                    "Full authentication is required to access this resource"
                )
            if not self.tokens.check_api_token(api_token):
                return bodies.unauthorized("Invalid token")
        account_id = request.match_info.get("accountId")
        if account_id is not None and account_id != self.api.state.account_id:
            return bodies.forbidden(request, account_id)
        return None

    async def _unknown(self, request: web.Request, handler: StreamHandler) -> web.StreamResponse:
        """No such route (404) or method (405), answered with the Errors body."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            details = f"No operation at {request.method} {request.path}"
            return bodies.errors(exc.status, request, exc.reason, details, headers=headers)
