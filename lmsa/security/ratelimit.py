"""Request rate limits on the ``limits`` library: a moving window per scope key (API key, user
or thread), kept in Redis when configured so every lmsa instance shares the counts, in memory
otherwise.

Redis storage runs on a client from :mod:`lmsa.redis_clients` (bounded, blocking pool), a
single Redis or, for a ``redis+cluster://`` URL, a Redis Cluster: every window is one key and
limits' Lua scripts name only that key, so a cluster needs no hash tags.

Interfaces call :meth:`RateLimiter.hit` once per request; a refused request carries the seconds
until a slot frees up, for an HTTP 429 ``Retry-After`` or a CLI message.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from lmsa.observability.metrics import RATE_LIMITED


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_s: float
    """Seconds until the next request would be allowed (0 when allowed)."""
    limit: int
    remaining: int

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` wants whole seconds; round up so a client that obeys it succeeds."""
        return str(max(1, math.ceil(self.retry_after_s)))

    def message(self) -> str:
        return (
            f"Rate limit reached ({self.limit} requests per window); try again in "
            f"{self.retry_after_header} s."
        )


class RateLimiter:
    """``rate`` in limits' notation, e.g. ``"30/minute"`` or ``"5/second;100/hour"``."""

    def __init__(
        self,
        rate: str,
        *,
        storage_uri: str = "memory://",
        key_prefix: str = "lmsa:ratelimit",
        redis_pool: dict[str, Any] | None = None,
    ) -> None:
        from limits import parse_many
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.items = parse_many(rate)
        self.in_memory = storage_uri.startswith("memory")
        self._open = lambda: _redis_storage(storage_uri, key_prefix, redis_pool or {})
        self._storage: Any = None
        self._limiter: Any = None
        if self.in_memory:
            self._storage = storage_from_string(storage_uri)
            self._limiter = MovingWindowRateLimiter(self._storage)
        self._opening = threading.Lock()  # hits run in worker threads

    @property
    def storage(self) -> Any:
        """limits' storage, opened on first use: a cluster client connects when it is built,
        and a server must start (and report its store) even while Redis is down."""
        if self._storage is None:
            from limits.strategies import MovingWindowRateLimiter

            with self._opening:
                if self._storage is None:
                    storage = self._open()
                    self._limiter = MovingWindowRateLimiter(storage)
                    self._storage = storage
        return self._storage

    @classmethod
    def from_settings(cls, settings: Any) -> RateLimiter | None:
        """The limiter the settings ask for, or None when rate limiting is off."""
        rate = getattr(settings, "rate_limit", None)
        if not rate:
            return None
        storage = getattr(settings, "rate_limit_storage", "memory")
        uri = settings.redis_url if storage == "redis" else "memory://"
        prefix = f"{getattr(settings, 'redis_key_prefix', 'lmsa')}:ratelimit"
        pool = {
            name: getattr(settings, f"redis_{name}")
            for name in ("max_connections", "pool_timeout")
            if hasattr(settings, f"redis_{name}")
        }
        return cls(rate, storage_uri=uri, key_prefix=prefix, redis_pool=pool)

    def hit(self, scope_key: str, *, scope: str = "key") -> RateDecision:
        """Counts one request for ``scope_key``; ``scope`` (api_key/user/thread) labels the
        metric. All configured windows must allow it."""
        self.storage  # noqa: B018  # opens the storage (and the limiter) on first use
        for item in self.items:
            if not self._limiter.hit(item, scope_key):
                stats = self._limiter.get_window_stats(item, scope_key)
                RATE_LIMITED.labels(scope=scope).inc()
                return RateDecision(False, max(0.0, stats.reset_time - time.time()), item.amount, 0)
        first = self.items[0]
        remaining = self._limiter.get_window_stats(first, scope_key).remaining
        return RateDecision(True, 0.0, first.amount, remaining)

    def reset(self) -> None:
        self.storage.reset()


def _redis_storage(uri: str, key_prefix: str, pool: dict[str, Any]) -> Any:
    """limits' Redis storage on a client from the one factory: a single Redis through its
    public ``connection_pool`` option; a cluster through a subclass, because limits' cluster
    storage only builds clients of its own (on unbounded pools)."""
    from limits.storage import RedisClusterStorage, RedisStorage
    from limits.storage.base import Storage

    from lmsa.redis_clients import is_cluster_url, sync_client

    client: Any = sync_client(uri, **pool)
    if not is_cluster_url(uri):
        single = RedisStorage(uri, connection_pool=client.connection_pool, key_prefix=key_prefix)
        single.lmsa_client = client  # type: ignore[attr-defined]  # owns (closes) the pool
        return single

    class _ClusterStorage(RedisClusterStorage):
        def __init__(self) -> None:
            # RedisClusterStorage.__init__ would build a second client; set what it sets.
            self.key_prefix = key_prefix
            self.target_server = "redis"
            self.dependency = self.dependencies["redis"].module
            self.storage = client
            self.initialize_storage(uri)
            Storage.__init__(self, uri)

        def reset(self) -> int | None:
            # limits' own reset runs KEYS on every node; SCAN does not block them.
            count = 0
            for key in client.scan_iter(match=self.prefixed_key("*"), count=1000):
                count += int(client.delete(key))
            return count

    return _ClusterStorage()
