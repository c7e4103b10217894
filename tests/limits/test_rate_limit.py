"""``RateLimit``: the server never sees more than N per window; priorities, headroom, aging."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from activecalls_async import ActiveCallsClient, Limiter, RateLimit, ValidationError
from activecalls_async.priority import Priority
from activecalls_async.testing import Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import now, virtual


async def grants(limit: RateLimit, tasks: int, each: int) -> list[float]:
    """When each of ``tasks`` tasks, asking ``each`` times, was let through (loop time)."""
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await limit.acquire()
            stamps.append(now())
            await limit.release()

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return sorted(stamps)


def test_never_more_than_the_limit_inside_any_window() -> None:
    async def main() -> list[float]:
        return await grants(RateLimit(5, per=0.2, margin=0.0, clock=now), tasks=3, each=7)

    stamps = virtual(main)
    assert len(stamps) == 21
    # Any window of 0.2 s holds at most 5 starts: the 6th after any start is 0.2 s later
    # (less the virtual clock's rounding).
    assert all(
        later - earlier >= 0.2 - 1e-9 for earlier, later in zip(stamps, stamps[5:], strict=False)
    )
    # And the limiter is not slower than it must be: the burst goes at once.
    assert stamps[4] - stamps[0] < 0.05
    assert stamps[-1] - stamps[0] < 4 * 0.2 + 0.15


def test_the_margin_widens_the_window() -> None:
    async def main() -> list[float]:
        return await grants(RateLimit(2, per=0.1, margin=0.05, clock=now), tasks=2, each=3)

    stamps = virtual(main)
    assert all(
        later - earlier >= 0.15 - 1e-9 for earlier, later in zip(stamps, stamps[2:], strict=False)
    )


def test_waiters_are_served_first_come_first_served() -> None:
    order: list[str] = []

    async def main() -> None:
        limit = RateLimit(1, per=0.03, margin=0.0, clock=now)

        async def greedy(name: str) -> None:
            for _ in range(3):
                await limit.acquire()
                order.append(name)
                await limit.release()

        await asyncio.gather(greedy("a"), greedy("b"), greedy("c"))

    virtual(main)
    # "a" takes the free slot and queues again at once; "b" and "c" arrived while it
    # waited, so they go before its third turn: nobody runs ahead of an earlier arrival.
    assert order == ["a", "a", "b", "c", "a", "b", "c", "b", "c"]


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    now = [0.0]
    limit = RateLimit(2, per=60.0, margin=0.0, clock=lambda: now[0])
    for _ in range(2):
        await limit.acquire()
        await limit.release()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(limit.acquire(), 0.02)  # the window is full
    now[0] = 60.0  # the first two starts leave the window
    await asyncio.wait_for(limit.acquire(), 0.02)
    await asyncio.wait_for(limit.acquire(), 0.02)  # the cancelled wait did not use one
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(limit.acquire(), 0.02)


@pytest.mark.activecalls_simulator(calls=50, seed=5, rate_limit=8, rate_window=0.25)
async def test_one_limit_shared_by_two_clients_holds_for_both(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    # Real time: the simulator counts its window on the wall clock.
    sim = activecalls_simulator
    shared = RateLimit(8, per=0.25)
    async with (
        activecalls_client_factory(rate_limit=shared, retry=None) as one,
        activecalls_client_factory(rate_limit=shared, retry=None) as two,
    ):
        await asyncio.gather(
            *(
                client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)
                for client in (one, two)
                for _ in range(10)
            )
        )
    assert [r.status for r in sim.requests] == [200] * 20
    starts = sorted(r.started for r in sim.requests)
    assert all(later - earlier >= 0.25 for earlier, later in zip(starts, starts[8:], strict=False))


@pytest.mark.activecalls_simulator(calls=30, seed=5, rate_limit=None)
async def test_any_limiter_can_replace_it_without_touching_the_transport(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    class CountingLimiter:
        def __init__(self) -> None:
            self.acquired = 0

        async def acquire(self, priority: Priority = Priority.READ) -> None:
            self.acquired += 1

        async def release(self) -> None:
            pass

    limiter = CountingLimiter()
    assert isinstance(limiter, Limiter)
    sim = activecalls_simulator
    async with activecalls_client_factory(rate_limit=limiter) as client:
        calls = [c async for c in client.iter_active_calls("ACCOUNT", sim.account_id, page_size=10)]
    assert len(calls) == 30
    # Pages 0 to 3, and at most one past the end: a limiter that does not say what it
    # can spare has none to spare.
    assert limiter.acquired == len(sim.requests) in (4, 5)


def test_default_limit_and_repr() -> None:
    limit = RateLimit(120, per=60)
    assert repr(limit) == "RateLimit(120, per=60)"
    assert limit.rate == 2.0
    assert isinstance(limit, Limiter)


@pytest.mark.parametrize(
    ("args", "kwargs", "parameter"),
    [
        ((0,), {}, "requests"),
        ((True,), {}, "requests"),
        ((1.5,), {}, "requests"),
        ((10,), {"per": 0}, "per"),
        ((10,), {"per": -1.0}, "per"),
        ((10,), {"margin": -0.1}, "margin"),
    ],
)
def test_bad_limits_are_refused(
    args: tuple[object, ...], kwargs: dict[str, object], parameter: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        RateLimit(*args, **kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter


# --- The server's own count, whatever the connection set-up costs ---------------------------------


class StrictServer:
    """Answers 429 to any request that would make ``limit`` arrivals within ``per`` seconds.

    Its clock is its own: a request arrives when its handler runs, however long the
    connection took to get there. Every ``close_every``-th answer closes its connection,
    so that new connections keep mixing with warm ones.
    """

    def __init__(self, limit: int, per: float, close_every: int = 3) -> None:
        self.limit = limit
        self.per = per
        self.close_every = close_every
        self.arrivals: list[float] = []
        self.statuses: list[int] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        recent = [t for t in self.arrivals if t > now - self.per]
        status = 429 if len(recent) >= self.limit else 200
        if status == 200:
            self.arrivals.append(now)
        self.statuses.append(status)
        response = web.json_response([], status=status)
        if len(self.statuses) % self.close_every == 0:
            response.force_close()
        return response


@contextlib.asynccontextmanager
async def strict_server(server: StrictServer) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def slow_to_connect(port: int, delays: Sequence[float]) -> AsyncIterator[str]:
    """A TCP proxy on 127.0.0.1 that holds each new connection ``delays[i]`` seconds
    (in turn) before passing anything on: connection set-up as a slow network has it."""
    turn = itertools.count()
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await asyncio.sleep(delays[next(turn) % len(delays)])
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(up_writer)
        for task in (
            asyncio.create_task(pipe(reader, up_writer)),
            asyncio.create_task(pipe(up_reader, writer)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    proxy = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
    finally:
        proxy.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await proxy.wait_closed()


async def fire(base_url: str, limit: RateLimit, requests: int) -> None:
    """``requests`` one-row listings at once, each one attempt, through ``limit``."""
    async with ActiveCallsClient(
        account_id="12440001",
        auth="token",
        base_url=base_url,
        rate_limit=limit,
        retry=None,
        max_concurrency=requests,
    ) as client:
        await asyncio.gather(
            *(client.list_active_calls("ACCOUNT", 12440001, max_rows=1) for _ in range(requests)),
            return_exceptions=True,
        )


@pytest.mark.slow
async def test_slow_new_connections_never_overflow_the_servers_window() -> None:
    # Real time: the server counts its window on the wall clock, as RingCX does.
    server = StrictServer(10, per=0.5)
    async with (
        strict_server(server) as port,
        slow_to_connect(port, delays=(0.05, 0.15, 0.15, 0.05, 0.0)) as base_url,
    ):
        await fire(base_url, RateLimit(10, per=0.5), 25)  # two and a half windows
    assert len(server.statuses) == 25
    assert server.statuses.count(429) == 0


def burn(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


@pytest.mark.slow
async def test_a_busy_cpu_never_overflows_the_servers_window() -> None:
    server = StrictServer(10, per=0.5)
    stop = threading.Event()
    burners = [threading.Thread(target=burn, args=(stop,)) for _ in range(2)]
    interval = sys.getswitchinterval()
    # A long switch interval: the burning threads keep the event loop off the CPU for
    # tens of milliseconds at a time, as a loaded machine does.
    sys.setswitchinterval(0.03)
    for burner in burners:
        burner.start()
    try:
        async with strict_server(server) as port:
            await fire(f"http://127.0.0.1:{port}", RateLimit(10, per=0.5), 25)
    finally:
        stop.set()
        for burner in burners:
            burner.join()
        sys.setswitchinterval(interval)
    assert len(server.statuses) == 25
    assert server.statuses.count(429) == 0


# --- Priorities, headroom, pacing, aging: on a virtual clock ---------------------------


class Run:
    """Requests through one limiter on the virtual clock, with what each one saw."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.arrived: list[str] = []
        self.gave_up: list[str] = []
        self.granted: list[tuple[str, float, int]] = []  # (name, when, in_window after)
        self.released: dict[str, float] = {}

    async def request(
        self,
        name: str,
        priority: Priority,
        *,
        at: float = 0.0,
        latency: float = 0.0,
        patience: float | None = None,
    ) -> None:
        await asyncio.sleep(at - now())

        async def acquire() -> None:
            # Recorded where it really asks and resumes: wait_for may run it as a task.
            self.arrived.append(name)
            await self.limit.acquire(priority)
            self.granted.append((name, now(), self.limit.in_window))

        try:
            await asyncio.wait_for(acquire(), patience)
        except asyncio.TimeoutError:
            self.gave_up.append(name)
            return
        await asyncio.sleep(latency)
        self.released[name] = now()
        await self.limit.release()

    @property
    def order(self) -> list[str]:
        return [name for name, _, _ in self.granted]

    def when(self, name: str) -> float:
        return next(t for n, t, _ in self.granted if n == name)


