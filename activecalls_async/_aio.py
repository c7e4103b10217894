"""The asyncio helpers the package shares: closing iterators, cancelling, reading outcomes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "ClosesOnExit",
    "ClosingIterator",
    "cancel_all",
    "retrieve",
    "start_task",
    "stop_task",
]

_T = TypeVar("_T")
_Self = TypeVar("_Self", bound="ClosesOnExit")

#: ``asyncio.eager_task_factory`` (Python 3.12 and later), else None.
_eager: Callable[..., asyncio.Future[Any]] | None = getattr(asyncio, "eager_task_factory", None)


def start_task(coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
    """``coro`` as a task of the running loop, run at once up to its first wait where the
    loop can (Python 3.12 and later): a request then leaves without a turn of the loop."""
    loop = asyncio.get_running_loop()
    if _eager is not None:
        return cast("asyncio.Task[_T]", _eager(loop, coro))
    return loop.create_task(coro)


def retrieve(future: asyncio.Future[Any]) -> None:
    """Done callback: read a finished future's outcome so that asyncio never reports its
    exception as "never retrieved" (nobody may be left awaiting it)."""
    if not future.cancelled():
        future.exception()


async def stop_task(task: asyncio.Future[Any], *, patience: float = 1.0) -> None:
    """Cancel ``task`` and return once it has ended, its outcome read, not raised.

    Never swallows a cancellation of the caller (``contextlib.suppress(CancelledError)``
    around ``await task`` would), and never waits for good on a task that caught its
    cancellation and went on (a library may turn one into an error it retries): such a
    task is cancelled again every ``patience`` seconds until it ends.
    """
    task.cancel()
    while not task.done():
        await asyncio.wait({task}, timeout=patience)
        task.cancel()
    retrieve(task)


def cancel_all(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every future still pending; a future whose loop is closed is left alone."""
    for future in futures:
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            future.cancel()


class ClosesOnExit:
    """An async context manager whose exit calls ``aclose()``."""

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what the object holds; a second call does nothing."""
        raise NotImplementedError


class ClosingIterator(ClosesOnExit, Generic[_T]):
    """An async iterator that is also an async context manager closing it on exit."""

    def __aiter__(self) -> ClosingIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Cancel and await whatever is in flight; further iteration stops at once."""
        raise NotImplementedError
