"""Credentials: how each request is authorised, and how an expired token is renewed.

``BearerToken`` and ``ApiToken`` send a fixed credential. ``RingCentralAuth`` trades
a RingCentral access token (or, with ``from_jwt``, a JWT credential) for a RingCX
token, renews it before it expires and whenever the API calls it expired, and falls
back to a fresh exchange when the refresh token is refused. Renewal is single-flight:
however many requests meet a stale token, one renewal runs and all of them wait for it.

An ``Auth`` object does no I/O of its own: it describes each login request
(``LoginRequest``) and the client's ``LoginSender`` sends it, so that writing one needs
no HTTP library. Where the RingCentral token comes from is a ``TokenSource``: a fixed
token, an async callable, or the JWT grant of ``RingCentralAuth.from_jwt``.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
from yarl import URL

from . import _validators as v
from ._aio import retrieve
from ._redact import redact_url
from .errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
    ValidationError,
)
from .limits.priority import Priority
from .limits.ratelimit import Limiter, RateLimit
from .token_cache import StoredLogin, TokenCache

__all__ = [
    "DEFAULT_AUTH_URL",
    "DEFAULT_RC_SERVER",
    "AgentDetails",
    "ApiToken",
    "Auth",
    "BearerToken",
    "LoginRequest",
    "LoginSender",
    "RingCentralAuth",
    "TokenSource",
    "coerce_auth",
]

logger = logging.getLogger("activecalls_async")

#: Where RingCX exchanges and refreshes tokens.
DEFAULT_AUTH_URL = "https://ringcx.ringcentral.com"
#: Where RingCentral grants access tokens for a JWT credential.
DEFAULT_RC_SERVER = "https://platform.ringcentral.com"

_JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: How long a RingCentral access token from the JWT grant lives when the answer omits it.
_RC_TOKEN_LIFETIME = 3600.0


#: Characters no credential may hold (a header would be cut or split at them); a tab
#: around a token is only whitespace and is stripped.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _clean_token(token: object) -> str | None:
    """``token`` stripped, if it can go in a header: non-blank, no control characters."""
    if not isinstance(token, str) or not token.strip() or _CONTROL.search(token):
        return None
    return token.strip()


def _check_token(name: str, token: object) -> str:
    clean = _clean_token(token)
    if clean is None:
        raise ValidationError(
            name, "expected a non-empty token string on one line (no CR, LF, NUL or other controls)"
        )
    return clean


@attrs.frozen(repr=False)
class LoginRequest:
    """A login form an ``Auth`` object asks its ``LoginSender`` to POST.

    ``headers`` may carry credentials (HTTP Basic); ``secrets`` are the form's credential
    values, masked wherever the answer or an error could echo them; ``timeout`` bounds
    the one attempt in seconds (None: no limit).
    """

    operation: str
    url: str
    form: Mapping[str, str]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = ()
    timeout: float | None = 30.0

    def __repr__(self) -> str:
        return f"LoginRequest({self.operation!r}, url={redact_url(self.url)!r})"


class LoginSender(Protocol):
    """Sends an ``Auth`` object's login requests: the client passes one in.

    It POSTs the form once (no retry, no rate limit) and returns the JSON object
    answered; an error status raises an ``APIStatusError`` (a refusal: an
    ``AuthenticationError``), a body that is not a JSON object a ``ResponseDecodeError``,
    a network failure an ``APIConnectionError``, and a closed client ``ClientClosedError``.
    """

    async def __call__(self, request: LoginRequest) -> Mapping[str, Any]:
        """POST ``request`` and return the JSON object it was answered with."""


class Auth(abc.ABC):
    """A source of request headers that authorise one account's API calls.

    A subclass implements ``headers`` (and ``refresh`` if its credentials can be
    renewed). Both receive a ``LoginSender`` to send any login request they need, so
    that an implementation does no network I/O of its own and needs no HTTP library.
    """

    @abc.abstractmethod
    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The headers to send with the next request."""

    async def refresh(self, send: LoginSender, rejected: Mapping[str, str]) -> bool:
        """Renew credentials that the server called expired; True if a retry may succeed.

        ``rejected`` are the headers the server refused, so that of many requests
        that meet the same expired token only the first renews it.
        """
        return False

    async def aclose(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release anything the credentials hold (nothing, by default).

        A client calls this only for credentials it made itself (from a token string,
        or in ``from_env``); credentials passed in are their owner's to close.
        """


class BearerToken(Auth):
    """A fixed RingCX access token, sent as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {_check_token('token', token)}"}

    def __repr__(self) -> str:
        return "BearerToken(token='***')"

    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The bearer header."""
        return self._headers


class ApiToken(Auth):
    """A legacy permanent API token, sent as ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self._headers = {"X-Auth-Token": _check_token("token", token)}

    def __repr__(self) -> str:
        return "ApiToken(token='***')"

    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The ``X-Auth-Token`` header."""
        return self._headers


def _access_token(answer: Mapping[str, Any], key: str, request: LoginRequest) -> str:
    token = _clean_token(answer.get(key))
    if token is None:
        raise ResponseDecodeError(
            f"{request.operation} answered no usable {key}",
            operation=request.operation,
            method="POST",
            url=redact_url(request.url),
        )
    return token


class TokenSource(abc.ABC):
    """How a ``RingCentralAuth`` gets the RingCentral access token it trades for RingCX's."""

    #: How ``RingCentralAuth``'s repr names this source (never the token itself).
    label = "token source"

    @abc.abstractmethod
    async def token(self, send: LoginSender) -> str:
        """A currently valid RingCentral access token (``send`` sends any login request)."""

    def rejected(self) -> bool:
        """RingCX refused the last token: forget it; True if asking again may give another."""
        return False


class _FixedToken(TokenSource):
    """One RingCentral access token given up front: refused once, refused for good."""

    label = "rc_access_token"

    def __init__(self, token: str) -> None:
        self._token = _check_token("rc_access_token", token)

    async def token(self, send: LoginSender) -> str:
        return self._token


class _AskedToken(TokenSource):
    """An async callable asked for a current token before every exchange."""

    label = "rc_access_token"

    def __init__(self, ask: Callable[[], Awaitable[str]]) -> None:
        self._ask = ask

    async def token(self, send: LoginSender) -> str:
        token = _clean_token(await self._ask())
        if token is None:
            raise ValidationError("rc_access_token", "the callable returned no usable token")
        return token

    def rejected(self) -> bool:
        return True  # the callable may return a newer token


class _JwtGrant(TokenSource):
    """RingCentral access tokens from a JWT credential, cached until shortly before expiry."""

    label = "from_jwt"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        jwt: str,
        rc_server: str,
        timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        client_id = _check_token("client_id", client_id)
        if ":" in client_id:
            raise ValidationError("client_id", "must not contain ':'")
        secret = _check_token("client_secret", client_secret)
        assertion = _check_token("jwt", jwt)
        # Built by hand: aiohttp 3.14 deprecates BasicAuth.
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
        self._request = LoginRequest(
            "auth.jwt",
            f"{rc_server}/restapi/oauth/token",
            {"grant_type": _JWT_GRANT_TYPE, "assertion": assertion},
            headers={"Authorization": f"Basic {basic}"},
            secrets=(secret, assertion),
            timeout=timeout,
        )
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    async def token(self, send: LoginSender) -> str:
        """A live RingCentral access token, granted anew when the cached one is near expiry."""
        if self._token is None or self._clock() >= self._renew_at:
            started = self._clock()
            answer = await send(self._request)
            token = _access_token(answer, "access_token", self._request)
            expires_in = v.finite_number(answer.get("expires_in"))
            lifetime = expires_in if expires_in and expires_in > 0 else _RC_TOKEN_LIFETIME
            # Renew with a tenth of the lifetime to spare, so an exchange never meets a
            # token that expires on its way.
            self._token, self._renew_at = token, started + 0.9 * lifetime
        return self._token

    def rejected(self) -> bool:
        self._token = None  # granted anew on the next exchange
        return True


def _token_source(value: object) -> TokenSource:
    """The token source for ``RingCentralAuth``'s ``rc_access_token`` argument."""
    if isinstance(value, TokenSource):
        return value
    if isinstance(value, str):
        return _FixedToken(value)
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        return _AskedToken(value)  # type: ignore[arg-type]
    raise ValidationError(
        "rc_access_token",
        "expected a token string or an async callable returning one"
        + ("; got a plain (sync) callable" if callable(value) else ""),
    )


@attrs.frozen
class AgentDetails:
    """One agent record of a RingCX login answer (``agentDetails``); ids as text.

    ``extra`` keeps every field not named here, and any named field whose value was not
    text or an integer, as the server sent it.
    """

    agent_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    username: str | None = None
    agent_type: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


_AGENT_FIELDS = {
    "agentId": "agent_id",
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "username": "username",
    "agentType": "agent_type",
    "accountId": "account_id",
    "accountName": "account_name",
}


def _wire_id(value: object) -> str | None:
    """Text or an integer as text; anything else (a bool included) as None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _agent_details(value: object) -> tuple[AgentDetails, ...]:
    """The agent records of a login answer; entries that are not objects are skipped.

    Informational only, so a surprise here never fails a login.
    """
    if not isinstance(value, list):
        return ()
    agents = []
    for entry in value:
        if not isinstance(entry, dict):
            continue
        known: dict[str, str | None] = {}
        extra: dict[str, Any] = {}
        for key, item in entry.items():
            name = _AGENT_FIELDS.get(key)
            text = _wire_id(item)
            if name is not None and (text is not None or item is None):
                known[name] = text
            else:
                extra[key] = item
        agents.append(AgentDetails(**known, extra=extra))
    return tuple(agents)


class RingCentralAuth(Auth):
    """RingCX access tokens obtained from a RingCentral access token and kept fresh.

    ``rc_access_token`` is a RingCentral access token, an async callable returning a
    currently valid one (called whenever a new exchange is needed), or a
    ``TokenSource``. The RingCX token is assumed to live ``token_lifetime`` seconds and
    is renewed ``refresh_margin`` seconds before that, with its refresh token; a
    refused refresh token leads to a new exchange. Exchanges wait for
    ``exchange_limit`` (by default a private ``RateLimit(5, per=60)``, the endpoint's
    documented limit; pass one instance to several objects that share a login). Login
    requests go through the client's ``LoginSender`` with their own ``timeout``,
    outside the client's rate limiter.

    With a ``cache`` (a ``TokenCache``, e.g. ``activecalls_async.fleet.RedisTokenCache``)
    several objects, in this process or others, share one login: a fresh login found in
    the cache is used as it is; a renewal runs inside ``cache.renewal()``, loads the
    cache again (another user may have renewed meanwhile: then that login is used),
    and only otherwise refreshes or exchanges and stores the result. A token the API
    called expired is renewed once for all of them: whoever renews second finds a
    different token in the cache and uses it. Ages in the cache are wall-clock time
    (``StoredLogin.obtained_at``). Without a cache the login is this object's own.

    ``main_account_id`` and ``agent_details`` hold what the last login answered.

    A client never closes a ``RingCentralAuth`` passed to it, so one object can serve
    several clients; ``aclose()`` it when done with all of them (optional: no request
    waiting means nothing left running).
    """

    def __init__(
        self,
        rc_access_token: str | Callable[[], Awaitable[str]] | TokenSource,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        token_lifetime: float = 300.0,
        refresh_margin: float = 60.0,
        timeout: float | None = 30.0,
        exchange_limit: Limiter | None = None,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
        cache: TokenCache | None = None,
    ) -> None:
        v.seconds("token_lifetime", token_lifetime)
        margin = v.finite_number(refresh_margin)
        if margin is None or not 0 <= margin < token_lifetime:
            raise ValidationError("refresh_margin", "expected seconds >= 0 and < token_lifetime")
        v.optional_seconds("timeout", timeout)
        if exchange_limit is not None and not isinstance(exchange_limit, Limiter):
            raise ValidationError("exchange_limit", "expected a RateLimit (or other Limiter)")
        if cache is not None and not isinstance(cache, TokenCache):
            raise ValidationError("cache", "expected a TokenCache (load, store, renewal)")
        self.auth_url = v.base_url("auth_url", auth_url, allow_insecure_http=allow_insecure_http)
        self._source = _token_source(rc_access_token)
        self.token_lifetime = float(token_lifetime)
        self.refresh_margin = float(refresh_margin)
        self.timeout = timeout
        self.exchange_limit: Limiter = exchange_limit or RateLimit(5, per=60.0)
        self._clock = clock
        exchange_url = URL(f"{self.auth_url}/api/auth/login/rc/accesstoken")
        self._exchange_url = str(exchange_url.with_query(includeRefresh="true"))
        self._refresh_url = f"{self.auth_url}/api/auth/token/refresh"
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._headers: Mapping[str, str] = {}
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._renewal: _Renewal | None = None
        self._cache = cache
        #: The access token the server called expired, until a new login replaces it.
        self._rejected: str | None = None
        self._main_account_id: str | None = None
        self._agent_details: tuple[AgentDetails, ...] = ()

    @classmethod
    def from_jwt(
        cls,
        *,
        client_id: str,
        client_secret: str,
        jwt: str,
        rc_server: str = DEFAULT_RC_SERVER,
        auth_url: str = DEFAULT_AUTH_URL,
        token_lifetime: float = 300.0,
        refresh_margin: float = 60.0,
        timeout: float | None = 30.0,
        exchange_limit: Limiter | None = None,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
        cache: TokenCache | None = None,
    ) -> RingCentralAuth:
        """Log in with a RingCentral JWT credential (JWT grant first, then the exchange)."""
        v.optional_seconds("timeout", timeout)
        grant = _JwtGrant(
            client_id=client_id,
            client_secret=client_secret,
            jwt=jwt,
            rc_server=v.base_url("rc_server", rc_server, allow_insecure_http=allow_insecure_http),
            timeout=timeout,
            clock=clock,
        )
        return cls(
            grant,
            auth_url=auth_url,
            token_lifetime=token_lifetime,
            refresh_margin=refresh_margin,
            timeout=timeout,
            exchange_limit=exchange_limit,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
            cache=cache,
        )

    def __repr__(self) -> str:
        return f"RingCentralAuth({self._source.label}, auth_url={self.auth_url!r})"

    @property
    def main_account_id(self) -> str | None:
        """The main account's id, as the last login answered it (None before, or if absent)."""
        return self._main_account_id

    @property
    def agent_details(self) -> tuple[AgentDetails, ...]:
        """The agent records the last login answered (empty before the first login)."""
        return self._agent_details

    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The bearer header, renewing the token first when it is due."""
        if self._access is None or self._clock() >= self._renew_at:
            await self._renew(send)
        return self._headers

    async def refresh(self, send: LoginSender, rejected: Mapping[str, str]) -> bool:
        """Renew the token the server called expired, unless another request already did."""
        bearer = rejected.get("Authorization")
        if bearer == self._headers.get("Authorization"):
            # The server's word beats our estimate: this token may not be used again.
            self._expires_at = self._renew_at = self._clock()
            self._rejected = self._access
            await self._renew(send)
        return bearer != self._headers.get("Authorization")

    async def aclose(self) -> None:
        """Stop a renewal in flight; requests waiting for it raise ``ClientClosedError``.

        A client closes only the credentials it made itself (from a token string, or in
        ``from_env``): a ``RingCentralAuth`` passed in, perhaps shared by several
        clients, is the caller's to close. Closing is optional: nothing runs in the
        background once no request waits. The object stays usable afterwards.
        """
        renewal, self._renewal = self._renewal, None
        if renewal is not None and not renewal.task.done():
            renewal.task.cancel()
            await asyncio.wait({renewal.task})

    async def _renew(self, send: LoginSender) -> None:
        """Renew the token, or join the renewal already in flight.

        Callers decide that the token is stale with no ``await`` between that check and
        this call, so a renewal that completed meanwhile cannot be repeated by mistake.
        """
        while True:
            renewal = self._renewal
            if renewal is None or renewal.task.done():
                task = asyncio.get_running_loop().create_task(self._renew_now(send))
                task.add_done_callback(retrieve)
                renewal = self._renewal = _Renewal(task, send)
            renewal.waiters += 1
            try:
                # asyncio.wait() raises only when this caller is cancelled, never because
                # the renewal was: the two must not be confused (see below).
                await asyncio.wait({renewal.task})
            finally:
                renewal.waiters -= 1
                if not renewal.waiters and not renewal.task.done():
                    # Every request that wanted it was cancelled: stop it rather than
                    # leave it running unowned. A caller cancelled while others wait
                    # leaves it to them, so a rotated refresh token is not lost halfway.
                    renewal.task.cancel()
            if renewal.task.cancelled():  # by aclose(), not by this caller
                raise ClientClosedError(
                    "the credentials were closed while this request waited for a token renewal"
                )
            error = renewal.task.exception()
            if error is None:
                return
            if isinstance(error, ClientClosedError) and renewal.send is not send:
                # The client whose sender carried the renewal was closed; renew through
                # this request's own (which raises ClientClosedError if it is closed too).
                continue
            raise error

    async def _renew_now(self, send: LoginSender) -> None:
        """Renew now; a transient failure is ridden out while the token has time left."""
        try:
            await self._obtain(send)
        except (APIConnectionError, APIStatusError, ResponseDecodeError) as exc:
            now = self._clock()
            if self._access is None or now >= self._expires_at:
                raise
            if isinstance(exc, AuthenticationError):
                raise
            # Try again shortly rather than on every request while login is down.
            self._renew_at = now + min(5.0, (self._expires_at - now) / 2)
            logger.warning(
                "could not renew the RingCX token early (%s); using it until it expires",
                type(exc).__name__,
            )

    async def _obtain(self, send: LoginSender) -> None:
        """Get a new login: from the cache when another user renewed it, else from RingCX."""
        cache = self._cache
        if cache is None:
            started = self._clock()
            request, answer = await self._login_answer(send, self._refresh_token)
            self._use(request, answer, expires_at=started + self.token_lifetime)
            return
        rejected = self._rejected
        # Another process may have renewed already: then no lock is needed at all.
        if self._adopt(await cache.load(), rejected):
            return
        async with cache.renewal():
            stored = await cache.load()  # renewed by the holder this process waited for?
            if self._adopt(stored, rejected):
                return
            # The cache's refresh token is the latest one: refresh tokens rotate on use.
            cached = stored.answer.get("refreshToken") if stored is not None else None
            refresh_token = cached if isinstance(cached, str) else self._refresh_token
            obtained_at, started = time.time(), self._clock()
            request, answer = await self._login_answer(send, refresh_token)
            self._use(request, answer, expires_at=started + self.token_lifetime)
            await cache.store(StoredLogin(answer, obtained_at))

    def _adopt(self, stored: StoredLogin | None, rejected: str | None) -> bool:
        """Use a login from the cache if it is live, is not ``rejected`` and is not due."""
        if stored is None:
            return False
        access = _clean_token(stored.answer.get("accessToken"))
        if access is None or access == rejected:
            return False
        # Wall-clock age, comparable across processes and hosts (never negative: a
        # clock running behind another host's must not make a login look younger).
        age = max(0.0, time.time() - stored.obtained_at)
        if age >= self.token_lifetime - self.refresh_margin:
            return False
        request = LoginRequest("auth.cache", self._refresh_url, {})
        self._use(request, stored.answer, expires_at=self._clock() - age + self.token_lifetime)
        return True

    async def _login_answer(
        self, send: LoginSender, refresh_token: str | None
    ) -> tuple[LoginRequest, Mapping[str, Any]]:
        """Refresh the token pair, or exchange anew when there is no usable refresh token."""
        self._refresh_token = None  # single use
        if refresh_token is not None:
            request = self._login(
                "auth.refresh", self._refresh_url, {"refresh_token": refresh_token}, refresh_token
            )
            try:
                return request, await send(request)
            except AuthenticationError as exc:
                logger.info(
                    "RingCX refused the refresh token (HTTP %d); logging in again", exc.status
                )
            except BaseException:
                # Not refused, just not answered: the token may still be good next time.
                self._refresh_token = refresh_token
                raise
        return await self._exchange(send)

    async def _exchange(self, send: LoginSender) -> tuple[LoginRequest, Mapping[str, Any]]:
        """Trade a RingCentral token for RingCX tokens, getting a new one once if refused."""
        for last in (False, True):
            rc_token = await self._source.token(send)
            form = {"rcAccessToken": rc_token, "rcTokenType": "Bearer"}
            request = self._login("auth.exchange", self._exchange_url, form, rc_token)
            await self.exchange_limit.acquire(Priority.ACTION)
            try:
                return request, await send(request)
            except AuthenticationError:
                if last or not self._source.rejected():
                    raise
                logger.info("RingCX refused the RingCentral token; getting a new one")
            finally:
                await self.exchange_limit.release()
        raise AssertionError("unreachable")  # pragma: no cover

    def _login(
        self, operation: str, url: str, form: Mapping[str, str], secret: str
    ) -> LoginRequest:
        return LoginRequest(operation, url, form, secrets=(secret,), timeout=self.timeout)

    def _use(self, request: LoginRequest, answer: Mapping[str, Any], *, expires_at: float) -> None:
        """Take the tokens and account details of a login answer; ``expires_at`` on ``clock``."""
        access = _access_token(answer, "accessToken", request)
        refresh_token = answer.get("refreshToken")
        self._access = access
        self._headers = {"Authorization": f"Bearer {access}"}
        self._refresh_token = refresh_token if isinstance(refresh_token, str) else None
        self._rejected = None
        # Timed from before the request, so the estimate errs on the early side.
        self._expires_at = expires_at
        self._renew_at = expires_at - self.refresh_margin
        if "mainAccountId" in answer:
            self._main_account_id = _wire_id(answer["mainAccountId"])
        if "agentDetails" in answer:
            self._agent_details = _agent_details(answer["agentDetails"])


class _Renewal:
    """One token renewal in flight: its task, the sender it uses, the requests waiting."""

    __slots__ = ("send", "task", "waiters")

    def __init__(self, task: asyncio.Task[None], send: LoginSender) -> None:
        self.task = task
        self.send = send
        self.waiters = 0


def coerce_auth(auth: Auth | str) -> Auth:
    """Accept an ``Auth`` or a bearer token string."""
    if isinstance(auth, Auth):
        return auth
    if isinstance(auth, str):
        return BearerToken(auth)
    raise ValidationError(
        "auth", f"expected a token string or an Auth object; got {type(auth).__name__}"
    )