def test_an_action_overtakes_queued_requests_of_every_lower_priority() -> None:
    async def main() -> list[str]:
        run = Run(RateLimit(1, per=1.0, margin=0.0, clock=now))
        await asyncio.gather(
            run.request("bulk-0", Priority.BULK),
            *(run.request(f"bulk-{n}", Priority.BULK, at=0.1 * n) for n in range(1, 4)),
            run.request("watch", Priority.WATCH, at=0.5),
            run.request("read", Priority.READ, at=0.6),
            run.request("action", Priority.ACTION, at=0.7),
        )
        return run.order

    assert virtual(main) == ["bulk-0", "action", "read", "watch", "bulk-1", "bulk-2", "bulk-3"]


def test_first_come_first_served_within_a_priority() -> None:
    async def main() -> list[str]:
        run = Run(RateLimit(1, per=1.0, margin=0.0, age=100.0, clock=now))
        arrivals = ["b1", "a1", "b2", "a2", "b3", "a3", "b4"]
        await asyncio.gather(
            run.request("first", Priority.READ),
            *(
                run.request(
                    name, Priority.ACTION if name[0] == "a" else Priority.BULK, at=0.1 + 0.01 * i
                )
                for i, name in enumerate(arrivals)
            ),
        )
        return run.order

    assert virtual(main) == ["first", "a1", "a2", "a3", "b1", "b2", "b3", "b4"]


