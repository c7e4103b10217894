"""A local RingCX Active Calls server for tests, demos and benchmarks.

``Simulator`` serves the thirteen Active Calls operations, the accounts listing and a
``users`` stub of the wider admin API (under ``/voice`` and the legacy
bare prefix) and the RingCentral/RingCX login endpoints from a seeded account, with
optional live traffic, a sliding-window rate limit and injectable ``Faults``.
"""

from ._faults import API_OPERATIONS, FAULT_KINDS, Faults
from ._model import AccountProduct, Agent, Call, Disposition, DnisNumber, Session
from ._records import Effect, RecordedRequest
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
    "RecordedRequest",
    "Session",
    "Simulator",
]
