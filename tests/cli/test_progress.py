"""The listing progress display on a terminal: rich when installed, one rewritten line without."""

from __future__ import annotations

import asyncio
import io
import sys

import pytest

from activecalls_async._cli.progress import ListingProgress


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_plain_terminal_rewrites_one_line_then_clears_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    stream = Terminal()
    with ListingProgress("Listing ACD:55", stream=stream) as progress:
        progress._every = 0.0  # show every update
        progress.advance(10)
        progress.advance(5)
    progress.done("15 calls from 1 listing in 0.01 s")
    text = stream.getvalue()
    assert "\rListing ACD:55: 10 calls" not in text  # each update clears the line first
    assert "\r\x1b[KListing ACD:55: 10 calls" in text
    assert "\r\x1b[KListing ACD:55: 15 calls" in text
    assert "\n" not in text.rpartition("\r\x1b[K")[0]  # one line, rewritten in place
    assert text.endswith("\r\x1b[K15 calls from 1 listing in 0.01 s\n")


def test_rich_terminal_shows_a_live_count() -> None:
    stream = Terminal()
    with ListingProgress("Listing ACD:55", stream=stream) as progress:
        progress.advance(1234)
        assert progress._rich is not None
        progress._rich.refresh()
    progress.done("1,234 calls from 1 listing in 0.01 s")
    text = stream.getvalue()
    assert "Listing ACD:55" in text
    assert "1,234" in text
    assert text.endswith("1,234 calls from 1 listing in 0.01 s\n")


def test_disabled_shows_only_the_summary() -> None:
    stream = Terminal()
    with ListingProgress("Listing", stream=stream, enabled=False) as progress:
        progress.advance(10)
    progress.done("10 calls")
    assert stream.getvalue() == "10 calls\n"
    assert progress.calls == 10


async def test_a_long_wait_for_the_rate_limit_is_shown_while_no_call_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    stream = Terminal()
    waited: list[float | None] = [None]
    with ListingProgress("Listing ACD:55", stream=stream, throttled=lambda: waited[0]) as progress:
        progress._every = 0.0
        progress.advance(3)
        assert "waiting" not in stream.getvalue()
        waited[0] = 0.4  # a short wait is not worth a word
        progress.advance(0)
        assert "waiting" not in stream.getvalue()
        waited[0] = 12.3
        ticker = asyncio.ensure_future(progress.tick(every=0.01))
        await asyncio.sleep(0.05)
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    assert "Listing ACD:55: 3 calls (0.0 s), waiting for the rate limit (12 s)" in stream.getvalue()