def test_a_waiting_bulk_request_is_never_starved_by_a_stream_of_actions() -> None:
    async def main() -> float:
        # One start a second, and a new ACTION every half second for 30 s: without
        # aging, the BULK request would wait until the stream stops.
        run = Run(RateLimit(1, per=1.0, margin=0.0, age=2.0, clock=now))
        await asyncio.gather(
            run.request("bulk", Priority.BULK, at=0.05),
            *(run.request(f"action-{n}", Priority.ACTION, at=0.5 * n) for n in range(60)),
        )
        return run.when("bulk")

    # It rises to ACTION after three ages (6.05 s), then only earlier arrivals go first.
    waited = virtual(main)
    assert 6.05 <= waited <= 6.05 + 1.0


def test_aging_is_one_level_per_age() -> None:
    async def main() -> list[str]:
        run = Run(RateLimit(1, per=1.0, margin=0.0, age=1.5, clock=now))
        await asyncio.gather(
            run.request("first", Priority.READ),
            run.request("bulk", Priority.BULK, at=0.1),  # WATCH at 1.6, READ at 3.1
            run.request("watch", Priority.WATCH, at=0.2),  # READ at 1.7
            run.request("read", Priority.READ, at=0.3),
        )
        return run.order

    # At 1.0 nothing has risen yet: READ first; at 2.0 the WATCH is READ-level and the
    # BULK only WATCH-level.
    assert virtual(main) == ["first", "read", "watch", "bulk"]


