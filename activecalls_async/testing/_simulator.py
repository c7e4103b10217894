"""The Simulator: a local RingCX Active Calls server on 127.0.0.1, in-process or standalone.

Its clock is the wall clock (``time.time``) unless a ``clock`` is given: the seeded calls
were enqueued in the hour before the simulator was made, and time keeps moving while it
serves. :meth:`Simulator.advance` adds simulated seconds on top of the clock at once.

With ``live=True`` calls arrive, are answered and end as that clock moves. Every call ends
with the same chance per second (mean ``mean_call_seconds``) and, unless ``arrival_rate``
is given, calls arrive at ``calls / mean_call_seconds`` per second, so the population
stays around ``calls`` however long it runs.

Agents answer queued calls as a contact centre's do. Each agent is on one call at a time.
A queue's free agents take its oldest waiting calls, one each; a taken call rings its
agent, still ``QUEUED`` and with no agent named, for between half and one and a half times
a twelfth of ``mean_call_seconds`` (that mean at most 30 s), then is answered (``ACTIVE``,
with the agent's name and a ``dequeueTime``); a caller may hang up meanwhile, which frees
the agent. The centre is staffed for ``calls``: about 70% of calls need an agent (ACD and
outbound), 85% of ready agents are on a call, and a quarter of the roster is logged out or
not ready, about 1.1 agents per call in all. So about 4% of calls are waiting at any time,
whatever ``calls``, for mean calls up to six minutes (longer ones wait the 30 s cap, a
smaller share). ``agents=`` sets the roster instead: a few agents make long queues, which
callers leave as fast as they join them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from aiohttp import web

from .._aio import stop_task
from .._wire.convert import structure_calls
from ..models import ActiveCall
from ._api import ActiveCallsApi
from ._auth import TokenStore
from ._faults import Faults
from ._login import LoginApi
from ._ratelimit import SlidingWindow
from ._records import JOURNAL_SIZE, Effect, Journal, RecordedRequest, RecordLog
from ._seed import build_state
from ._server import ApiServer
from ._state import AccountState
from ._traffic import Traffic

#: The RingCX exchange endpoint's documented limit: 5 requests per minute.
EXCHANGE_LIMIT = (5, 60.0)

# In-flight handlers get this long to finish when the simulator stops, then are cancelled.
_SHUTDOWN_GRACE = 0.5


class Simulator:
    """A faithful local RingCX Active Calls server with a seeded account and live traffic.

    Use ``async with Simulator() as sim:`` (or ``await start()``/``await stop()``), then
    point a client at :attr:`base_url` with :attr:`token`. The newest requests it received
    are in :attr:`requests`, the newest effects it applied in :attr:`effects` (at most
    ``journal_size`` of each, ``None`` for all; their ``total`` counts every one).
    """

    def __init__(
        self,
        *,
        calls: int = 200,
        agents: int | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = "12440001",
        live: bool = False,
        arrival_rate: float | None = None,
        mean_call_seconds: float = 60.0,
        tick: float = 0.2,
        token_lifetime: float = 300.0,
        rate_limit: int | None = 120,
        rate_window: float = 60.0,
        faults: Faults | None = None,
        latency: float = 0.0,
        clock: Callable[[], float] | None = None,
        journal_size: int | None = JOURNAL_SIZE,
    ) -> None:
        if calls < 0:
            raise ValueError(f"calls must not be negative, got {calls!r}")
        if agents is not None and agents < 0:
            raise ValueError(f"agents must not be negative, got {agents!r}")
        if not account_id.isdigit():
            raise ValueError(f"account_id must be digits, got {account_id!r}")
        if tick <= 0:
            raise ValueError(f"tick must be positive, got {tick!r}")
        if mean_call_seconds <= 0:
            raise ValueError(f"mean_call_seconds must be positive, got {mean_call_seconds!r}")
        if journal_size is not None and journal_size < 0:
            raise ValueError(f"journal_size must not be negative, got {journal_size!r}")
        if arrival_rate is not None and arrival_rate < 0:
            raise ValueError(f"arrival_rate must not be negative, got {arrival_rate!r}")
        if arrival_rate is None:
            arrival_rate = calls / mean_call_seconds  # the rate that keeps ``calls`` in flight
        #: Epoch seconds now, as ``time.time`` gives them; tests may pass a fixed or fast one.
        self.clock: Callable[[], float] = time.time if clock is None else clock
        # Seconds added by advance(): simulated time runs ahead of the clock by this much.
        self._offset = 0.0
        self.host = host
        self.account_id = account_id
        self.live = live
        self.tick = tick
        self.faults = faults if faults is not None else Faults()
        if latency:
            self.faults.latency = latency
        self.state: AccountState = build_state(
            calls=calls, seed=seed, account_id=account_id, now_ms=self._clock_ms(), agents=agents
        )
        self.traffic = Traffic(
            self.state, seed=seed, arrival_rate=arrival_rate, mean_call_seconds=mean_call_seconds
        )
        self._tokens = TokenStore(lifetime=token_lifetime)
        self._journal = Journal(journal_size)
        #: The newest requests received (at most ``journal_size``), oldest first.
        self.requests: RecordLog[RecordedRequest] = self._journal.requests
        #: The newest effects applied (at most ``journal_size``), oldest first.
        self.effects: RecordLog[Effect] = self._journal.effects
        self._limiter = SlidingWindow(rate_limit, rate_window)
        self._exchange_limiter = SlidingWindow(*EXCHANGE_LIMIT)
        self._server = ApiServer(
            api=ActiveCallsApi(self.state, self._journal, lambda: self.faults),
            login=LoginApi(self.state, self._tokens),
            tokens=self._tokens,
            journal=self._journal,
            limiter=self._limiter,
            exchange_limiter=self._exchange_limiter,
            faults=lambda: self.faults,
        )
        self._requested_port = port
        self._port: int | None = port or None
        self._runner: web.AppRunner | None = None
        self._live_task: asyncio.Task[None] | None = None
        self._clock_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._runner is not None else "stopped"
        return f"<Simulator {where} account={self.account_id} calls={len(self.state)}>"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving (and, when live, advancing the traffic); a second call does nothing."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self._server.application(), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        if self.live:
            self._live_task = asyncio.create_task(self._follow_clock(), name="simulator-live")
        else:
            self._tick_still_clock()

    async def stop(self) -> None:
        """Stop the traffic and the server; a second call does nothing."""
        timer, self._clock_timer = self._clock_timer, None
        if timer is not None:
            timer.cancel()
        task, self._live_task = self._live_task, None
        if task is not None:
            await stop_task(task)
        runner, self._runner = self._runner, None
        if runner is not None:
            # Cancel first: stopping should not wait out injected latency.
            await self._server.cancel_inflight()
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve(self) -> None:
        """Start, then serve until cancelled; stops cleanly on the way out."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def run(self) -> None:
        """Serve in a new event loop until interrupted (Ctrl-C ends it quietly)."""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.serve())

    async def _follow_clock(self) -> None:
        """Every tick, run the traffic up to the clock."""
        while True:
            await asyncio.sleep(self.tick)
            self._catch_up()

    def _tick_still_clock(self) -> None:
        """Every tick, move a still account's time to the clock: a timer, not a task, since
        it only sets a number (and a test counting its own tasks must not see it)."""
        self._catch_up()
        loop = asyncio.get_running_loop()
        self._clock_timer = loop.call_later(self.tick, self._tick_still_clock)

    def _clock_ms(self) -> int:
        return round((self.clock() + self._offset) * 1000)

    def _catch_up(self) -> None:
        target = self._clock_ms()
        if self.live:
            self.traffic.run_until(target, tick=self.tick)
        elif target > self.state.now_ms:
            self.state.now_ms = target  # time passes; with no traffic nothing else changes

    # -- time ------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator's current time (UTC): its clock plus every :meth:`advance`."""
        now_ms = max(self.state.now_ms, self._clock_ms())
        return datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)

    # -- addresses and credentials ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (known once started, or when one was given)."""
        if self._port is None:
            raise RuntimeError("the simulator has no port until it is started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://host:port``: the login endpoints live here."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL with today's ``/voice`` prefix."""
        return f"{self.root_url}/voice"

    @property
    def legacy_base_url(self) -> str:
        """The API base URL with the legacy (no ``/voice``) prefix."""
        return self.root_url

    @property
    def token(self) -> str:
        """A RingCX bearer access token that never expires by time (only by expire_token)."""
        return self._tokens.token

    @property
    def api_token(self) -> str:
        """A legacy permanent API token, accepted in the ``X-Auth-Token`` header."""
        return self._tokens.api_token

    @property
    def rc_client_id(self) -> str:
        """The RingCentral app client id the JWT grant accepts."""
        return self._tokens.rc_client_id

    @property
    def rc_client_secret(self) -> str:
        """The RingCentral app client secret the JWT grant accepts."""
        return self._tokens.rc_client_secret

    @property
    def rc_jwt(self) -> str:
        """The RingCentral JWT credential the JWT grant accepts."""
        return self._tokens.rc_jwt

    def issue_token(self, lifetime: float | None = None) -> str:
        """A fresh RingCX access token living ``lifetime`` seconds (default token_lifetime)."""
        return self._tokens.issue(lifetime)

    def expire_token(self, token: str) -> None:
        """Expire a token now: its next use answers 401 ``Jwt is expired``."""
        self._tokens.expire(token)

    # -- inspection --------------------------------------------------------------------------

    def effect_count(self, kind: str, uii: str | None = None) -> int:
        """How many effects of this kind (on this uii, if given) :attr:`effects` holds."""
        return sum(
            1 for effect in self.effects if effect.kind == kind and uii in (None, effect.uii)
        )

    def calls(self, product: str = "ACCOUNT", product_id: int | None = None) -> list[ActiveCall]:
        """Current calls of a listing as the SDK returns them (``ActiveCall``), in listing
        order; :meth:`wire_calls` gives the JSON objects the server sends."""
        return structure_calls(self.wire_calls(product, product_id))

    def wire_calls(
        self, product: str = "ACCOUNT", product_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Current calls as the list operation returns them (wire dicts), in listing order."""
        if not (self.live and self._runner is not None):
            self._catch_up()
        account_id = self.account_id
        return [call.wire(account_id) for call in self.state.listing(product, product_id)]

    def call(self, uii: str) -> ActiveCall | None:
        """One live call as the SDK returns it, or None when it is unknown or ended."""
        wire = self.wire_call(uii)
        return None if wire is None else structure_calls([wire])[0]

    def wire_call(self, uii: str) -> dict[str, Any] | None:
        """One live call as the API renders it (a wire dict), or None when unknown or ended."""
        found = self.state.get(uii)
        return None if found is None else found.wire(self.account_id)

    def targets(self) -> list[tuple[str, int]]:
        """Every (product, productId) with calls, ACCOUNT first."""
        return self.state.targets()

    def reset_counters(self) -> None:
        """Clear recorded requests and effects (and their totals), and empty the rate-limit
        windows."""
        self._journal.clear()
        self._limiter.reset()
        self._exchange_limiter.reset()

    # -- driving the account from tests ------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move simulated time ``seconds`` ahead of the clock at once, running the traffic over
        them (arrivals and endings run whether or not the simulator is live)."""
        self._offset += seconds
        self.traffic.advance(seconds, tick=self.tick)

    def add_call(
        self,
        *,
        product: str = "ACD",
        product_id: int | None = None,
        call_state: str | None = None,
        agent: str | None = None,
        ani: str | None = None,
        cnam: str | None = None,
        external_id: str | None = None,
        enqueue_time: datetime | int | None = None,
        archive: bool = False,
    ) -> str:
        """Add a call now and return its uii (ACD calls without an agent arrive QUEUED)."""
        if not self.live:
            self._catch_up()
        call = self.traffic.place(
            product=product,
            product_id=product_id,
            call_state=call_state,
            agent=agent,
            ani=ani,
            cnam=cnam,
            external_id=external_id,
            enqueue_time=enqueue_time,
            archive=archive,
        )
        return call.uii

    def end_call(self, uii: str) -> bool:
        """End a call as if the caller hung up; False when it is not live."""
        call = self.state.get(uii)
        if call is None:
            return False
        self.state.remove(call)
        return True

    def session_ids(self, uii: str) -> dict[str, str]:
        """The ids of a live call's sessions by phone (the API itself never returns them)."""
        call = self.state.get(uii)
        if call is None:
            raise KeyError(uii)
        return {session.phone: session.session_id for session in (call.sessions or {}).values()}

    @property
    def accounts(self) -> list[dict[str, Any]]:
        """What ``GET accounts`` lists (wire dicts); edit it to show several or none."""
        return self._server.api.accounts

    @property
    def users(self) -> list[dict[str, Any]]:
        """What the ``users`` stub of the wider admin API lists."""
        return self._server.api.users

    def answer_actions(self, status: int = 200, *, body: str = "") -> None:
        """Make successful actions answer ``status``: 200 ``true`` (the default) or
        201 Created with ``body`` (empty by default), as the spec allows."""
        if status not in (200, 201):
            raise ValueError(f"status must be 200 or 201, got {status!r}")
        self._server.api.action_status = status
        self._server.api.created_body = body

    def answer_declines(self, body: str = "false", *, content_type: str = "text/plain") -> None:
        """Make every action the simulator declines answer ``body`` (``false: Agent is not
        on the call``, or a JSON object with ``message``) instead of the service's bare
        ``false``, to test how a client shows a server's words; no argument restores it."""
        self._server.api.declined_body = body
        self._server.api.declined_type = content_type

    def update_call(self, uii: str, **fields: Any) -> None:
        """Change a live call's fields (``call_state``, ``agent_first_name``, ``cnam``, ...)."""
        call = self.state.get(uii)
        if call is None:
            raise KeyError(uii)
        self.state.edit(call, fields)
