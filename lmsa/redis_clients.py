"""The one place lmsa builds redis-py clients: every client sits on a bounded, blocking pool.

redis-py's default pool opens a new connection for every concurrent command and, past its
limit, fails the command at once; a burst of requests then turns into failed turns. Here a
burst waits up to ``pool_timeout`` for a free connection instead. The defaults equal
``Settings.redis_max_connections`` and ``Settings.redis_pool_timeout``.

Each caller owns the client it builds and closes it. An asyncio client's connections belong
to the event loop that opened them, so asyncio clients are never shared across callers.
redis-py is imported on first use: most runs (sqlite, no shared LLM state) never need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lmsa.config import Settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aredis

DEFAULT_MAX_CONNECTIONS: int = Settings.model_fields["redis_max_connections"].default
DEFAULT_POOL_TIMEOUT: float = Settings.model_fields["redis_pool_timeout"].default
DEFAULT_CONNECT_TIMEOUT = 5.0

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_POOL_TIMEOUT",
    "async_client",
    "async_client_for",
    "redact_url",
    "reject_decoded_client",
    "sync_client",
    "sync_client_for",
]


def _pool_options(
    max_connections: int,
    pool_timeout: float,
    socket_timeout: float | None,
    socket_connect_timeout: float | None,
) -> dict[str, Any]:
    return {
        "max_connections": max_connections,
        "timeout": pool_timeout,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
    }


def sync_client(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    socket_timeout: float | None = None,
    socket_connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
) -> redis.Redis:
    """A client for ``url`` that owns (and closes) its bounded pool; ``socket_timeout`` None
    waits for replies as long as Redis takes. Raises ValueError for a malformed URL."""
    import redis

    pool = redis.BlockingConnectionPool.from_url(
        url, **_pool_options(max_connections, pool_timeout, socket_timeout, socket_connect_timeout)
    )
    return redis.Redis.from_pool(pool)


def async_client(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    socket_timeout: float | None = None,
    socket_connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
) -> aredis.Redis:
    """The asyncio twin of :func:`sync_client`; use it on one event loop only."""
    import redis.asyncio as aredis

    pool = aredis.BlockingConnectionPool.from_url(
        url, **_pool_options(max_connections, pool_timeout, socket_timeout, socket_connect_timeout)
    )
    return aredis.Redis.from_pool(pool)


def sync_client_for(settings: Settings, url: str | None = None) -> redis.Redis:
    """:func:`sync_client` for ``url`` (default ``settings.redis_url``) with the pool bounds
    the settings ask for."""
    return sync_client(
        url or settings.redis_url,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    )


def async_client_for(settings: Settings, url: str | None = None) -> aredis.Redis:
    """:func:`async_client` for ``url`` (default ``settings.redis_url``) with the pool bounds
    the settings ask for."""
    return async_client(
        url or settings.redis_url,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    )


def redact_url(url: str) -> str:
    """Hide the password of a Redis URL so it can go into logs and error messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "<unparseable Redis URL>"
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def reject_decoded_client(client: Any, user: str = "The checkpointer") -> None:
    """Refuse a client built with ``decode_responses=True`` for a ``user`` of binary data."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    if kwargs.get("decode_responses"):
        raise ValueError(
            f"{user} stores binary data; create the Redis client with decode_responses=False."
        )