def test_watch_and_bulk_leave_the_reserve_to_read_and_action() -> None:
    async def main() -> Run:
        run = Run(RateLimit(10, per=1.0, margin=0.0, reserve=3, clock=now))
        await asyncio.gather(
            *(run.request(f"bulk-{n}", Priority.BULK, latency=0.05) for n in range(12)),
            run.request("read", Priority.READ, at=0.9),
            run.request("action", Priority.ACTION, at=0.95),
        )
        return run

    run = virtual(main)
    # BULK fills at most 10 - 3 slots of the window ...
    assert max(seen for name, _, seen in run.granted if name.startswith("bulk")) == 7
    assert sum(1 for name, t, _ in run.granted if name.startswith("bulk") and t < 1.0) == 7
    # ... so READ and ACTION, arriving into that full window, start at once.
    assert run.when("read") == 0.9
    assert run.when("action") == 0.95


def test_the_default_reserve_and_age() -> None:
    assert (RateLimit(120).reserve, RateLimit(20).reserve, RateLimit(1).reserve) == (2, 1, 0)
    assert RateLimit(1000).reserve == 20
    assert RateLimit(120, per=60).age == 60.0
    assert RateLimit(10, per=2.0, age=0.5).age == 0.5


def test_bulk_bursts_to_half_the_window_then_paces_one_per_slot() -> None:
    async def main() -> list[float]:
        run = Run(RateLimit(10, per=1.0, margin=0.0, clock=now))
        await asyncio.gather(*(run.request(f"bulk-{n}", Priority.BULK) for n in range(30)))
        return [t for _, t, _ in run.granted]

    starts = virtual(main)
    assert starts[:5] == [0.0] * 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts[4:])]
    assert min(gaps) >= 0.1 - 1e-9
    # The first window's room is spread until its oldest requests leave (0.2 s apart) ...
    assert starts[5:9] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    # ... and pacing costs no throughput: every window holds all BULK may fill (10 - 1).
    assert [sum(1 for t in starts if k <= t < k + 1) for k in range(3)] == [9, 9, 9]


