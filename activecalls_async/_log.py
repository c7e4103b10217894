"""The ``activecalls_async`` logger's switches: ``ACTIVECALLS_LOG`` and the CLI's ``-v``.

``ACTIVECALLS_LOG=debug`` or ``info`` (any case), read once when the package is
imported, sends the logger's records of that level and above to standard error. Any
other non-empty value logs one warning and changes nothing. Without it the SDK adds
no handler: records go wherever the application's logging configuration sends them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

__all__ = ["ENV_VAR", "LOGGER_NAME", "disable", "enable", "enable_from_env", "enabled"]

LOGGER_NAME = "activecalls_async"
ENV_VAR = "ACTIVECALLS_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger(LOGGER_NAME)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """The stream is always the current ``sys.stderr``; setting it changes nothing."""


def enable(level: int | str, *, fmt: str = _FORMAT) -> None:
    """Send the ``activecalls_async`` logger's records of ``level`` and above to stderr.

    ``level`` is a ``logging`` level or its name in any case (``"debug"``). Calling it
    again changes the level and the format; there is only ever one such handler.
    """
    if isinstance(level, str):
        level = level.strip().upper()
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        logger.addHandler(handler)
    handler.setFormatter(logging.Formatter(fmt))
    logger.setLevel(level)


def enabled() -> bool:
    """Whether ``enable`` (or ``ACTIVECALLS_LOG``) has added its handler."""
    return any(isinstance(h, _StderrHandler) for h in logger.handlers)


def disable() -> None:
    """Remove the handler ``enable`` added and reset the logger's level."""
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def enable_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """Apply ``ACTIVECALLS_LOG`` from ``environ`` (rules: module docstring)."""
    value = environ.get(ENV_VAR, "").strip()
    if not value:
        return
    level = _LEVELS.get(value.lower())
    if level is None:
        choices = ", ".join(_LEVELS)
        logger.warning("%s=%r is not one of %s; ignored", ENV_VAR, value, choices)
        return
    enable(level)


# Once, when the package is first imported (``activecalls_async/__init__.py`` imports
# this module): the switch is read at import, like other SDKs' log switches.
enable_from_env()
