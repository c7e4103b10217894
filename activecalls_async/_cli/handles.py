"""Handles for calls: ``@N``, so that a supervisor can act on the call a view shows
without copying a 30-digit uii, and never on another one.

**The handle table.** A number is given to a uii the first time a view (``activecalls
top``, interactive or plain) shows that call, and it names that uii, and no other, for as
long as the table lives: numbers only grow, and the same call always gets its number
back. There is one table per account and base URL, kept across refreshes and across
runs in the state directory (``$ACTIVECALLS_STATE_DIR``, else
``$XDG_STATE_HOME/activecalls``, else ``~/.local/state/activecalls``), in
``handles-<account id>-<hash of the base URL>.json``, readable by the user only. It holds
uiis, numbers and times, never a credential.

Each refresh of a view marks the calls it listed as live and the calls it no longer lists
as ended: those its own listings had shown (or any call, when it lists the whole
``ACCOUNT``), since a call that moved to a queue this view does not list has not ended.
A call listed again is live again, under its old number. An ended call's handle is
remembered for :data:`ENDED_KEPT` seconds (at most :data:`MAX_ENDED` of them, the oldest
forgotten first); a call no view has listed for :data:`UNSEEN_KEPT` seconds is forgotten.
Numbering starts again at 1 only when the table has nothing left to remember.

**Resolving.** The action commands turn what they are given into a uii before they send
anything: ``@N`` is its call's uii, or is refused with exit status 1 and one line naming
the handle and the uii when that call has ended (nothing is sent); a number never given
is a usage error (exit 2). A shorter run of digits that starts exactly one uii of the
table stands for it (refused the same way when that call has ended); anything else is
passed on as a uii.

**Safety.** Every change takes an exclusive ``flock`` on a lock file beside the table,
reads the table, changes it and replaces the file at once (a temporary file renamed over
it), so two views, or a view and an action command, never lose each other's numbers and
a reader never sees half a file. A view whose table cannot be written (a read-only home)
keeps its numbers in memory and says so; a damaged table is set aside
(``.damaged``) and a new one begun.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._environ import Env
from .failures import Refused, UsageError

try:  # POSIX; elsewhere the atomic replace alone protects readers
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ENDED_KEPT",
    "MAX_ENDED",
    "UNSEEN_KEPT",
    "Entry",
    "HandleTable",
    "state_dir",
]

#: Seconds an ended call's handle is remembered, so ``@N`` for it is refused by name.
ENDED_KEPT = 24 * 3600.0
#: The most ended calls remembered at once (the oldest are forgotten first).
MAX_ENDED = 2000
#: Seconds after which a call no view has listed is forgotten.
UNSEEN_KEPT = 24 * 3600.0

_T = TypeVar("_T")
_HANDLE = re.compile(r"@([0-9]+)")
_FORMAT = 1


def state_dir(environ: Mapping[str, str]) -> Path:
    """Where the handle tables live (see the module docstring)."""
    root = environ.get(Env.STATE_DIR)
    if not root:
        state = environ.get("XDG_STATE_HOME") or os.path.join(
            environ.get("HOME") or str(Path.home()), ".local", "state"
        )
        root = os.path.join(state, "activecalls")
    return Path(root)


@attrs.define
class Entry:
    """One call of the table: its uii, its number, when a view last listed it, when it
    was found ended (None while live), and the listings of the view that last listed it."""

    uii: str
    number: int
    seen: float
    ended: float | None = None
    scope: str = ""

    def record(self) -> dict[str, Any]:
        """The entry as saved."""
        return {
            "uii": self.uii,
            "n": self.number,
            "seen": self.seen,
            "ended": self.ended,
            "scope": self.scope,
        }


@attrs.define
class _State:
    next: int = 1
    entries: dict[str, Entry] = attrs.field(factory=dict)


def _table_name(base_url: str, account_id: str) -> str:
    digest = hashlib.sha256(base_url.encode("utf-8")).hexdigest()[:12]
    account = re.sub(r"[^0-9A-Za-z_-]", "_", account_id)[:40]
    return f"handles-{account}-{digest}"


class HandleTable:
    """The handle table of one account at one base URL (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        base_url: str,
        account_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url
        self.account_id = account_id
        name = _table_name(base_url, account_id)
        self.path = directory / f"{name}.json"
        self._lock_path = directory / f"{name}.lock"
        self._clock = clock
        self._memory = _State()
        #: Why the table could not be saved the last time, or None.
        self.problem: str | None = None

    # -- what a view does ------------------------------------------------------------------

    def update(
        self,
        *,
        shown: Sequence[str] = (),
        listed: Iterable[str] | None = None,
        scope: str = "",
        whole_account: bool = False,
    ) -> dict[str, int]:
        """Record one look at the calls, and return the number of each call listed or shown.

        ``listed`` is everything a complete refresh of the view's listings (``scope``)
        returned: those calls are live, and the ones this scope (any scope, with
        ``whole_account``) showed before and no longer lists have ended. ``shown`` are
        the calls on screen, in order: each gets a number if it has none.
        """
        now = self._clock()
        listed = None if listed is None else set(listed)

        def change(state: _State) -> dict[str, int]:
            if listed is not None:
                self._mark(state, listed, scope, whole_account, now)
            for uii in shown:
                if uii not in state.entries:
                    state.entries[uii] = Entry(uii, state.next, now, scope=scope)
                    state.next += 1
            wanted = set(shown) if listed is None else listed | set(shown)
            return {uii: e.number for uii, e in state.entries.items() if uii in wanted}

        return self._transaction(change)

    def last_number(self) -> int:
        """The highest number given so far (0 for none), as last read or written."""
        return self._memory.next - 1

    @staticmethod
    def _mark(state: _State, listed: set[str], scope: str, whole_account: bool, now: float) -> None:
        for uii, entry in state.entries.items():
            if uii in listed:
                entry.seen, entry.ended, entry.scope = now, None, scope
            elif entry.ended is None and (whole_account or entry.scope == scope):
                entry.ended = now

    # -- what an action command does -------------------------------------------------------

    def resolve(self, handle: str) -> str:
        """The uii ``handle`` stands for, or a refusal (see the module docstring)."""
        row = _HANDLE.fullmatch(handle)
        state = self._read()
        where = f"account {self.account_id} at {self.base_url}"
        if row is not None:
            number = int(row.group(1))
            if state is None:
                raise UsageError(
                    f"{handle}: no handles saved for {where}: run 'activecalls top' first, "
                    "or give the call's uii"
                )
            entry = next((e for e in state.entries.values() if e.number == number), None)
            if entry is None:
                if 0 < number < state.next:
                    raise Refused(
                        f"{handle}: its call ended long ago and the handle was forgotten; "
                        "nothing was sent"
                    )
                raise UsageError(
                    f"{handle}: no call has had this handle for {where} (the last given is "
                    f"@{state.next - 1}); use a handle 'activecalls top' shows, or the uii"
                )
            return self._live(handle, entry)
        if state is None or not (handle.isascii() and handle.isdigit()):
            return handle
        if handle in state.entries:
            return handle
        matches = [e for uii, e in state.entries.items() if uii.startswith(handle)]
        if len(matches) > 1:
            raise UsageError(
                f"{handle}: starts {len(matches)} uiis of the handle table; give more "
                "digits, @N, or the whole uii"
            )
        return self._live(handle, matches[0]) if matches else handle

    @staticmethod
    def _live(handle: str, entry: Entry) -> str:
        if entry.ended is None:
            return entry.uii
        when = datetime.fromtimestamp(entry.ended, tz=timezone.utc)
        raise Refused(
            f"{handle} is call {entry.uii}, which has ended (gone from view at "
            f"{when:%Y-%m-%d %H:%M:%S} UTC): nothing was sent"
        )

    # -- the file --------------------------------------------------------------------------

    def _transaction(self, change: Callable[[_State], _T]) -> _T:
        """Apply ``change`` to the saved table under the exclusive lock and save it at once;
        when the disk fails, to the copy in memory (numbers stay unique within this run)."""
        changed: _State | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self._locked(exclusive=True):
                state = self._load_or_set_aside()
                self._prune(state)  # first, so that an emptied table numbers from 1
                result = change(state)
                changed = state
                self._prune(state)
                self._write(state)
        except OSError as exc:
            self.problem = f"handles not saved ({exc.strerror or exc}): they hold for this run only"
            if changed is None:
                changed = self._memory
                self._prune(changed)
                result = change(changed)
                self._prune(changed)
        else:
            self.problem = None
        self._memory = changed
        return result

    def _read(self) -> _State | None:
        """The saved table, or None when there is none (or it cannot be read)."""
        if not self.path.exists():
            return None
        try:
            with self._locked(exclusive=False):
                return _parse(self.path.read_text(encoding="utf-8"), self._owner())
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _owner(self) -> tuple[str, str]:
        return self.base_url, self.account_id

    def _load_or_set_aside(self) -> _State:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _State()
        try:
            return _parse(text, self._owner())
        except ValueError:
            os.replace(self.path, self.path.with_suffix(".damaged"))
            return _State()

    def _write(self, state: _State) -> None:
        data = {
            "version": _FORMAT,
            "baseUrl": self.base_url,
            "accountId": self.account_id,
            "next": state.next,
            "calls": [entry.record() for entry in state.entries.values()],
        }
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=".handles-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, separators=(",", ":"))
            os.replace(name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def _prune(self, state: _State) -> None:
        now = self._clock()
        entries = state.entries
        for uii, entry in list(entries.items()):
            if entry.ended is None:
                forget = now - entry.seen > UNSEEN_KEPT
            else:
                forget = now - entry.ended > ENDED_KEPT
            if forget:
                del entries[uii]
        ended = sorted((e for e in entries.values() if e.ended is not None), key=_ended_at)
        for entry in ended[: max(len(ended) - MAX_ENDED, 0)]:
            del entries[entry.uii]
        if not entries:
            state.next = 1  # nothing left that an old handle could name


def _ended_at(entry: Entry) -> float:
    return entry.ended or 0.0


def _parse(text: str, owner: tuple[str, str]) -> _State:
    """A saved table of ``owner`` (base URL, account id); ValueError when it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != _FORMAT:
        raise ValueError("not a handle table")
    if (data.get("baseUrl"), data.get("accountId")) != owner:
        raise ValueError("the handle table of another account or server")
    next_number = data.get("next")
    calls = data.get("calls")
    if not isinstance(next_number, int) or next_number < 1 or not isinstance(calls, list):
        raise ValueError("not a handle table")
    state = _State(next=next_number)
    for item in calls:
        try:
            entry = Entry(
                uii=str(item["uii"]),
                number=int(item["n"]),
                seen=float(item["seen"]),
                ended=None if item.get("ended") is None else float(item["ended"]),
                scope=str(item.get("scope") or ""),
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError("a damaged entry") from None
        if not 0 < entry.number < next_number:
            raise ValueError("a number beyond the table's count")
        state.entries[entry.uii] = entry
    return state
