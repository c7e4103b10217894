"""A real ``redis-server`` on a free loopback port, in a temporary directory, no persistence."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

#: The one line a developer without Redis sees (the fleet tests are then skipped).
INSTALL_HINT = (
    "redis-server not found: install it to run the fleet tests "
    "(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"
)


def redis_binary() -> str | None:
    """The ``redis-server`` executable on PATH, or None."""
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """Starts, stops and restarts one ``redis-server`` on 127.0.0.1 (same port throughout)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="activecalls-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", self._dir.name,
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "yes",
                "--logfile", str(Path(self._dir.name) / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5) as probe:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)

    def restart(self) -> None:
        """Stop the server and start it again at once on the same port, empty: a client
        reconnects by itself and may not notice."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and calls go unanswered,
        to be run when it resumes."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT): it answers what it was sent meanwhile."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (its data is gone: nothing is persisted)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()
