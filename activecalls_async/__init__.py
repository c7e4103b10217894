"""Async-first client for the RingCX (Engage Voice) Active Calls API."""

from . import _log  # noqa: F401  (reads ACTIVECALLS_LOG once, at import)
from ._endpoints import RetryClass
from ._version import __version__
from ._wire.response import RawResponse
from .auth import ApiToken, Auth, BearerToken, RingCentralAuth
from .client import DEFAULT_BASE_URL, ActiveCallsClient, ClientOptions
from .errors import (
    ActionRejectedError,
    ActiveCallsError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    ValidationError,
)
from .limits.priority import Priority
from .limits.ratelimit import Limiter, RateLimit
from .limits.stats import ClientStats
from .models import (
    RESULT_PRODUCTS,
    Account,
    ActiveCall,
    CallEvent,
    CallEventType,
    Product,
    QueueCheck,
    SessionType,
)
from .options import (
    DEFAULT,
    CallOptions,
    Default,
    PriorityOption,
    RetryOption,
    Timeout,
    TimeoutOption,
)
from .pagination import ActiveCallPage, CallWalk, FanOut, PageWalk, Target
from .retry import RetryPolicy
from .watch import CallWatch, Snapshot, SnapshotWatch

__all__ = [
    "DEFAULT",
    "DEFAULT_BASE_URL",
    "RESULT_PRODUCTS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "ActionRejectedError",
    "ActiveCall",
    "ActiveCallPage",
    "ActiveCallsClient",
    "ActiveCallsError",
    "ApiToken",
    "Auth",
    "AuthenticationError",
    "BadRequestError",
    "BearerToken",
    "CallEvent",
    "CallEventType",
    "CallOptions",
    "CallWalk",
    "CallWatch",
    "ClientClosedError",
    "ClientOptions",
    "ClientStats",
    "Default",
    "FanOut",
    "FieldError",
    "Limiter",
    "NotFoundError",
    "PageWalk",
    "PermissionDeniedError",
    "Priority",
    "PriorityOption",
    "Product",
    "QueueCheck",
    "RateLimit",
    "RateLimitError",
    "RawResponse",
    "ResponseDecodeError",
    "RetryClass",
    "RetryOption",
    "RetryPolicy",
    "RingCentralAuth",
    "ServerError",
    "SessionType",
    "Snapshot",
    "SnapshotWatch",
    "Target",
    "Timeout",
    "TimeoutOption",
    "ValidationError",
    "__version__",
]
