"""``ACTIVECALLS_LOG`` and ``enable()``: one stderr handler for the SDK's logger, on request."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from activecalls_async import _log

SCRIPT = """
import logging
import activecalls_async
logger = logging.getLogger("activecalls_async")
logger.debug("a debug line")
logger.info("an info line")
print(len(logger.handlers), logger.level)
"""


def run(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != _log.ENV_VAR}
    if value is not None:
        env[_log.ENV_VAR] = value
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_debug_shows_every_record_on_stderr() -> None:
    done = run("debug")
    assert "DEBUG activecalls_async: a debug line" in done.stderr
    assert "INFO activecalls_async: an info line" in done.stderr
    assert done.stdout.split() == ["1", str(logging.DEBUG)]


def test_info_hides_debug_records_and_any_case_will_do() -> None:
    done = run(" INFO ")
    assert "a debug line" not in done.stderr
    assert "INFO activecalls_async: an info line" in done.stderr
    assert done.stdout.split() == ["1", str(logging.INFO)]


@pytest.mark.parametrize("value", [None, ""])
def test_unset_adds_no_handler_and_prints_nothing(value: str | None) -> None:
    done = run(value)
    assert done.stderr == ""
    assert done.stdout.split() == ["0", str(logging.NOTSET)]


def test_an_unknown_value_is_one_warning_and_nothing_else() -> None:
    done = run("verbose")
    assert done.stderr.splitlines() == [
        "ACTIVECALLS_LOG='verbose' is not one of debug, info; ignored"
    ]
    assert done.stdout.split() == ["0", str(logging.NOTSET)]


@pytest.fixture
def sdk_logger() -> Iterator[logging.Logger]:
    """The SDK's logger, put back as it was afterwards."""
    logger = logging.getLogger(_log.LOGGER_NAME)
    handlers, level = list(logger.handlers), logger.level
    _log.disable()  # start with no handler of the switch's, whatever ran before
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_enable_adds_one_handler_however_often_it_is_called(
    sdk_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(sdk_logger.handlers)
    _log.enable(logging.INFO)
    _log.enable("debug")  # -vv after -v: the level changes, the handler stays one
    assert len(sdk_logger.handlers) == before + 1
    assert sdk_logger.level == logging.DEBUG
    sdk_logger.debug("to the stderr of the moment")
    assert "DEBUG activecalls_async: to the stderr of the moment" in capsys.readouterr().err


def test_enable_from_env_reads_the_mapping_it_is_given(
    sdk_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(sdk_logger.handlers)
    _log.enable_from_env({_log.ENV_VAR: "loud"})
    assert [r.getMessage() for r in caplog.records] == [
        "ACTIVECALLS_LOG='loud' is not one of debug, info; ignored"
    ]
    assert len(sdk_logger.handlers) == before
    _log.enable_from_env({_log.ENV_VAR: "info"})
    assert sdk_logger.level == logging.INFO
    assert len(sdk_logger.handlers) == before + 1
