"""Short handles for calls: ``@N`` (row N of the last ``activecalls top``) or the start of
a uii shown there, so that a supervisor can act without copying a 30-digit uii.

``top`` saves the rows it shows (account, base URL and uiis, never a credential) to
``$ACTIVECALLS_STATE_DIR/last-top.json`` (default ``$XDG_STATE_HOME/activecalls``, else
``~/.local/state/activecalls``), readable by the user only. The action commands resolve a
handle against that file: ``@N`` must name a row; a shorter run of digits that starts
exactly one uii there is that uii; anything else is passed on as a uii.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .failures import UsageError

__all__ = ["resolve_handle", "save_view", "view_path"]

_ROW = re.compile(r"@([0-9]+)")


def view_path(environ: Mapping[str, str]) -> Path:
    """Where ``top`` saves its rows."""
    root = environ.get("ACTIVECALLS_STATE_DIR")
    if not root:
        state = environ.get("XDG_STATE_HOME") or os.path.join(
            environ.get("HOME") or str(Path.home()), ".local", "state"
        )
        root = os.path.join(state, "activecalls")
    return Path(root) / "last-top.json"


def save_view(path: Path, *, base_url: str, account_id: str, uiis: Sequence[str]) -> None:
    """Replace the saved rows at once (a reader never sees half a file); errors are ignored,
    since a read-only home must not stop the display."""
    data = {"baseUrl": base_url, "accountId": account_id, "uiis": list(uiis)}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".last-top-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise


def _load(path: Path, base_url: str, account_id: str) -> list[str] | None:
    """The saved uiis when they were shown for this account and base URL."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("baseUrl") != base_url or data.get("accountId") != account_id:
        return None
    uiis = data.get("uiis")
    if not isinstance(uiis, list) or not all(isinstance(u, str) for u in uiis):
        return None
    return uiis


def resolve_handle(handle: str, path: Path, *, base_url: str, account_id: str) -> str:
    """The uii ``handle`` stands for (see the module docstring)."""
    row = _ROW.fullmatch(handle)
    uiis = _load(path, base_url, account_id)
    if row is not None:
        index = int(row.group(1))
        if uiis is None:
            raise UsageError(
                f"{handle}: no rows of 'activecalls top' saved for account {account_id} at "
                f"{base_url}; run it first, or give the call's uii"
            )
        if not 1 <= index <= len(uiis):
            raise UsageError(
                f"{handle}: the last 'activecalls top' showed {len(uiis)} rows; "
                "give a row number it showed, or the call's uii"
            )
        return uiis[index - 1]
    if uiis is None or not (handle.isascii() and handle.isdigit()) or handle in uiis:
        return handle
    matches = [uii for uii in uiis if uii.startswith(handle)]
    if len(matches) > 1:
        raise UsageError(
            f"{handle}: starts {len(matches)} uiis of the last 'activecalls top'; "
            "give more digits, @N, or the whole uii"
        )
    return matches[0] if matches else handle
