"""The account model: agents, products and calls in flight, with ordered listings (no I/O)."""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from ._model import (
    RESULT_PRODUCTS,
    AccountProduct,
    Agent,
    Call,
    Disposition,
    DnisNumber,
    Session,
    epoch_ms,
    phone_key,
)

#: Fields :meth:`AccountState.edit` accepts, mapped to the Call attribute they set.
EDITABLE = {
    "call_state": "state",
    "archive": "archive",
    "agent_first_name": "first_name",
    "agent_last_name": "last_name",
    "external_id": "external_id",
    "cnam": "cnam",
    "destination_name": "destination_name",
    "ani": "ani",
    "dequeue_time": "dequeue_ms",
    "recording": "recording",
}

ListKey: TypeAlias = tuple[str, int | None]

#: The newest dispositions kept (a long-running simulator must not keep every one).
DISPOSITIONS_KEPT = 10_000

# Ended calls at the front of the by-sequence index are cut off once there are this many
# and they fill half of it: memory follows the calls in flight, not every call ever seen.
_TRIM_AT = 1024

_EMPTY: tuple[Call, ...] = ()


def _order(call: Call) -> tuple[int, int]:
    """The listing order: by enqueue time, then uii (which, within one enqueue time, is the
    sequence number's order: the uii is the enqueue second then the zero-padded number)."""
    return call.enqueue_ms, call.seq


