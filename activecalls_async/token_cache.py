"""``TokenCache`` and ``StoredLogin``, where they have always been imported from (their
home is ``activecalls_async.auth``)."""

from .auth.cache import StoredLogin, TokenCache

__all__ = ["StoredLogin", "TokenCache"]
