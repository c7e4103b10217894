"""What the simulator saw and did: recorded requests and applied effects, in order."""

from __future__ import annotations

import attrs


@attrs.frozen
class RecordedRequest:
    """One request as received; ``status`` is 0 while in flight and for a dropped one."""

    method: str
    path: str
    #: Decoded query pairs in order, as a standard server reads them (a bare ``+`` is a space).
    query: tuple[tuple[str, str], ...]
    #: The query string exactly as it arrived, still percent-encoded.
    raw_query: str
    headers: dict[str, str]
    status: int
    started: float
    finished: float
    operation: str
    fault: str | None = None
    uii: str | None = None
    #: The request body as text (the auth endpoints' forms; empty for the API).
    body: str = ""

    def param(self, name: str) -> str | None:
        """The first decoded value of a query parameter, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None


@attrs.frozen
class Effect:
    """A side effect the simulator actually applied (``kind`` is the operation name)."""

    kind: str
    uii: str | None
    params: dict[str, str]
    at: float


class Journal:
    """Keeps requests in arrival order, filling each in when its response is settled."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.effects: list[Effect] = []

    def arrived(self, record: RecordedRequest) -> int:
        """Log a request on arrival; returns its position for :meth:`settled`."""
        self.requests.append(record)
        return len(self.requests) - 1

    def settled(self, index: int, arrived: RecordedRequest, settled: RecordedRequest) -> None:
        """Replace the arrival entry with its outcome (skipped if the log was cleared since)."""
        if index < len(self.requests) and self.requests[index] is arrived:
            self.requests[index] = settled

    def effect(self, effect: Effect) -> None:
        """Log an applied effect."""
        self.effects.append(effect)

    def clear(self) -> None:
        """Forget every request and effect (in place, so shared references see it)."""
        self.requests.clear()
        self.effects.clear()
