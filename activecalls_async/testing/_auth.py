"""Credentials and tokens: RingCentral JWT grant, RingCX exchange and refresh, expiry."""

from __future__ import annotations

import base64
import enum
import json
import math
import secrets
import time
from collections.abc import Callable

#: How long a RingCentral access token from the JWT grant lives, in seconds.
RC_TOKEN_LIFETIME = 3600

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class Verdict(enum.Enum):
    """The outcome of checking a RingCX access token."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


def _opaque(nbytes: int) -> str:
    """A random URL-safe token that never starts with "-", which a command line would
    take for an option."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def _fake_jwt() -> str:
    """A JWT-shaped credential string (header.payload.signature), random each time."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = part({"alg": "RS256", "typ": "JWT"})
    payload = part({"sub": "simulator", "jti": secrets.token_hex(8)})
    return f"{header}.{payload}.{secrets.token_urlsafe(32)}"


class TokenStore:
    """Issues and checks every credential the simulator accepts; tokens are opaque."""

    def __init__(self, *, lifetime: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self.rc_client_id = _opaque(16)
        self.rc_client_secret = _opaque(32)
        self.rc_jwt = _fake_jwt()
        self.api_token = secrets.token_hex(16)
        self._access: dict[str, float] = {}  # RingCX access token -> monotonic expiry
        self._refresh: set[str] = set()  # refresh tokens not yet used
        self._rc: dict[str, float] = {}  # RingCentral access token -> monotonic expiry
        self.token = self.issue(math.inf)

    def issue(self, lifetime: float | None = None) -> str:
        """Issue a RingCX access token living ``lifetime`` seconds (default: the store's)."""
        token = _opaque(32)
        life = self.lifetime if lifetime is None else lifetime
        self._access[token] = self.clock() + life
        return token

    def expire(self, token: str) -> None:
        """Make a token answer as expired from now on (registering it if unknown)."""
        self._access[token] = -math.inf

    def check(self, token: str) -> Verdict:
        """Check a RingCX bearer access token."""
        expiry = self._access.get(token)
        if expiry is None:
            return Verdict.INVALID
        return Verdict.VALID if self.clock() < expiry else Verdict.EXPIRED

    def check_api_token(self, token: str) -> bool:
        """Check a legacy permanent API token (``X-Auth-Token``)."""
        return secrets.compare_digest(token, self.api_token)

    def client_matches(self, client_id: str, client_secret: str) -> bool:
        """Whether HTTP Basic credentials are this app's client id and secret."""
        return secrets.compare_digest(client_id, self.rc_client_id) and secrets.compare_digest(
            client_secret, self.rc_client_secret
        )

    def jwt_grant(self, assertion: str) -> str | None:
        """Issue a RingCentral access token for the JWT credential; None if it is wrong."""
        if not secrets.compare_digest(assertion, self.rc_jwt):
            return None
        token = _opaque(48)
        self._rc[token] = self.clock() + RC_TOKEN_LIFETIME
        return token

    def exchange(self, rc_token: str) -> tuple[str, str] | None:
        """Trade a live RingCentral token for a RingCX (access, refresh) pair, or None."""
        expiry = self._rc.get(rc_token)
        if expiry is None or self.clock() >= expiry:
            return None
        return self._pair()

    def refresh(self, refresh_token: str) -> tuple[str, str] | None:
        """Rotate: spend a refresh token for a new (access, refresh) pair, or None if spent."""
        if refresh_token not in self._refresh:
            return None
        self._refresh.discard(refresh_token)
        return self._pair()

    def _pair(self) -> tuple[str, str]:
        refresh = _opaque(32)
        self._refresh.add(refresh)
        return self.issue(), refresh
