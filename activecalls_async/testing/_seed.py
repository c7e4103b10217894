"""Build a seeded account: products, agents and the calls already in flight.

Unless told the roster's size, the centre is staffed for its calls as ``_simulator``'s
docstring states; each seeded call that has an agent has one of its own.
"""

from __future__ import annotations

import math
import random

from ._factory import FIRST_NAMES, LAST_NAMES, RecordFactory
from ._model import AccountProduct, Agent, Call, DnisNumber
from ._state import AccountState

#: The share of calls that need an agent: ACD (half of all calls) and outbound (a fifth).
AGENT_CALL_SHARE = 0.7
#: The share of ready agents that are on a call when the centre is staffed for its traffic.
OCCUPANCY = 0.85
#: Roster shares by presence: logged out below the first, logged in but not ready below
#: the second, ready above it.
_OFFLINE, _NOT_READY = 0.15, 0.25
#: Even a tiny account has this many agents, so that every presence is represented.
MIN_AGENTS = 24


def staffed_for(calls: int) -> int:
    """The roster that keeps a centre with ``calls`` in flight answering its queues."""
    ready = calls * AGENT_CALL_SHARE / OCCUPANCY
    return max(MIN_AGENTS, math.ceil(ready / (1 - _NOT_READY)))


#: Seeded calls were enqueued within this long before the clock's start.
_WINDOW_MS = 3_600_000

#: The first ACD queue and its first DNIS are fixed so examples and docs can name them.
FIRST_QUEUE_ID = 55
FIRST_DNIS = "8661234567"

_QUEUE_NAMES = (
    "Sales", "Support", "Billing", "Retention", "Tech Support", "Spanish Line", "VIP",
    "Claims", "Renewals", "Onboarding",
)  # fmt: skip
_CAMPAIGNS = ("Renewals Outreach", "Winback", "Survey Callbacks")
_IVRS = ("Main Menu IVR", "After Hours IVR")
_CLOUD_PROFILES = ("Overflow Partner", "Answering Service")
_TRAC_NUMBERS = ("Billboard Ad", "Radio Spot")


def _numbering(factory: RecordFactory) -> list[str]:
    """Return 64 unique toll-free numbers, the first being :data:`FIRST_DNIS`."""
    taken = {FIRST_DNIS}
    numbers = [FIRST_DNIS]
    while len(numbers) < 64:
        number = factory.toll_free_number()
        if number not in taken:
            taken.add(number)
            numbers.append(number)
    return numbers


def _products(
    factory: RecordFactory, queue_count: int
) -> tuple[
    list[AccountProduct],
    list[AccountProduct],
    list[AccountProduct],
    list[AccountProduct],
    list[AccountProduct],
]:
    queues = [
        AccountProduct(
            kind="ACD",
            product_id=FIRST_QUEUE_ID + index,
            name=f"{_QUEUE_NAMES[index % len(_QUEUE_NAMES)]} Queue"
            + (f" {index // len(_QUEUE_NAMES) + 1}" if index >= len(_QUEUE_NAMES) else ""),
        )
        for index in range(queue_count)
    ]
    campaigns = [
        AccountProduct(
            kind="OUTBOUND", product_id=101 + i, name=name, caller_id=factory.local_number()
        )
        for i, name in enumerate(_CAMPAIGNS)
    ]
    ivrs = [
        AccountProduct(kind="VISUAL_IVR", product_id=201 + i, name=n) for i, n in enumerate(_IVRS)
    ]
    clouds = [
        AccountProduct(kind="CLOUD_PROFILE", product_id=301 + i, name=name)
        for i, name in enumerate(_CLOUD_PROFILES)
    ]
    tracs = [
        AccountProduct(kind="TRAC_NUMBER", product_id=401 + i, name=name)
        for i, name in enumerate(_TRAC_NUMBERS)
    ]
    return queues, campaigns, ivrs, clouds, tracs


def _agents(rng: random.Random, count: int, queue_ids: list[int]) -> list[Agent]:
    random_ = rng.random  # a roster may hold hundreds of thousands: draws kept cheap
    queues = len(queue_ids)
    names = [
        (first, last, f"{first}.{last}".lower()) for first in FIRST_NAMES for last in LAST_NAMES
    ]
    # Agents share their tuple of queues: there are few distinct ones, and many agents.
    served_by: dict[frozenset[int], tuple[int, ...]] = {}
    repeats = [0] * len(names)
    agents: list[Agent] = []
    for index in range(count):
        at = int(random_() * len(names))
        first, last, handle = names[at]
        repeats[at] += 1
        if repeats[at] > 1:
            handle += str(repeats[at])
        draw = random_()
        # Every queue gets staff: agent i always serves queue i mod n, plus up to two more.
        served = {queue_ids[index % queues]}
        for _ in range(int(random_() * 3)):
            served.add(queue_ids[int(random_() * queues)])
        key = frozenset(served)
        queue_tuple = served_by.get(key)
        if queue_tuple is None:
            queue_tuple = served_by[key] = tuple(sorted(served))
        agents.append(
            Agent(
                agent_id=1001 + index,
                username=f"{handle}@example.com",
                first_name=first,
                last_name=last,
                online=draw >= _OFFLINE,
                ready=draw >= _NOT_READY,
                queue_ids=queue_tuple,
            )
        )
    return agents


