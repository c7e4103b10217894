"""A local RingCX Active Calls server for tests, demos and benchmarks.

``Simulator`` serves the thirteen Active Calls operations, the accounts listing and a
``users`` stub of the wider admin API (under ``/voice`` and the legacy
bare prefix) and the RingCentral/RingCX login endpoints from a seeded account, with
optional live traffic, a sliding-window rate limit and injectable ``Faults``.

What it received and did is kept in a bounded journal, so that a simulator serving for
days holds bounded memory: ``sim.requests`` (each :class:`RecordedRequest`, filled in when
its response is settled) and ``sim.effects`` (each :class:`Effect`) are
:class:`RecordLog` views holding the newest ``journal_size`` entries each (10,000 by
default; ``Simulator(journal_size=None)`` keeps every one), oldest first, the oldest
dropped to make room. They read as lists (``len``, ``[-1]``, slices, iteration,
``== []``); ``sim.requests.total`` and ``sim.effects.total`` count every entry since the
simulator was made or ``sim.reset_counters()`` cleared them, dropped or not (``dropped``
says how many were). ``sim.effect_count()`` counts among the effects still held. A request
whose entry was dropped while it was in flight is counted but not recorded again.
"""

from ._faults import API_OPERATIONS, FAULT_KINDS, Faults
from ._model import AccountProduct, Agent, Call, Disposition, DnisNumber, Session
from ._records import Effect, RecordedRequest, RecordLog
from ._simulator import Simulator
from ._state import AccountState

__all__ = [
    "API_OPERATIONS",
    "FAULT_KINDS",
    "AccountProduct",
    "AccountState",
    "Agent",
    "Call",
    "Disposition",
    "DnisNumber",
    "Effect",
    "Faults",
    "RecordLog",
    "RecordedRequest",
    "Session",
    "Simulator",
]
