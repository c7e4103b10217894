"""How long-running commands (``simulator``, ``top``) stop cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["STOP_SIGNALS", "stopped_by_signals"]

#: The signals that stop the server cleanly; it exits with 128 + the signal's number.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)
)


@contextlib.contextmanager
def stopped_by_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Call ``on_signal(signum)`` on SIGINT or SIGTERM while the block runs.

    Taken over even when the process inherited SIGINT ignored (started with ``&`` by a
    script, or by a CI runner): Ctrl-C is the documented way to stop a long command, and a
    supervisor's SIGTERM must not leave a traceback. The previous handlers are put back
    afterwards. Where the loop cannot take signals (a worker thread, Windows), the
    interpreter's own Ctrl-C handling applies.
    """
    loop = asyncio.get_running_loop()
    taken: list[tuple[int, Any]] = []
    try:
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                break
            taken.append((signum, previous))
        yield
    finally:
        for signum, previous in reversed(taken):
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)
