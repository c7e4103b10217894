"""Build a seeded account: products, agents and the calls already in flight."""

from __future__ import annotations

import random

from ._factory import FIRST_NAMES, LAST_NAMES, RecordFactory
from ._model import AccountProduct, Agent, Call, DnisNumber
from ._state import AccountState

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
    agents: list[Agent] = []
    seen: dict[str, int] = {}
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = f"{first}.{last}".lower()
        seen[handle] = seen.get(handle, 0) + 1
        if seen[handle] > 1:
            handle += str(seen[handle])
        draw = rng.random()
        # Every queue gets staff: agent i always serves queue i mod n, plus up to two more.
        queues = {queue_ids[index % len(queue_ids)], *rng.sample(queue_ids, rng.randrange(3))}
        agents.append(
            Agent(
                agent_id=1001 + index,
                username=f"{handle}@example.com",
                first_name=first,
                last_name=last,
                online=draw >= 0.15,
                ready=draw >= 0.25,
                queue_ids=tuple(sorted(queues)),
            )
        )
    return agents


def build_state(*, calls: int, seed: int, account_id: str, now_ms: int) -> AccountState:
    """Build the account for a seed as it stands at ``now_ms``: the same seed always gives the
    same agents and calls, their times relative to ``now_ms`` (so uiis, which carry the
    enqueue second, are the same only for the same ``now_ms``)."""
    rng = random.Random(seed)
    factory = RecordFactory(rng, pool_size=calls)
    queues, campaigns, ivrs, clouds, tracs = _products(factory, 6 + min(calls // 50_000, 14))
    numbers = iter(_numbering(factory))
    dnis_numbers: list[DnisNumber] = []
    for product in [*queues, *queues, *ivrs, *clouds, *tracs]:
        number = next(numbers)
        product.dnis.append(number)
        dnis_numbers.append(DnisNumber(number=number, target=product))
    agents = _agents(rng, min(max(calls // 2, 24), 500), [q.product_id for q in queues])
    state = AccountState(
        account_id=account_id,
        agents=agents,
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


def _staffing(
    rng: random.Random, state: AccountState
) -> tuple[list[Agent], dict[int, list[Agent]]]:
    """Pick the ready agents already on calls; about 40% (at least two) stay available."""
    ready = [agent for agent in state.agents if agent.online and agent.ready]
    rng.shuffle(ready)
    staffed = ready[: max(0, len(ready) - max(2, len(ready) * 2 // 5))]
    by_queue: dict[int, list[Agent]] = {queue.product_id: [] for queue in state.queues}
    for agent in staffed:
        for queue_id in agent.queue_ids:
            by_queue[queue_id].append(agent)
    return staffed, by_queue


def _seed_calls(
    rng: random.Random, factory: RecordFactory, state: AccountState, count: int
) -> list[Call]:
    now = state.now_ms
    random_ = rng.random
    staffed, staffed_by_queue = _staffing(rng, state)
    # Each queue's oldest waiting call is 20-240 s old; newer ACD calls are still queued.
    cutoff = {q.product_id: now - int(rng.uniform(20, 240) * 1000) for q in state.queues}
    others = [*state.ivrs, *state.cloud_profiles, *state.trac_numbers]
    enqueues = sorted(now - 1 - int(random_() * _WINDOW_MS) for _ in range(count))
    calls: list[Call] = []
    for seq, enqueue in enumerate(enqueues, start=1):
        draw = random_()
        ani, cnam = factory.caller()
        agent: Agent | None = None
        dequeue: int | None
        if draw < 0.5:
            product = state.queues[int(random_() * len(state.queues))]
            dnis = factory.pick(product.dnis)
            pool = staffed_by_queue[product.product_id] or staffed
            if enqueue >= cutoff[product.product_id] or not pool:
                dequeue, call_state = None, "QUEUED"
            else:
                agent = factory.pick(pool)
                dequeue = min(now, enqueue + int(random_() * 120_000))
                call_state = "ACTIVE"
        elif draw < 0.7:
            product = state.campaigns[int(random_() * len(state.campaigns))]
            dnis = product.caller_id or ""
            dequeue = min(now, enqueue + int(random_() * 20_000))
            call_state = "RINGING" if random_() < 0.1 else "ACTIVE"
            agent = factory.pick(staffed) if staffed else None
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
            agent.active_calls += 1
        calls.append(call)
    return calls
