"""``RingCentralAuth``: RingCX tokens from a RingCentral login, renewed before they expire
and whenever the API calls them expired, once for every request that waits (and, with a
``TokenCache``, once for a whole fleet)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import attrs
from yarl import URL

from .. import _validators as check
from .._aio import retrieve, stop_task
from ..errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
    ValidationError,
)
from ..limits.priority import Priority
from ..limits.ratelimit import Limiter, RateLimit
from .base import Auth, LoginRequest, LoginSender, access_token, clean_token
from .cache import StoredLogin, TokenCache
from .sources import DEFAULT_RC_SERVER, JwtGrant, TokenSource, token_source

if TYPE_CHECKING:  # Unpack is in typing from Python 3.11; only type checkers need it
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_AUTH_URL",
    "AgentDetails",
    "LoginOptions",
    "LoginSettings",
    "RingCentralAuth",
]

logger = logging.getLogger("activecalls_async")

#: Where RingCX exchanges and refreshes tokens.
DEFAULT_AUTH_URL = "https://ringcx.ringcentral.com"


class LoginOptions(TypedDict, total=False):
    """The keyword options of ``RingCentralAuth`` and ``from_jwt`` (``LoginSettings``)."""

    auth_url: str
    token_lifetime: float
    refresh_margin: float
    timeout: float | None
    exchange_limit: Limiter | None
    allow_insecure_http: bool
    clock: Callable[[], float]
    cache: TokenCache | None


def _exchange_limit(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Limiter):
        raise ValidationError("exchange_limit", "expected a RateLimit (or other Limiter)")


def _cache(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, TokenCache):
        raise ValidationError("cache", "expected a TokenCache (load, store, renewal)")


def _lifetime(value: Any) -> float:
    return check.seconds("token_lifetime", value)


def _timeout(value: Any) -> float | None:
    return check.optional_seconds("timeout", value)


@attrs.frozen(kw_only=True)
class LoginSettings:
    """How a ``RingCentralAuth`` logs in, each option checked once.

    ``auth_url`` is where RingCX exchanges and refreshes tokens (plain ``http://`` only
    to this machine, unless ``allow_insecure_http``). The RingCX token is assumed to
    live ``token_lifetime`` seconds and is renewed ``refresh_margin`` seconds before
    that. Each login request gets ``timeout`` seconds (``None``: no limit). Exchanges
    wait for ``exchange_limit`` (default: a ``RateLimit(5, per=60)`` of the object's
    own, the endpoint's documented limit). ``clock`` times the token's life; ``cache``
    shares the login (see ``RingCentralAuth``).
    """

    auth_url: str = DEFAULT_AUTH_URL
    token_lifetime: float = attrs.field(default=300.0, converter=_lifetime)
    refresh_margin: float = 60.0
    timeout: float | None = attrs.field(default=30.0, converter=_timeout)
    exchange_limit: Limiter | None = attrs.field(default=None, validator=_exchange_limit)
    allow_insecure_http: bool = False
    clock: Callable[[], float] = time.monotonic
    cache: TokenCache | None = attrs.field(default=None, validator=_cache)

    def __attrs_post_init__(self) -> None:
        margin = check.finite_number(self.refresh_margin)
        if margin is None or not 0 <= margin < self.token_lifetime:
            raise ValidationError("refresh_margin", "expected seconds >= 0 and < token_lifetime")
        object.__setattr__(self, "refresh_margin", margin)
        url = check.base_url(
            "auth_url", self.auth_url, allow_insecure_http=self.allow_insecure_http
        )
        object.__setattr__(self, "auth_url", url)


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
    ``TokenSource``; the keyword options are ``LoginSettings``'s, the same for
    ``from_jwt``. The RingCX token is assumed to live ``token_lifetime`` seconds and
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
        **options: Unpack[LoginOptions],
    ) -> None:
        #: How this object logs in (``LoginSettings``), checked when it was made.
        self.settings = settings = LoginSettings(**options)
        self._source = token_source(rc_access_token)
        self.exchange_limit: Limiter = settings.exchange_limit or RateLimit(5, per=60.0)
        self._clock = settings.clock
        exchange_url = URL(f"{settings.auth_url}/api/auth/login/rc/accesstoken")
        self._exchange_url = str(exchange_url.with_query(includeRefresh="true"))
        self._refresh_url = f"{settings.auth_url}/api/auth/token/refresh"
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._headers: Mapping[str, str] = {}
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._renewal: _Renewal | None = None
        self._cache = settings.cache
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
        **options: Unpack[LoginOptions],
    ) -> RingCentralAuth:
        """Log in with a RingCentral JWT credential (JWT grant first, then the exchange);
        ``options`` are ``RingCentralAuth``'s (``LoginSettings``)."""
        settings = LoginSettings(**options)
        grant = JwtGrant(
            client_id=client_id,
            client_secret=client_secret,
            jwt=jwt,
            rc_server=check.base_url(
                "rc_server", rc_server, allow_insecure_http=settings.allow_insecure_http
            ),
            timeout=settings.timeout,
            clock=settings.clock,
        )
        return cls(grant, **options)

    @property
    def auth_url(self) -> str:
        """Where RingCX exchanges and refreshes tokens."""
        return self.settings.auth_url

    @property
    def token_lifetime(self) -> float:
        """Seconds a RingCX token is assumed to live."""
        return self.settings.token_lifetime

    @property
    def refresh_margin(self) -> float:
        """Seconds before its assumed end that a token is renewed."""
        return self.settings.refresh_margin

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
            await stop_task(renewal.task)

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
        access = clean_token(stored.answer.get("accessToken"))
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
        return LoginRequest(operation, url, form, secrets=(secret,), timeout=self.settings.timeout)

    def _use(self, request: LoginRequest, answer: Mapping[str, Any], *, expires_at: float) -> None:
        """Take the tokens and account details of a login answer; ``expires_at`` on ``clock``."""
        access = access_token(answer, "accessToken", request)
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
