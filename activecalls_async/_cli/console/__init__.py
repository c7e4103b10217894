"""``activecalls top`` on a terminal: a supervisor's console, built on Textual.

**What it shows.** Three lines above the table: the calls in flight and how many wait
(with the time of the last refresh, UTC), the request budget in use in the client's
rate-limit window with the refresh interval, the sort and the filter, and the calls per
queue. Then one row per call (laid out by :mod:`.columns`), queued calls highlighted, at
most the first 500 in the order chosen (the filter reaches the others); under the table a
status line (the answer of the last action) and the keys.

**The highlighted row** follows its call, not its row number: after a refresh re-sorts
the rows, the same call is highlighted, on the same screen line when it can be. When
the highlighted call ends, its row stays, struck out and ``ENDED``, until the cursor
leaves it, and every action on it is refused with nothing sent.

**Handles.** Each call on screen gets its ``@N`` from the handle table the first time it
is shown (see :mod:`..handles`); the console and ``activecalls hangup @N`` agree on it.

**Acting.** Each action key (:mod:`.keys`) asks for what it needs (the supervisor's
phone, once per run unless ``--supervisor-phone`` or ``ACTIVECALLS_SUPERVISOR_PHONE``
gave it; a gate; a disposition), then for a confirmation naming the call's handle, uii,
agent and queue: ``y``/Enter confirms, ``n``/Esc cancels and nothing is sent. The
request then runs at ``Priority.ACTION``, ahead of any refresh waiting for the budget,
while the view keeps refreshing; the status line says it is running, then done,
declined (with the server's own words when it gave any) or the error. A done action
brings the next refresh forward. A call that ended before the confirmation is refused.

**Leaving.** ``q`` quits with status 0, Ctrl-C (or SIGINT) with 130, SIGTERM with 143,
``--duration`` with 0; the terminal is restored in every case.

This package imports Textual only in :mod:`.app`, :mod:`.dialogs` and :mod:`.table`,
and only :func:`run_console` loads them: other commands never pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...models import ActiveCall
from .options import ConsoleOptions, fetch_calls

if TYPE_CHECKING:
    from ...client import ActiveCallsClient
    from ..handles import HandleTable
    from .feed import CallFeed

__all__ = ["ConsoleOptions", "fetch_calls", "run_console", "textual_available"]


def textual_available() -> bool:
    """Whether Textual (the ``cli`` extra) can be imported."""
    try:
        import textual  # noqa: F401
    except ImportError:
        return False
    return True


async def run_console(
    client: ActiveCallsClient,
    options: ConsoleOptions,
    handles: HandleTable,
    calls: Sequence[ActiveCall],
    feed: CallFeed | None = None,
) -> int:
    """Run the console on this terminal until it quits; return its exit status."""
    from ..signals import stopped_by_signals
    from .app import ConsoleApp

    app = ConsoleApp(client, options, handles, calls=calls, feed=feed)

    def on_signal(signum: int) -> None:
        app.exit(return_code=128 + signum)

    with stopped_by_signals(on_signal):
        await app.run_async()
    return app.return_code or 0
