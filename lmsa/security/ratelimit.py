"""Request rate limits on the ``limits`` library: a moving window per scope key (API key, user
or thread), kept in Redis when configured so every lmsa instance shares the counts, in memory
otherwise.

Interfaces call :meth:`RateLimiter.hit` once per request; a refused request carries the seconds
until a slot frees up, for an HTTP 429 ``Retry-After`` or a CLI message.
"""

from __future__ import annotations

import math
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
        self, rate: str, *, storage_uri: str = "memory://", key_prefix: str = "lmsa:ratelimit"
    ) -> None:
        from limits import parse_many
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.items = parse_many(rate)
        options: dict[str, Any] = {}
        if not storage_uri.startswith("memory"):
            options["key_prefix"] = key_prefix
        self.storage = storage_from_string(storage_uri, **options)
        self._limiter = MovingWindowRateLimiter(self.storage)

    @classmethod
    def from_settings(cls, settings: Any) -> RateLimiter | None:
        """The limiter the settings ask for, or None when rate limiting is off."""
        rate = getattr(settings, "rate_limit", None)
        if not rate:
            return None
        storage = getattr(settings, "rate_limit_storage", "memory")
        uri = settings.redis_url if storage == "redis" else "memory://"
        prefix = f"{getattr(settings, 'redis_key_prefix', 'lmsa')}:ratelimit"
        return cls(rate, storage_uri=uri, key_prefix=prefix)

    def hit(self, scope_key: str, *, scope: str = "key") -> RateDecision:
        """Counts one request for ``scope_key``; ``scope`` (api_key/user/thread) labels the
        metric. All configured windows must allow it."""
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