class AccountState:
    """One account's agents, products and live calls, kept in listing order per product."""

    def __init__(
        self,
        *,
        account_id: str,
        agents: list[Agent],
        queues: list[AccountProduct],
        campaigns: list[AccountProduct],
        ivrs: list[AccountProduct],
        cloud_profiles: list[AccountProduct],
        trac_numbers: list[AccountProduct],
        dnis_numbers: list[DnisNumber],
        now_ms: int,
    ) -> None:
        self.account_id = account_id
        self.account_number = int(account_id)
        self.agents = agents
        self.queues = queues
        self.campaigns = campaigns
        self.ivrs = ivrs
        self.cloud_profiles = cloud_profiles
        self.trac_numbers = trac_numbers
        self.dnis_numbers = dnis_numbers
        #: Simulated wall clock, epoch milliseconds; moves only when the traffic advances it.
        self.now_ms = now_ms
        #: Dispositions by uii, kept after the call ends as a CRM record would be (the
        #: newest :data:`DISPOSITIONS_KEPT`).
        self.dispositions: dict[str, Disposition] = {}
        self.dnis_by_number = {dnis.number: dnis for dnis in dnis_numbers}
        self.queue_members: dict[int, list[Agent]] = {queue.product_id: [] for queue in queues}
        for agent in agents:
            for queue_id in agent.queue_ids:
                self.queue_members[queue_id].append(agent)
        self._lists: dict[ListKey, list[Call]] = {("ACCOUNT", self.account_number): []}
        # Calls by sequence number, the first slot being ``_first_seq``; an ended call
        # leaves None behind until the ended ones at the front are cut off.
        self._by_seq: list[Call | None] = [None]
        self._first_seq = 0
        self._front = 0  # no live call sits before this slot
        #: Calls waiting for an agent, oldest first.
        self.queued: list[Call] = []
        self._session_ids = itertools.count(1)

    # -- reading ---------------------------------------------------------------------------

    @functools.cached_property
    def agents_by_username(self) -> dict[str, Agent]:
        """Agents by lower-cased username (built on first use: a roster can be large)."""
        return {agent.username.lower(): agent for agent in self.agents}

    @property
    def next_seq(self) -> int:
        """The sequence number the next new call will get."""
        return self._first_seq + len(self._by_seq)

    def __len__(self) -> int:
        return len(self._lists[("ACCOUNT", self.account_number)])

    def all_calls(self) -> Sequence[Call]:
        """Every live call in listing order (the ACCOUNT listing; do not mutate)."""
        return self._lists[("ACCOUNT", self.account_number)]

    def listing(self, product: str, product_id: int | None) -> Sequence[Call]:
        """The calls a product listing shows, in listing order (do not mutate the result)."""
        if product not in RESULT_PRODUCTS:
            return _EMPTY
        if product == "ACCOUNT":
            if product_id not in (None, self.account_number):
                return _EMPTY
            return self.all_calls()
        return self._lists.get((product, product_id), _EMPTY)

    def get(self, uii: str) -> Call | None:
        """The live call with this uii, or None when it is unknown or ended."""
        if len(uii) != 30 or not (uii.isascii() and uii.isdigit()):
            return None
        index = int(uii[14:]) - self._first_seq
        if not 0 <= index < len(self._by_seq):
            return None
        call = self._by_seq[index]
        if call is None or call.uii != uii:
            return None
        return call

    def targets(self) -> list[tuple[str, int]]:
        """Every (product, productId) with calls; ACCOUNT first, then by product and id."""
        keyed = sorted(
            (product, product_id)
            for (product, product_id), calls in self._lists.items()
            if product != "ACCOUNT" and product_id is not None and calls
        )
        return [("ACCOUNT", self.account_number), *keyed]

    def available_agents(self) -> list[Agent]:
        """Agents who can take a call now."""
        return [agent for agent in self.agents if agent.available]

    def queue_for_number(self, number: str) -> AccountProduct | None:
        """The ACD queue a DNIS routes to, or None when the number routes to no queue."""
        dnis = self.dnis_by_number.get(phone_key(number))
        if dnis is None or dnis.target.kind != "ACD":
            return None
        return dnis.target

    def queue_depth(self, queue: AccountProduct) -> tuple[int, float]:
        """The number of calls waiting in a queue and the oldest one's wait in seconds."""
        waiting = [call for call in self.queued if call.product is queue]
        if not waiting:
            return 0, 0.0
        return len(waiting), max(0.0, (self.now_ms - waiting[0].enqueue_ms) / 1000)

    def agents_ready_for(self, queue: AccountProduct) -> int:
        """How many agents of a queue are available now."""
        return sum(1 for agent in self.queue_members.get(queue.product_id, ()) if agent.available)

    def route(self, product: str, product_id: int | None) -> tuple[AccountProduct, str] | None:
        """The product and DNIS a new call for (product, productId) would take; None if none.

        ``product_id=None`` means the first product of that kind; for ``DNIS`` it names the
        number, and the call goes to whatever that number routes to.
        """
        if product == "DNIS":
            numbers = self.dnis_numbers
            if product_id is not None:
                numbers = [dnis for dnis in numbers if dnis.product_id == product_id]
            return (numbers[0].target, numbers[0].number) if numbers else None
        kinds = {
            "ACD": self.queues,
            "OUTBOUND": self.campaigns,
            "VISUAL_IVR": self.ivrs,
            "CLOUD_PROFILE": self.cloud_profiles,
            "TRAC_NUMBER": self.trac_numbers,
        }
        candidates = [
            item
            for item in kinds.get(product, [])
            if product_id is None or item.product_id == product_id
        ]
        if not candidates:
            return None
        chosen = candidates[0]
        dnis = (chosen.caller_id or "") if chosen.kind == "OUTBOUND" else chosen.dnis[0]
        return chosen, dnis

    def edit(self, call: Call, changes: dict[str, Any]) -> None:
        """Change a call's fields (names as in :data:`EDITABLE`); listing order is kept."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise TypeError(f"cannot update {', '.join(unknown)}; editable: {sorted(EDITABLE)}")
        for name, value in changes.items():
            if name == "dequeue_time" and isinstance(value, (datetime, int)):
                value = epoch_ms(value)
            setattr(call, EDITABLE[name], value)
        self.set_queued(call, call.state == "QUEUED")

    # -- indexing --------------------------------------------------------------------------

    def _keys(self, call: Call) -> list[ListKey]:
        keys: list[ListKey] = [("ACCOUNT", self.account_number)]
        product = call.product
        if product is not None:
            keys += [(product.kind, None), (product.kind, product.product_id)]
            if call.inbound:
                keys += [("DNIS", None), ("DNIS", int(call.dnis))]
        return keys

    def load(self, calls: Iterable[Call]) -> None:
        """Bulk-add calls already in listing order with consecutive sequence numbers."""
        lists = self._lists
        by_seq = self._by_seq
        for call in calls:
            by_seq.append(call)
            for key in self._keys(call):
                bucket = lists.get(key)
                if bucket is None:
                    lists[key] = [call]
                else:
                    bucket.append(call)
            if call.state == "QUEUED":
                self.queued.append(call)

    def add(self, call: Call) -> None:
        """Add a new call (its seq must be :attr:`next_seq`) to every listing it belongs in."""
        if call.seq != self.next_seq:
            raise ValueError(f"expected seq {self.next_seq}, got {call.seq}")
        self._by_seq.append(call)
        self._list(call)

    def _list(self, call: Call) -> None:
        """Put a call into every listing it belongs in (and the waiting list if queued)."""
        order = _order(call)
        for key in self._keys(call):
            bucket = self._lists.setdefault(key, [])
            # New calls normally sort last; insort only when given an earlier enqueue time.
            if not bucket or _order(bucket[-1]) <= order:
                bucket.append(call)
            else:
                bisect.insort(bucket, call, key=_order)
        if call.state == "QUEUED":
            self._enqueue(call)

    def _enqueue(self, call: Call) -> None:
        if not self.queued or _order(self.queued[-1]) <= _order(call):
            self.queued.append(call)
        else:
            bisect.insort(self.queued, call, key=_order)

    def remove(self, call: Call) -> None:
        """Take a call out of every listing and free its agent."""
        self._unlist(call)
        self._by_seq[call.seq - self._first_seq] = None
        self._forget_ended()
        self.release_agent(call)

    def _forget_ended(self) -> None:
        """Cut the ended calls off the front of the by-sequence index, now and then (each
        cut moves the rest once: amortised constant time per call)."""
        by_seq, front = self._by_seq, self._front
        while front < len(by_seq) and by_seq[front] is None:
            front += 1
        if front >= _TRIM_AT and front * 2 >= len(by_seq):
            del by_seq[:front]
            self._first_seq += front
            front = 0
        self._front = front

    def _unlist(self, call: Call) -> None:
        """Take a call out of every listing and the waiting list."""
        order = _order(call)
        for key in self._keys(call):
            bucket = self._lists[key]
            index = bisect.bisect_left(bucket, order, key=_order)
            del bucket[index]
            if not bucket and key[0] != "ACCOUNT":
                del self._lists[key]
        if call in self.queued:
            self.queued.remove(call)

    def release_agent(self, call: Call) -> None:
        """Detach the call's agent, who becomes free when this was their last call."""
        agent = call.agent
        if agent is not None:
            agent.active_calls = max(0, agent.active_calls - 1)
            call.agent = None

    def offer(self, call: Call, agent: Agent) -> None:
        """Ring an agent with a waiting call: the agent is taken, the call still waits."""
        self.release_agent(call)
        call.agent = agent
        agent.active_calls += 1

    def answer(self, call: Call, agent: Agent) -> None:
        """Connect a waiting call (or one ringing this agent) to the agent now."""
        if call in self.queued:
            self.queued.remove(call)
        call.dequeue_ms = self.now_ms
        call.state = "ACTIVE"
        if call.agent is not agent:
            self.release_agent(call)
            call.agent = agent
            agent.active_calls += 1
        call.first_name = agent.first_name
        call.last_name = agent.last_name

    def set_queued(self, call: Call, queued: bool) -> None:
        """Keep the waiting list in step with a call's state after an edit."""
        if queued and call not in self.queued:
            self.release_agent(call)  # a waiting call holds no agent
            self._enqueue(call)
        elif not queued and call in self.queued:
            self.queued.remove(call)

    # -- actions (the API's effects) ---------------------------------------------------------

    def add_session(self, call: Call, phone: str, session_type: str) -> Session | None:
        """Add (or re-type, keeping its id) a supervisor session; only a call with an agent
        can take one (None otherwise)."""
        if call.first_name is None:
            return None
        if call.sessions is None:
            call.sessions = {}
        key = phone_key(phone)
        known = call.sessions.get(key)
        session_id = known.session_id if known is not None else str(next(self._session_ids))
        session = Session(phone=phone, session_type=session_type, session_id=session_id)
        call.sessions[key] = session
        return session

    def hangup_session(self, call: Call, phone: str) -> bool:
        """End the session on that phone; False when the call has no such session."""
        if not call.sessions or phone_key(phone) not in call.sessions:
            return False
        del call.sessions[phone_key(phone)]
        return True

    def hangup_session_by_id(self, call: Call, session_id: str) -> bool:
        """End the session with that id; False when the call has no such session."""
        sessions = call.sessions or {}
        for key, session in sessions.items():
            if session.session_id == session_id:
                del sessions[key]
                return True
        return False

    def set_hold(self, call: Call, hold: bool) -> bool:
        """Hold (callState ``HOLD``) or resume (``ACTIVE``) a call an agent is on.

        Setting the state it already has changes nothing; a call waiting in queue or
        not in ``ACTIVE``/``HOLD`` cannot be held (False).
        """
        if call.agent is None and call.first_name is None:
            return False
        if call.state not in ("ACTIVE", "HOLD"):
            return False
        call.state = "HOLD" if hold else "ACTIVE"
        return True

    def gate(self, gate_id: int) -> AccountProduct | None:
        """The ACD queue (gate) with this id, or None."""
        return next((queue for queue in self.queues if queue.product_id == gate_id), None)

    def requeue(self, call: Call, gate: AccountProduct) -> bool:
        """Send a call back to wait in ``gate``: it leaves its agent and its old listings
        and is listed (``QUEUED``) under the gate's ACD listing, keeping its uii."""
        self._unlist(call)
        self.release_agent(call)
        call.product = gate
        call.destination_name = gate.name
        call.state = "QUEUED"
        call.dequeue_ms = None
        call.first_name = call.last_name = None
        self._list(call)
        return True

    def set_recording(self, call: Call, record: bool) -> bool:
        """Switch recording on or off."""
        call.recording = record
        return True

    def disposition(self, call: Call, disposition: Disposition) -> bool:
        """Record a disposition; only a call an agent handled can be dispositioned."""
        if call.first_name is None:
            return False
        self.dispositions.pop(call.uii, None)  # the newest go last, the oldest first out
        self.dispositions[call.uii] = disposition
        if len(self.dispositions) > DISPOSITIONS_KEPT:
            del self.dispositions[next(iter(self.dispositions))]
        return True

    def hangup(self, call: Call) -> bool:
        """End the call."""
        self.remove(call)
        return True

    def manual_call(self, username: str, destination: str, caller_id: str) -> Call | None:
        """Dial out for an available agent; None when the agent is unknown or not available."""
        agent = self.agents_by_username.get(username.lower())
        if agent is None or not agent.available:
            return None
        call = Call(
            seq=self.next_seq,
            enqueue_ms=self.now_ms,
            dequeue_ms=self.now_ms,
            product=None,
            dnis=phone_key(destination),
            ani=phone_key(caller_id),
            cnam="",
            external_id="",
            destination_name="Manual Outbound",
            state="ACTIVE",
            archive=False,
        )
        self.add(call)
        self.answer(call, agent)
        return call
