"""Seeded call traffic: arrivals, agents answering queued calls, and calls ending (the pace
and the staffing they keep are stated in ``_simulator``'s docstring)."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from datetime import datetime

from ._factory import RecordFactory
from ._model import AccountProduct, Agent, Call, epoch_ms
from ._state import AccountState

# Shares of new arrivals by product kind; the rest go to IVRs, cloud profiles and trac numbers.
_ACD_SHARE = 0.5
_OUTBOUND_SHARE = 0.2

#: A taken call rings its agent for this share of a mean call on average, at most the cap:
#: the time callers wait scales with the calls, so waiting stays a few percent of them.
RING_SHARE = 1 / 12
RING_CAP_SECONDS = 30.0


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count (Knuth's method when small, a normal approximation when large)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


class Traffic:
    """Advances an account's clock: Poisson arrivals, FIFO answering, exponential call ends.

    Every call ends with the same chance per second (mean ``mean_call_seconds``), waiting or
    not, and every arrival is placed, so the number of calls drifts towards ``arrival_rate *
    mean_call_seconds`` and then stays around it.
    """

    def __init__(
        self,
        state: AccountState,
        *,
        seed: int,
        arrival_rate: float,
        mean_call_seconds: float,
    ) -> None:
        self.state = state
        self.arrival_rate = arrival_rate
        self.mean_call_seconds = mean_call_seconds
        # Its own stream, so traffic does not depend on how the account was built.
        self.rng = random.Random(f"traffic:{seed}")
        # A pool no bigger than the seeded one's prefix, so new calls share CRM ids with old.
        self.factory = RecordFactory(self.rng, pool_size=max(300, min(len(state), 3000)))
        #: The mean time a taken call rings its agent before it is answered.
        self.ring_seconds = min(mean_call_seconds * RING_SHARE, RING_CAP_SECONDS)
        # Ringing calls and when each is answered; the heap finds the next one due, the
        # dict says which heap entry is current (a call can be taken again after a requeue).
        self._ringing: dict[Call, int] = {}
        self._rings: list[tuple[int, int, Call]] = []
        self._next_arrival_ms = state.now_ms + self._gap_ms()

    def _gap_ms(self) -> float:
        if self.arrival_rate <= 0:
            return math.inf
        return self.rng.expovariate(self.arrival_rate) * 1000

    def run_until(self, now_ms: int, *, tick: float) -> None:
        """Run the traffic up to the moment ``now_ms`` (nothing when the clock is already there)."""
        if now_ms > self.state.now_ms:
            self.advance((now_ms - self.state.now_ms) / 1000, tick=tick)

    def advance(self, seconds: float, *, tick: float) -> None:
        """Move the clock forward, stepping at most ``tick`` seconds at a time."""
        remaining = round(seconds * 1000)
        step = max(1, round(tick * 1000))
        while remaining > 0:
            delta = min(step, remaining)
            self._step(delta)
            remaining -= delta

    def _step(self, delta_ms: int) -> None:
        state = self.state
        end = state.now_ms + delta_ms
        self._end_calls(delta_ms)
        while self._next_arrival_ms <= end:
            state.now_ms = max(state.now_ms, math.floor(self._next_arrival_ms))
            self._arrive()
            self._next_arrival_ms += self._gap_ms()
        state.now_ms = end
        self.answer_waiting()

    def _end_calls(self, delta_ms: int) -> None:
        """End each call with the chance an exponential lifetime ends within the step."""
        calls = self.state.all_calls()
        if not calls or self.mean_call_seconds <= 0:
            return
        chance = -math.expm1(-delta_ms / 1000 / self.mean_call_seconds)
        count = min(len(calls), poisson(self.rng, len(calls) * chance))
        if count:
            ending = [calls[index] for index in self.rng.sample(range(len(calls)), count)]
            for call in ending:
                self.state.remove(call)

    def _arrive(self) -> None:
        state = self.state
        draw = self.rng.random()
        if draw < _ACD_SHARE and state.queues:
            self._inbound(self.factory.pick(state.queues), queued=True)
        elif draw < _ACD_SHARE + _OUTBOUND_SHARE and state.campaigns:
            if not self._outbound(self.factory.pick(state.campaigns)) and state.queues:
                # Every arrival lands somewhere, so the population settles where the arrival
                # rate and the mean call length put it (rate x length), busy agents or not.
                self._inbound(self.factory.pick(state.queues), queued=True)
        else:
            others = [*state.ivrs, *state.cloud_profiles, *state.trac_numbers]
            if others:
                self._inbound(self.factory.pick(others), queued=False)

    def _new_call(
        self, product: AccountProduct, dnis: str, ani: str, cnam: str, state: str
    ) -> Call:
        now = self.state.now_ms
        return Call(
            seq=self.state.next_seq,
            enqueue_ms=now,
            dequeue_ms=None if state == "QUEUED" else now,
            product=product,
            dnis=dnis,
            ani=ani,
            cnam=cnam,
            external_id=self.factory.external_id(),
            destination_name=product.name,
            state=state,
            archive=False,
        )

    def _inbound(self, product: AccountProduct, *, queued: bool) -> None:
        ani, cnam = self.factory.caller()
        dnis = self.factory.pick(product.dnis)
        self.state.add(self._new_call(product, dnis, ani, cnam, "QUEUED" if queued else "ACTIVE"))

    def _outbound(self, campaign: AccountProduct) -> bool:
        """Dial for ``campaign``; False when no agent is free (a predictive dialer then waits)."""
        agent = self._free_agent(self.state.agents)
        if agent is None:
            return False
        ani, cnam = self.factory.caller()
        call = self._new_call(campaign, campaign.caller_id or "", ani, cnam, "ACTIVE")
        self.state.add(call)
        self.state.answer(call, agent)
        return True

    def place(
        self,
        *,
        product: str,
        product_id: int | None,
        call_state: str | None,
        agent: str | None,
        ani: str | None,
        cnam: str | None,
        external_id: str | None,
        enqueue_time: datetime | int | None,
        archive: bool,
    ) -> Call:
        """Add one call as a test describes it; unspecified fields are drawn from the seed."""
        state = self.state
        routed = state.route(product, product_id)
        if routed is None:
            raise ValueError(f"no {product} product with id {product_id!r}")
        target, dnis = routed
        handler: Agent | None = None
        if agent is not None:
            handler = state.agents_by_username.get(agent.lower())
            if handler is None:
                raise ValueError(f"no agent with username {agent!r}")
        if call_state is None:
            call_state = "QUEUED" if handler is None and target.kind == "ACD" else "ACTIVE"
        drawn_ani, drawn_cnam = self.factory.caller()
        enqueue = state.now_ms if enqueue_time is None else epoch_ms(enqueue_time)
        call = Call(
            seq=state.next_seq,
            enqueue_ms=enqueue,
            dequeue_ms=None if call_state == "QUEUED" else max(enqueue, state.now_ms),
            product=target,
            dnis=dnis,
            ani=drawn_ani if ani is None else ani,
            cnam=drawn_cnam if cnam is None else cnam,
            external_id=self.factory.external_id() if external_id is None else external_id,
            destination_name=target.name,
            state=call_state,
            archive=archive,
        )
        state.add(call)
        if handler is not None:
            call.agent = handler
            call.first_name, call.last_name = handler.first_name, handler.last_name
            handler.active_calls += 1
        return call

    def answer_waiting(self) -> None:
        """Answer the calls that have rung long enough, then give each waiting call, oldest
        first, to a free agent of its queue (where it rings)."""
        self._answer_rung()
        state = self.state
        exhausted: set[int] = set()
        for call in state.queued:
            product = call.product
            if call.agent is not None or product is None or product.kind != "ACD":
                continue  # ringing already, or waiting where no agent answers
            if product.product_id in exhausted:
                continue
            agent = self._free_agent(state.queue_members.get(product.product_id, ()))
            if agent is None:
                exhausted.add(product.product_id)
                if len(exhausted) == len(state.queues):
                    return
                continue
            state.offer(call, agent)
            spread = 0.5 + self.rng.random()  # between half and one and a half of the mean
            due = state.now_ms + max(1, round(self.ring_seconds * spread * 1000))
            self._ringing[call] = due
            heapq.heappush(self._rings, (due, call.seq, call))

    def _answer_rung(self) -> None:
        """Connect each call whose ring is over to the agent it rang."""
        rings, ringing, now = self._rings, self._ringing, self.state.now_ms
        while rings and rings[0][0] <= now:
            due, _, call = heapq.heappop(rings)
            if ringing.get(call) != due:
                continue  # taken again since: a later entry stands for it
            del ringing[call]
            agent = call.agent
            # An ended or requeued call has let its agent go; a test may have changed it.
            if agent is not None and call.state == "QUEUED":
                self.state.answer(call, agent)

    def _free_agent(self, pool: Sequence[Agent]) -> Agent | None:
        """A free agent of ``pool``, looked for from a random place (so no agent is always
        first, and a mostly busy pool is searched only until the first free one)."""
        count = len(pool)
        start = int(self.rng.random() * count) if count else 0
        for offset in range(count):
            agent = pool[(start + offset) % count]
            if agent.available:
                return agent
        return None
