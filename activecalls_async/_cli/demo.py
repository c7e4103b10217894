"""``activecalls demo``: list thousands of simulated calls through the SDK, summarise them,
then supervise one real call step by step, proving each effect on the simulator."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TextIO

import attrs

from ..client import ActiveCallsClient
from ..errors import NotFoundError
from ..limits.ratelimit import RateLimit
from ..models import RESULT_PRODUCTS, ActiveCall, Product, SessionType
from ..pagination import Target
from ..testing import Simulator
from .failures import EXIT_FAILED, EXIT_OK
from .output import Column, Symbols, stderr, stdout, write_rows
from .progress import ListingProgress

__all__ = ["run_demo"]

#: The demo supervisor's phone.
SUPERVISOR = "+15554150123"
#: The API's documented limit, applied by both the simulator and the client.
RATE_LIMIT = (120, 60.0)
#: Listings walked at once.
CONCURRENCY = 8
#: Calls to try the supervisor scenario on, in case callers hang up first.
_ATTEMPTS = 3


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@attrs.frozen
class _Count:
    name: str
    count: int
    listings: int = 0


class Demo:
    """One run of the demo against a started simulator."""

    def __init__(self, sim: Simulator, client: ActiveCallsClient, *, page_size: int) -> None:
        self.sim = sim
        self.client = client
        self.page_size = page_size
        self.out: TextIO = stdout()
        self.marks = Symbols.for_stream(self.out)

    def say(self, text: str = "") -> None:
        """Print a line of the narrative."""
        print(text, file=self.out, flush=True)

    def sim_now(self) -> datetime:
        """The simulator's clock (its calls are stamped with it, not with this machine's)."""
        return datetime.fromtimestamp(self.sim.state.now_ms / 1000, tz=timezone.utc)

    # -- listing -------------------------------------------------------------------------

    async def list_everything(self) -> tuple[list[ActiveCall], Mapping[str, tuple[Target, ...]]]:
        """Every listing with calls, walked concurrently through ``iter_active_calls_many``."""
        targets = self.sim.targets()
        products = {product for product, _ in targets}
        self.say(
            f"Listing {len(targets)} listings across {len(products)} products concurrently "
            f"(page size {self.page_size}, which the server is known to send whole; "
            f"{CONCURRENCY} at a time)"
        )
        calls: list[ActiveCall] = []
        before = self.sim.requests.total
        with ListingProgress("Loading pages", stream=stderr()) as progress:
            async with self.client.iter_active_calls_many(
                targets, page_size=self.page_size, concurrency=CONCURRENCY
            ) as fanout:
                async for call in fanout:
                    calls.append(call)
                    progress.advance()
                sources = dict(fanout.sources)
        rows = sum(len(found) for found in sources.values())
        self.say(
            f"{self.marks.ok} {rows:,} rows {self.marks.arrow} {len(calls):,} unique calls in "
            f"{progress.elapsed:.2f} s ({self.sim.requests.total - before} requests)"
        )
        return calls, sources

    def summarise(
        self, calls: Sequence[ActiveCall], sources: Mapping[str, tuple[Target, ...]]
    ) -> None:
        """Calls per product, the longest-waiting calls and the longest calls in progress."""
        per_product: Counter[Product] = Counter()
        listings: dict[Product, set[Target]] = {}
        for found in sources.values():
            for product in {target.product for target in found}:
                per_product[product] += 1
            for target in found:
                listings.setdefault(target.product, set()).add(target)
        counts = [
            _Count(p.value, per_product[p], len(listings.get(p, ())))
            for p in Product
            if p in RESULT_PRODUCTS
        ]
        self.say()
        self.say("Calls per product")
        self._table(
            counts,
            (
                Column("PRODUCT", lambda c: c.name),
                Column("LISTINGS", lambda c: str(c.listings), "right"),
                Column("CALLS", lambda c: f"{c.count:,}", "right"),
            ),
        )
        now = self.sim_now()
        queued = sorted(
            (c for c in calls if c.dequeue_time is None and c.enqueue_time is not None),
            key=lambda c: (c.enqueue_time, c.uii),
        )
        self.say(f"Longest-waiting calls ({len(queued):,} in queue, as of {now:%H:%M:%S} UTC)")
        self._table(
            queued[:5],
            (
                Column("UII", lambda c: c.uii),
                Column("QUEUE", lambda c: c.destination_name or ""),
                Column("WAITING", lambda c: _duration((now - c.enqueue_time).total_seconds())),
                Column("CALLER", lambda c: f"{c.ani or ''} {c.cnam or ''}".strip()),
            ),
        )
        talking = sorted(
            (c for c in calls if c.dequeue_time is not None and c.agent_name),
            key=lambda c: (c.dequeue_time, c.uii),
        )
        self.say(f"Longest calls in progress ({len(talking):,} answered)")
        self._table(
            talking[:5],
            (
                Column("AGENT", lambda c: c.agent_name or ""),
                Column("QUEUE", lambda c: c.destination_name or ""),
                Column("TALKING", lambda c: _duration((now - c.dequeue_time).total_seconds())),
            ),
        )

    def _table(self, rows: Sequence[object], columns: Sequence[Column]) -> None:
        write_rows(rows, fmt="table", columns=columns, record=dict, fields=(), stream=self.out)
        self.say()

    # -- the supervisor scenario -----------------------------------------------------------

    def _sessions(self, uii: str) -> str:
        call = self.sim.state.get(uii)
        if call is None:
            return "call gone"
        sessions = call.sessions or {}
        listed = ", ".join(f"{s.phone} {s.session_type}" for s in sessions.values())
        return f"sessions on the call: {listed or 'none'}"

    def _recording(self, uii: str) -> str:
        call = self.sim.state.get(uii)
        if call is None:
            return "call gone"
        return f"recording: {'on' if call.recording else 'off'}"

    def _disposition(self, uii: str) -> str:
        found = self.sim.state.dispositions.get(uii)
        if found is None:
            return "no disposition recorded"
        callback = f", callback {found.callback_at}" if found.callback else ""
        return f"disposition recorded: {found.disposition}{callback}"

    async def supervise(self, call: ActiveCall) -> None:
        """MONITOR, BARGEIN, pause/resume recording, disposition, drop supervisor, hang up."""
        client, uii = self.client, call.uii
        now = self.sim_now()
        since = call.enqueue_time or now
        self.say(
            f"Supervisor scenario on the longest call {uii} ({call.agent_name}, "
            f"{call.destination_name}, up {_duration((now - since).total_seconds())})"
        )
        # The account's wall-clock time (naive, as dispositionCall takes it): 15:30 tomorrow.
        callback_at = (now + timedelta(days=1)).replace(
            hour=15, minute=30, second=0, microsecond=0, tzinfo=None
        )
        # (what, the request, how to read its effect back from the simulator); requests
        # are made one by one, only when their turn comes.
        steps: list[tuple[str, Callable[[], Awaitable[None]], Callable[[], str]]] = [
            (
                f"add a MONITOR session for {SUPERVISOR}",
                lambda: client.add_session_to_call(
                    uii, destination=SUPERVISOR, session_type=SessionType.MONITOR
                ),
                lambda: self._sessions(uii),
            ),
            (
                "escalate it to BARGEIN",
                lambda: client.add_session_to_call(
                    uii, destination=SUPERVISOR, session_type=SessionType.BARGEIN
                ),
                lambda: self._sessions(uii),
            ),
            (
                "pause recording",
                lambda: client.toggle_call_recording(uii, record=False),
                lambda: self._recording(uii),
            ),
            (
                "resume recording",
                lambda: client.toggle_call_recording(uii, record=True),
                lambda: self._recording(uii),
            ),
            (
                f"disposition SALE, callback {callback_at:%Y-%m-%d %H:%M}",
                lambda: client.disposition_call(
                    uii,
                    disposition="SALE",
                    callback=True,
                    callback_at=callback_at,
                    notes="Supervisor joined; customer asked for a call back",
                ),
                lambda: self._disposition(uii),
            ),
            (
                "remove the supervisor",
                lambda: client.hangup_session(uii, phone=SUPERVISOR),
                lambda: self._sessions(uii),
            ),
            (
                "hang up the call",
                lambda: client.hangup_call(uii),
                lambda: "call ended" if self.sim.state.get(uii) is None else "call still live",
            ),
        ]
        width = max(len(title) for title, _, _ in steps)
        for title, request, readback in steps:
            await request()
            self.say(f"  {self.marks.ok} {title:<{width}}  {self.marks.arrow} {readback()}")
        try:
            await client.hangup_call(uii)
        except NotFoundError as exc:
            self.say(
                f"  {self.marks.ok} {'hang up again':<{width}}  {self.marks.arrow} "
                f"NotFoundError (HTTP {exc.status}): the call has ended"
            )
        else:
            self.say(f"  {self.marks.fail} hanging up again succeeded: the call had not ended")

    async def run_scenario(self, calls: Sequence[ActiveCall]) -> bool:
        """Supervise the longest call with an agent; if its caller hangs up meanwhile (the
        traffic is live), take the next longest. False if none could be supervised."""
        answered = sorted(
            (c for c in calls if c.agent_first_name and c.enqueue_time is not None),
            key=lambda c: (c.enqueue_time, c.uii),
        )
        for call in answered[:_ATTEMPTS]:
            try:
                await self.supervise(call)
            except NotFoundError:
                self.say(
                    f"  {self.marks.fail} the caller hung up first (HTTP 404: the call ended); "
                    "taking the next longest call"
                )
                continue
            return True
        return False


async def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Start a simulator with live traffic, list, summarise, supervise, report the cost."""
    started = time.perf_counter()
    limit, window = RATE_LIMIT
    out = stdout()
    print("activecalls demo: the RingCX Active Calls API, simulated in-process", file=out)
    async with Simulator(
        calls=args.calls, seed=args.seed, live=True, rate_limit=limit, rate_window=window
    ) as sim:
        print(
            f"Simulator at {sim.base_url}: {len(sim.state):,} live calls (seed {args.seed}), "
            f"new ones arriving and old ones ending; rate limit {limit} requests/{window:g} s "
            "(the API's, enforced by the simulator and respected by the client)",
            file=out,
            flush=True,
        )
        async with ActiveCallsClient(
            account_id=sim.account_id,
            auth=sim.token,
            base_url=sim.base_url,
            rate_limit=RateLimit(limit, per=window),
            # The simulator sends every row asked for: a shorter page 0 is a whole listing,
            # one request (without it, page 0 and a probe proving it whole: two).
            server_max_rows=args.page_size,
        ) as client:
            demo = Demo(sim, client, page_size=args.page_size)
            calls, sources = await demo.list_everything()
            demo.summarise(calls, sources)
            supervised = await demo.run_scenario(calls)
        requests = sim.requests.total
        throttled = sum(1 for r in sim.requests if r.status == 429)
    elapsed = time.perf_counter() - started
    if not supervised:
        print(
            f"activecalls: error: the {_ATTEMPTS} longest calls all ended before the "
            "supervisor scenario could finish",
            file=stderr(),
        )
    marks = Symbols.for_stream(out)
    print(
        f"\n{marks.ok if supervised else marks.fail} Done: {requests} requests "
        f"({throttled} throttled) in {elapsed:.1f} s",
        file=out,
        flush=True,
    )
    return EXIT_OK if supervised else EXIT_FAILED