def build_state(
    *, calls: int, seed: int, account_id: str, now_ms: int, agents: int | None = None
) -> AccountState:
    """Build the account for a seed as it stands at ``now_ms``: the same seed always gives the
    same agents and calls, their times relative to ``now_ms`` (so uiis, which carry the
    enqueue second, are the same only for the same ``now_ms``). ``agents`` is the roster's
    size (default: :func:`staffed_for` ``calls``)."""
    rng = random.Random(seed)
    factory = RecordFactory(rng, pool_size=calls)
    queues, campaigns, ivrs, clouds, tracs = _products(factory, 6 + min(calls // 50_000, 14))
    numbers = iter(_numbering(factory))
    dnis_numbers: list[DnisNumber] = []
    for product in [*queues, *queues, *ivrs, *clouds, *tracs]:
        number = next(numbers)
        product.dnis.append(number)
        dnis_numbers.append(DnisNumber(number=number, target=product))
    roster = staffed_for(calls) if agents is None else agents
    state = AccountState(
        account_id=account_id,
        agents=_agents(rng, roster, [q.product_id for q in queues]),
        queues=queues,
        campaigns=campaigns,
        ivrs=ivrs,
        cloud_profiles=clouds,
        trac_numbers=tracs,
        dnis_numbers=dnis_numbers,
        now_ms=now_ms,
    )
    state.load(_seed_calls(rng, factory, state, calls))
    return state


class _FreeAgents:
    """The ready agents not yet given a seeded call, drawn at random per queue or overall."""

    def __init__(self, rng: random.Random, state: AccountState) -> None:
        self.random = rng.random
        ready = [agent for agent in state.agents if agent.online and agent.ready]
        self.everyone = ready
        self.by_queue: dict[int, list[Agent]] = {queue.product_id: [] for queue in state.queues}
        for agent in ready:
            for queue_id in agent.queue_ids:
                self.by_queue[queue_id].append(agent)

    def take(self, pool: list[Agent]) -> Agent | None:
        """A random free agent of ``pool``, now busy; None when the pool has none left.

        Agents sit in several pools, so one taken through another pool is found busy here
        and swapped out then: each draw is amortised constant time.
        """
        while pool:
            at = int(self.random() * len(pool))
            agent = pool[at]
            pool[at] = pool[-1]
            pool.pop()
            if agent.active_calls == 0:
                agent.active_calls = 1
                return agent
        return None


def _seed_calls(
    rng: random.Random, factory: RecordFactory, state: AccountState, count: int
) -> list[Call]:
    now = state.now_ms
    random_ = rng.random
    free = _FreeAgents(rng, state)
    # Each queue's oldest waiting call is 20-240 s old; newer ACD calls are still queued.
    cutoff = {q.product_id: now - int(rng.uniform(20, 240) * 1000) for q in state.queues}
    others = [*state.ivrs, *state.cloud_profiles, *state.trac_numbers]
    enqueues = sorted(now - 1 - int(random_() * _WINDOW_MS) for _ in range(count))
    calls: list[Call] = []
    # Oldest first, as agents took them: when agents run short, the newest calls wait.
    for seq, enqueue in enumerate(enqueues, start=1):
        draw = random_()
        ani, cnam = factory.caller()
        agent: Agent | None = None
        dequeue: int | None
        if draw < 0.5:
            product = state.queues[int(random_() * len(state.queues))]
            dnis = factory.pick(product.dnis)
            if enqueue < cutoff[product.product_id]:
                agent = free.take(free.by_queue[product.product_id])
            if agent is None:
                dequeue, call_state = None, "QUEUED"
            else:
                dequeue = min(now, enqueue + int(random_() * 120_000))
                call_state = "ACTIVE"
        elif draw < 0.7:
            product = state.campaigns[int(random_() * len(state.campaigns))]
            dnis = product.caller_id or ""
            dequeue = min(now, enqueue + int(random_() * 20_000))
            agent = free.take(free.everyone)
            # Ringing: the dialler is still reaching the customer (or, with no agent free,
            # waiting to connect one).
            call_state = "RINGING" if agent is None or random_() < 0.1 else "ACTIVE"
        else:
            product = others[int(random_() * len(others))]
            dnis = product.dnis[0]
            dequeue = min(now, enqueue + int(random_() * 5_000))
            call_state = "ACTIVE"
        call = Call(
            seq=seq,
            enqueue_ms=enqueue,
            dequeue_ms=dequeue,
            product=product,
            dnis=dnis,
            ani=ani,
            cnam=cnam,
            external_id=factory.external_id(),
            destination_name=product.name,
            state=call_state,
            archive=random_() < 0.05,
            recording=random_() < 0.9,
        )
        if agent is not None:
            call.agent = agent
            call.first_name = agent.first_name
            call.last_name = agent.last_name
        calls.append(call)
    return calls
