"""What the simulator saw and did: recorded requests and applied effects, in order, the
newest kept in bounded logs (the contract is in :mod:`activecalls_async.testing`)."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

import attrs

_T = TypeVar("_T")

#: How many requests, and how many effects, a simulator keeps unless told otherwise.
JOURNAL_SIZE = 10_000


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


class RecordLog(Sequence[_T]):
    """The newest entries, oldest first: at most :attr:`maxlen` (None: every one), the
    oldest dropped to make room. Read it as a list (``len``, ``[-1]``, slices, iteration,
    ``== []``); :attr:`total` counts every entry since the last :meth:`clear`, dropped or not.
    """

    __slots__ = ("_appended", "_cleared_at", "_entries")

    def __init__(self, maxlen: int | None = JOURNAL_SIZE) -> None:
        if maxlen is not None and maxlen < 0:
            raise ValueError(f"maxlen must not be negative, got {maxlen!r}")
        self._entries: collections.deque[_T] = collections.deque(maxlen=maxlen)
        # Positions since the log was made, never reset: a stale position cannot alias.
        self._appended = 0
        self._cleared_at = 0

    @property
    def maxlen(self) -> int | None:
        """How many entries the log keeps (None: every one)."""
        return self._entries.maxlen

    @property
    def total(self) -> int:
        """Every entry added since the log was made or last cleared, kept or dropped."""
        return self._appended - self._cleared_at

    @property
    def dropped(self) -> int:
        """How many of :attr:`total` were dropped to keep the log within :attr:`maxlen`."""
        return self.total - len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[_T]:
        return iter(self._entries)

    def __reversed__(self) -> Iterator[_T]:
        return reversed(self._entries)

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> list[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | list[_T]:
        if isinstance(index, slice):
            return list(self._entries)[index]
        return self._entries[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordLog):
            return list(self._entries) == list(other._entries)
        if isinstance(other, (list, tuple)):
            return len(other) == len(self._entries) and all(
                mine == theirs for mine, theirs in zip(self._entries, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list is

    def __repr__(self) -> str:
        return f"RecordLog({list(self._entries)!r}, maxlen={self.maxlen!r}, total={self.total})"

    def clear(self) -> None:
        """Forget every entry and restart :attr:`total` (in place: references see it)."""
        self._entries.clear()
        self._cleared_at = self._appended

    def append(self, entry: _T) -> int:
        """Add an entry, dropping the oldest when full; returns its position for :meth:`replace`."""
        self._entries.append(entry)
        self._appended += 1
        return self._appended - 1

    def replace(self, position: int, old: _T, new: _T) -> bool:
        """Put ``new`` where ``old`` was appended at ``position``; False (nothing changed)
        when that entry has been dropped or cleared since."""
        at = position - (self._appended - len(self._entries))
        if 0 <= at < len(self._entries) and self._entries[at] is old:
            self._entries[at] = new
            return True
        return False


class Journal:
    """Keeps requests in arrival order, filling each in when its response is settled."""

    def __init__(self, size: int | None = JOURNAL_SIZE) -> None:
        self.requests: RecordLog[RecordedRequest] = RecordLog(size)
        self.effects: RecordLog[Effect] = RecordLog(size)

    def arrived(self, record: RecordedRequest) -> int:
        """Log a request on arrival; returns its position for :meth:`settled`."""
        return self.requests.append(record)

    def settled(self, position: int, arrived: RecordedRequest, settled: RecordedRequest) -> None:
        """Replace the arrival entry with its outcome (skipped if it was dropped or cleared)."""
        self.requests.replace(position, arrived, settled)

    def effect(self, effect: Effect) -> None:
        """Log an applied effect."""
        self.effects.append(effect)

    def clear(self) -> None:
        """Forget every request and effect and restart their totals (in place)."""
        self.requests.clear()
        self.effects.clear()
