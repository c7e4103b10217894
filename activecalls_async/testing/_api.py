"""Handlers for the Active Calls operations and the admin endpoints the SDK reaches
(accounts, and a ``users`` stub for ``client.request``); auth, limits and faults happen
before."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from . import _bodies as bodies
from ._faults import Faults
from ._model import PRODUCTS, SESSION_TYPES, Call, Disposition
from ._params import Problem, QueryReader
from ._records import Effect, Journal
from ._state import AccountState

Handler = Callable[[web.Request], Awaitable[web.Response]]

#: The default ``maxCallsQueued`` of checkQueueThreshold, per the API reference.
DEFAULT_MAX_CALLS_QUEUED = 10


class ActiveCallsApi:
    """Answers list, the ten call actions, the two preroute queue checks, the accounts
    listing and a ``users`` stub of the wider admin API."""

    def __init__(
        self,
        state: AccountState,
        journal: Journal,
        faults: Callable[[], Faults],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.journal = journal
        self.faults = faults
        self.clock = clock
        #: The status a successful action answers: 200 ``true``, or 201 with ``created_body``.
        self.action_status = 200
        self.created_body = ""
        #: What a declined action answers: ``false`` as the service does, or words to test.
        self.declined_body = "false"
        self.declined_type = "text/plain"
        account_id = state.account_id
        #: What ``GET accounts`` lists (the credentials see only this sub-account by default).
        self.accounts: list[dict[str, Any]] = [
            {
                "accountId": account_id,
                "accountName": "Simulated Contact Centre",
                "mainAccountId": account_id[:-4] + "0000" if len(account_id) > 4 else account_id,
                "enabled": True,
            }
        ]
        #: What the ``users`` stub lists; ``POST users`` appends.
        self.users: list[dict[str, Any]] = [
            {"userId": 1, "userName": "admin@example.com", "firstName": "Ada", "lastName": "Min"}
        ]
        self._user_ids = itertools.count(2)

    def routes(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path under ``activeCalls``, operation name, handler) for each operation."""
        return [
            ("GET", "/list", "list", self.list_calls),
            ("POST", "/createManualAgentCall", "createManualAgentCall", self.manual_call),
            ("POST", "/{uii}/addSessionToCall", "addSessionToCall", self.add_session),
            ("POST", "/{uii}/dispositionCall", "dispositionCall", self.disposition),
            ("POST", "/{uii}/hangupCall", "hangupCall", self.hangup_call),
            ("POST", "/{uii}/hangupSession", "hangupSession", self.hangup_session),
            ("POST", "/{uii}/toggleCallRecording", "toggleCallRecording", self.recording),
            ("POST", "/{uii}/pingCall", "pingCall", self.ping),
            ("POST", "/{uii}/toggleCallHold", "toggleCallHold", self.hold),
            ("POST", "/{uii}/requeueCall", "requeueCall", self.requeue),
            ("POST", "/{uii}/hangupSessionById", "hangupSessionById", self.hangup_session_by_id),
            ("GET", "/prerouteChecks/checkQueueStatus", "checkQueueStatus", self.queue_status),
            (
                "GET",
                "/prerouteChecks/checkQueueThreshold",
                "checkQueueThreshold",
                self.queue_threshold,
            ),
        ]

    def admin_routes(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path under ``api/v1/admin``, operation name, handler) outside activeCalls."""
        return [
            ("GET", "/accounts", "accounts", self.list_accounts),
            ("GET", "/users", "users", self.list_users),
            ("POST", "/users", "users.create", self.create_user),
        ]

    def _effect(
        self, request: web.Request, kind: str, uii: str | None, **extra: str
    ) -> web.Response:
        """Record an applied effect and answer the action's success."""
        params = {**request.query, **extra}
        self.journal.effect(Effect(kind=kind, uii=uii, params=params, at=self.clock()))
        return self._done()

    def _done(self) -> web.Response:
        if self.action_status == 201:
            return web.Response(status=201, text=self.created_body, content_type="text/plain")
        return bodies.boolean(True)

    def _declined(self) -> web.Response:
        return web.Response(text=self.declined_body, content_type=self.declined_type)

    def _call(self, request: web.Request) -> Call | web.Response:
        uii = request.match_info["uii"]
        call = self.state.get(uii)
        if call is None:
            return bodies.not_found(request, f"No active call with uii {uii}")
        return call

    # -- list --------------------------------------------------------------------------------

    async def list_calls(self, request: web.Request) -> web.Response:
        """One page of a product's (or an externalId's) calls, in listing order."""
        query = QueryReader(request.query)
        product = query.choice("product", PRODUCTS)
        # DNIS product ids are 10-digit numbers, beyond the spec's int32.
        product_id = query.integer("productId", bits=64)
        external_id = query.text("externalId")
        page = query.integer("page", minimum=0)
        max_rows = query.integer("maxRows", minimum=1)
        if "product" not in request.query and external_id is None:
            query.problems.append(
                Problem("product", "product is required unless externalId is given", None)
            )
        if query.problems:
            return bodies.invalid(request, query.problems)
        faults = self.faults()
        if faults.applies_to("list"):
            if faults.max_rows_cap is not None:
                max_rows = min(max_rows or faults.max_rows_cap, faults.max_rows_cap)
            if faults.ignore_page:
                page = 0
        rows: Sequence[Call]
        if product is None:
            rows = self.state.all_calls()
        else:
            rows = self.state.listing(product, product_id)
        if external_id is not None:
            rows = [call for call in rows if call.external_id == external_id]
        page = page or 0
        if max_rows is None:
            # No maxRows: page 0 holds every row.
            rows = rows if page == 0 else ()
        else:
            rows = rows[page * max_rows : (page + 1) * max_rows]
        account_id = self.state.account_id
        return bodies.json_ok([call.row(account_id) for call in rows])

    # -- actions -----------------------------------------------------------------------------

    async def manual_call(self, request: web.Request) -> web.Response:
        """Dial out for an available agent; ``false`` for an unknown or unavailable agent."""
        query = QueryReader(request.query)
        username = query.text("username", required=True)
        destination = query.phone("destination", required=True)
        query.integer("ringDuration", required=True, minimum=0)
        caller_id = query.phone("callerId", required=True)
        if query.problems or username is None or destination is None or caller_id is None:
            return bodies.invalid(request, query.problems)
        call = self.state.manual_call(username, destination, caller_id)
        if call is None:
            return self._declined()
        return self._effect(request, "createManualAgentCall", call.uii)

    async def add_session(self, request: web.Request) -> web.Response:
        """Add a MONITOR/BARGEIN/COACHING leg (re-typing an existing one for that phone)."""
        query = QueryReader(request.query)
        destination = query.phone("destination", required=True)
        session_type = query.choice("sessionType", SESSION_TYPES, required=True)
        if query.problems or destination is None or session_type is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        session = self.state.add_session(call, destination, session_type)
        if session is None:
            return self._declined()
        # The answer is only true/false: the session id is recorded, never returned.
        return self._effect(request, "addSessionToCall", call.uii, sessionId=session.session_id)

    async def disposition(self, request: web.Request) -> web.Response:
        """Record a disposition; a callback needs ``callBackDTS``."""
        query = QueryReader(request.query)
        disposition = query.text("disposition", required=True)
        callback = query.boolean("callback", required=True)
        callback_at = query.timestamp("callBackDTS")
        notes = query.text("notes")
        if callback and callback_at is None and "callBackDTS" not in request.query:
            query.problems.append(
                Problem("callBackDTS", "callBackDTS is required when callback is true", None)
            )
        if query.problems or disposition is None or callback is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        record = Disposition(
            disposition=disposition, callback=callback, callback_at=callback_at, notes=notes
        )
        if not self.state.disposition(call, record):
            return self._declined()
        return self._effect(request, "dispositionCall", call.uii)

    async def hangup_call(self, request: web.Request) -> web.Response:
        """End the call; it leaves every listing and later actions on it answer 404."""
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        uii = call.uii
        self.state.hangup(call)
        return self._effect(request, "hangupCall", uii)

    async def hangup_session(self, request: web.Request) -> web.Response:
        """End one supervisor leg; ``false`` when that phone has none on the call."""
        query = QueryReader(request.query)
        phone = query.phone("phone", required=True)
        if query.problems or phone is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        if not self.state.hangup_session(call, phone):
            return self._declined()
        return self._effect(request, "hangupSession", call.uii)

    async def recording(self, request: web.Request) -> web.Response:
        """Switch the call's recording on or off."""
        query = QueryReader(request.query)
        record = query.boolean("record", required=True)
        if query.problems or record is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        self.state.set_recording(call, record)
        return self._effect(request, "toggleCallRecording", call.uii)

    async def ping(self, request: web.Request) -> web.Response:
        """Keep the call from archiving; changes nothing visible, recorded as an effect."""
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        return self._effect(request, "pingCall", call.uii)

    async def hold(self, request: web.Request) -> web.Response:
        """Set the hold state (``state=ON|OFF``), seen as callState ``HOLD``/``ACTIVE``."""
        query = QueryReader(request.query)
        state = query.choice("state", ("ON", "OFF"), required=True)
        if query.problems or state is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        if not self.state.set_hold(call, state == "ON"):
            return self._declined()
        return self._effect(request, "toggleCallHold", call.uii)

    async def requeue(self, request: web.Request) -> web.Response:
        """Move the call to the gate's queue (its ACD listing), away from its agent."""
        query = QueryReader(request.query)
        gate_id = query.integer("gateId", required=True, minimum=0, bits=64)
        if query.problems or gate_id is None:
            return bodies.invalid(request, query.problems)
        gate = self.state.gate(gate_id)
        if gate is None:
            problem = Problem("gateId", f"No gate with id {gate_id}", str(gate_id))
            return bodies.invalid(request, [problem])
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        self.state.requeue(call, gate)
        return self._effect(request, "requeueCall", call.uii)

    async def hangup_session_by_id(self, request: web.Request) -> web.Response:
        """End the session with that id; ``false`` when the call has none with it."""
        query = QueryReader(request.query)
        session_id = query.text("sessionId", required=True)
        if query.problems or session_id is None:
            return bodies.invalid(request, query.problems)
        call = self._call(request)
        if isinstance(call, web.Response):
            return call
        if not self.state.hangup_session_by_id(call, session_id):
            return self._declined()
        return self._effect(request, "hangupSessionById", call.uii)

    # -- the admin API around Active Calls ---------------------------------------------------

    async def list_accounts(self, request: web.Request) -> web.Response:
        """The sub-accounts the credentials see."""
        return bodies.json_ok(self.accounts)

    async def list_users(self, request: web.Request) -> web.Response:
        """A stub of another admin endpoint (for ``client.request``): the admin users."""
        return bodies.json_ok(self.users)

    async def create_user(self, request: web.Request) -> web.Response:
        """Append the JSON object sent as a new user; 201 with it, its ``userId`` added."""
        try:
            data = json.loads(await request.text())
        except ValueError:
            data = None
        if request.content_type != "application/json" or not isinstance(data, dict):
            problem = Problem("body", "expected a JSON object (application/json)", None)
            return bodies.invalid(request, [problem])
        user = {**data, "userId": next(self._user_ids)}
        self.users.append(user)
        self.journal.effect(Effect(kind="users.create", uii=None, params={}, at=self.clock()))
        return bodies.json_ok(user, status=201)

    # -- preroute checks ---------------------------------------------------------------------

    async def queue_status(self, request: web.Request) -> web.Response:
        """Whether the DNIS's queue can take a call, by oldest wait (or free agents if maxq<=0)."""
        query = QueryReader(request.query)
        number = query.phone("destination_number", required=True)
        maxq = query.integer("maxq", required=True)
        query.boolean("phoneNumbersI18nEnabled")
        if query.problems or number is None or maxq is None:
            return bodies.invalid(request, query.problems)
        queue = self.state.queue_for_number(number)
        if queue is None:
            return bodies.not_found(request, f"No queue is assigned to {number}")
        count, oldest = self.state.queue_depth(queue)
        if maxq > 0:
            status = oldest < maxq
            verdict = "within" if status else "exceeds"
            reason = (
                f"{count} calls in queue {queue.name}; longest wait {oldest:.0f}s "
                f"{verdict} the maximum queue time of {maxq}s"
            )
        else:
            ready = self.state.agents_ready_for(queue)
            status = ready > 0
            reason = f"{ready} agents available in queue {queue.name}"
        return bodies.json_ok({"status": status, "reason": reason})

    async def queue_threshold(self, request: web.Request) -> web.Response:
        """Whether fewer than ``maxCallsQueued`` (default 10) calls wait in the DNIS's queue."""
        query = QueryReader(request.query)
        number = query.phone("destination_number", required=True)
        threshold = query.integer("maxCallsQueued")
        query.boolean("phoneNumbersI18nEnabled")
        if query.problems or number is None:
            return bodies.invalid(request, query.problems)
        if threshold is None:
            threshold = DEFAULT_MAX_CALLS_QUEUED
        queue = self.state.queue_for_number(number)
        if queue is None:
            return bodies.not_found(request, f"No queue is assigned to {number}")
        count, _ = self.state.queue_depth(queue)
        status = count < threshold
        reason = f"{count} calls in queue {queue.name}; threshold is {threshold}"
        return bodies.json_ok({"status": status, "reason": reason})
