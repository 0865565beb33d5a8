"""Rate limiting on ``limits`` with in-memory storage (Redis: tests/integration)."""

from __future__ import annotations

from types import SimpleNamespace

from lmsa.observability.metrics import RATE_LIMITED
from lmsa.security import RateLimiter


def test_moving_window_refuses_with_a_retry_time() -> None:
    limiter = RateLimiter("3/minute")
    decisions = [limiter.hit("key-a", scope="api_key") for _ in range(3)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [2, 1, 0]
    before = RATE_LIMITED.labels(scope="api_key")._value.get()
    refused = limiter.hit("key-a", scope="api_key")
    assert not refused.allowed
    assert 0 < refused.retry_after_s <= 60
    assert 1 <= int(refused.retry_after_header) <= 60
    assert "try again in" in refused.message()
    assert RATE_LIMITED.labels(scope="api_key")._value.get() == before + 1


def test_scopes_are_independent_and_every_window_applies() -> None:
    limiter = RateLimiter("2/second;3/hour")
    assert limiter.hit("a").allowed and limiter.hit("b").allowed
    assert limiter.hit("a").allowed
    assert not limiter.hit("a").allowed  # 2/second
    assert limiter.hit("b").allowed


def test_from_settings() -> None:
    settings = SimpleNamespace(rate_limit="", redis_url="redis://x", redis_key_prefix="p")
    assert RateLimiter.from_settings(settings) is None
    settings.rate_limit, settings.rate_limit_storage = "5/minute", "memory"
    limiter = RateLimiter.from_settings(settings)
    assert limiter is not None and limiter.items[0].amount == 5