def test_an_action_finds_a_slot_within_one_slot_under_saturating_bulk() -> None:
    async def main() -> list[float]:
        run = Run(RateLimit(20, per=2.0, clock=now))
        slot = 2.0 / 20
        actions = [
            run.request(f"action-{n}", Priority.ACTION, at=0.37 + 0.49 * n, latency=0.05)
            for n in range(20)
        ]
        bulk = [run.request(f"bulk-{n}", Priority.BULK, latency=0.05) for n in range(120)]
        await asyncio.gather(*bulk, *actions)
        arrivals = {f"action-{n}": 0.37 + 0.49 * n for n in range(20)}
        return sorted((run.when(name) - at) / slot for name, at in arrivals.items())

    waits = virtual(main)
    assert waits[len(waits) // 2] <= 1.0
    assert waits[-1] <= 2.0


def test_bursts_of_actions_beyond_the_reserve_wait_about_one_slot_each() -> None:
    async def main() -> list[float]:
        # Five actions at once every two windows: three more than the reserve and the
        # ACTION-only slot hold, so the rest take slots as the paced window frees them.
        run = Run(RateLimit(20, per=2.0, clock=now))
        arrivals = {f"action-{k}-{j}": 3.13 + 2.0 * k for k in range(8) for j in range(5)}
        await asyncio.gather(
            *(run.request(f"bulk-{n}", Priority.BULK, latency=0.05) for n in range(200)),
            *(run.request(n, Priority.ACTION, at=at, latency=0.05) for n, at in arrivals.items()),
        )
        return sorted((run.when(name) - at) / 0.1 for name, at in arrivals.items())

    waits = virtual(main)
    assert waits[len(waits) // 2] <= 1.0
    assert waits[-1] <= 3.0


@pytest.mark.parametrize("reserve", [-1, 5, 6, 1.5, True])
def test_bad_reserves_are_refused(reserve: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        RateLimit(5, reserve=reserve)
    assert raised.value.parameter == "reserve"


@pytest.mark.parametrize("age", [0, -1.0, float("nan"), "soon"])
def test_bad_ages_are_refused(age: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        RateLimit(5, age=age)
    assert raised.value.parameter == "age"


async def test_a_priority_must_be_a_priority() -> None:
    limit = RateLimit(5)
    with pytest.raises(ValidationError):
        await limit.acquire("urgent")  # type: ignore[arg-type]
    await limit.acquire("action")  # type: ignore[arg-type]  # a member's name is one
    assert limit.in_window == 1


async def test_release_without_acquire_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="release"):
        await RateLimit(5).release()


def test_in_window_counts_requests_in_flight_and_answered_within_the_window() -> None:
    async def main() -> list[int]:
        limit = RateLimit(5, per=1.0, margin=0.0, clock=now)
        seen = [limit.in_window]
        await limit.acquire()
        await limit.acquire()
        seen.append(limit.in_window)  # two in flight
        await asyncio.sleep(0.5)
        await limit.release()
        seen.append(limit.in_window)  # one answered, one in flight
        await asyncio.sleep(0.9)
        seen.append(limit.in_window)  # still in the window: answered 0.9 s ago
        await asyncio.sleep(0.1)
        seen.append(limit.in_window)  # the answered one has left; one still in flight
        await limit.release()
        return seen

    assert virtual(main) == [0, 2, 2, 2, 1]


def test_a_waiter_cancelled_between_being_let_go_and_resuming_uses_no_slot() -> None:
    async def main() -> int:
        limit = RateLimit(1, per=1.0, margin=0.0, clock=now)
        await limit.acquire()
        waiting = asyncio.create_task(limit.acquire())
        await asyncio.sleep(0)
        await limit.release()  # lets the waiter go ...
        waiting.cancel()  # ... which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return limit.in_window

    assert virtual(main) == 1  # only the released request, none in flight


# One action per level, drawn independently; latencies up to two windows.
REQUESTS = st.lists(
    st.tuples(
        st.floats(0.0, 6.0),  # arrival
        st.sampled_from(list(Priority)),
        st.floats(0.0, 1.5),  # latency: acquire to answer
        st.floats(0.0, 1.0),  # where between start and answer the server sees it
        st.none() | st.floats(0.0, 3.0),  # how long it waits before giving up
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    requests=REQUESTS,
    limit=st.integers(1, 8),
    per=st.floats(0.2, 2.0),
    margin=st.sampled_from([0.0, 0.05]),
    reserve_share=st.floats(0.0, 1.0),
    age=st.floats(0.1, 5.0),
)
def test_the_server_never_sees_more_than_the_limit_in_any_window(
    requests: list[tuple[float, Priority, float, float, float | None]],
    limit: int,
    per: float,
    margin: float,
    reserve_share: float,
    age: float,
) -> None:
    reserve = min(limit - 1, int(reserve_share * limit))
    window = per + margin

    async def main() -> tuple[Run, int]:
        run = Run(RateLimit(limit, per=per, margin=margin, reserve=reserve, age=age, clock=now))
        await asyncio.gather(
            *(
                run.request(str(i), priority, at=at, latency=latency, patience=patience)
                for i, (at, priority, latency, _, patience) in enumerate(requests)
            )
        )
        await asyncio.sleep(window)
        return run, run.limit.in_window

    run, left = virtual(main)
    # Everyone was served or gave up; nobody starved, and a waiter that gave up left no
    # count behind.
    assert sorted(run.order + run.gave_up) == sorted(str(i) for i in range(len(requests)))
    assert all(requests[int(name)][4] is not None for name in run.gave_up)
    assert left == 0
    # Wherever between its start and its answer the server saw each request, no span
    # shorter than ``per`` of the server's clock holds more than ``limit`` of them.
    seen = sorted(
        run.when(name) + requests[int(name)][3] * (run.released[name] - run.when(name))
        for name in run.order
    )
    assert all(
        later - earlier >= per - 1e-9 for earlier, later in zip(seen, seen[limit:], strict=False)
    )
    # The limiter's own count: each request is counted from its start until ``per +
    # margin`` after its answer, and never more than ``limit`` are counted at once.
    spans = [(run.when(name), run.released[name] + window) for name in run.order]
    for start, _ in spans:
        assert sum(1 for s, end in spans if s <= start < end) <= limit
    assert max((counted for _, _, counted in run.granted), default=0) <= limit
    # First come, first served within a priority (aging keeps the order of arrival).
    for level in Priority:
        mine = {str(i) for i, request in enumerate(requests) if request[1] is level}
        served = set(run.order)
        assert [n for n in run.order if n in mine] == [
            n for n in run.arrived if n in mine and n in served
        ]
