"""Start the simulator in a child process for a scenario and talk to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

_ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class ServerInfo:
    """How to reach a running simulator, and what it serves."""

    base_url: str
    root_url: str
    account_id: str
    token: str
    #: ``(product, product_id, calls)`` for every listing that has calls, ACCOUNT first.
    targets: tuple[tuple[str, int, int], ...]


class SimulatorProcess:
    """A simulator on 127.0.0.1 in its own process; ``with`` it, and it is always stopped."""

    def __init__(
        self,
        *,
        calls: int,
        seed: int = 7,
        latency: float = 0.0,
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        listings: dict[tuple[str, int], int] | None = None,
    ) -> None:
        self._argv = [
            sys.executable,
            "-m",
            "benchmarks._serve",
            f"--calls={calls}",
            f"--seed={seed}",
            f"--latency={latency}",
            f"--rate-window={rate_window}",
        ]
        if rate_limit is not None:
            self._argv.append(f"--rate-limit={rate_limit}")
        for (product, product_id), count in (listings or {}).items():
            self._argv.append(f"--listing={product}:{product_id}={count}")
        self._process: subprocess.Popen[str] | None = None
        self.info: ServerInfo | None = None

    def __enter__(self) -> SimulatorProcess:
        self._process = subprocess.Popen(
            self._argv,
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            raw = json.loads(self._readline())
            targets = tuple((p, int(i), int(n)) for p, i, n in raw.pop("targets"))
            self.info = ServerInfo(targets=targets, **raw)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> ServerInfo:
        """The running server's address and credentials."""
        if self.info is None:
            raise RuntimeError("the simulator process is not running")
        return self.info

    def _readline(self) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process exited ({self._process.poll()})")
        return line

    def command(self, line: str) -> dict[str, Any]:
        """Send one command and return its JSON answer."""
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._readline())
        return answer

    def stats(self) -> dict[str, Any]:
        """Requests seen since the last reset, by status, and their start times."""
        return self.command("stats")

    def reset(self) -> None:
        """Forget recorded requests and empty the rate-limit window."""
        self.command("reset")

    def stop(self) -> None:
        """Ask the process to quit; kill it if it does not within a few seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()  # end of input: the server stops
            process.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()
