"""Per-endpoint circuit breakers: a known-dead endpoint is skipped without a request.

State and transitions come from ``purgatory`` (closed -> open after ``threshold`` consecutive
failures, open -> half-open after ``cooldown`` seconds, half-open -> closed on a success or back
to open on a failure), stored in memory or, when Redis is configured, in Redis so every lmsa
instance agrees on which endpoints are down. purgatory lets every request through while
half-open; this wrapper adds the missing limit on concurrent probes (per instance), so an
endpoint that is coming back is not hit by the whole backlog at once.
"""

from __future__ import annotations

import time
from typing import Any

from purgatory import AsyncCircuitBreakerFactory, AsyncInMemoryUnitOfWork, AsyncRedisUnitOfWork
from purgatory.domain.model import OpenedState
from purgatory.service._async.repository import AsyncRedisRepository

from lmsa.llm.errors import TRIPS_BREAKER, classify
from lmsa.observability.metrics import BREAKER_STATE
from lmsa.redis_clients import async_client

_STATE_VALUE = {"closed": 0, "half-opened": 1, "opened": 2}


class Breakers:
    """One breaker per endpoint name."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        half_open_probes: int,
        redis_url: str | None = None,
        key_prefix: str = "lmsa",
        redis_pool: dict[str, Any] | None = None,
    ) -> None:
        uow: Any
        self._redis: Any = None
        if redis_url:
            self._redis = async_client(redis_url, **(redis_pool or {}))
            uow = _SharedUnitOfWork(self._redis, f"{key_prefix}:llm:breaker:")
        else:
            uow = AsyncInMemoryUnitOfWork()
        self.shared = redis_url is not None
        self.cooldown = cooldown
        self.half_open_probes = max(1, half_open_probes)
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=max(1, threshold),
            default_ttl=cooldown,
            uow=uow,
        )
        self._probing: dict[str, int] = {}
        self._initialised = False

    async def _breaker(self, name: str) -> Any:
        if not self._initialised:
            await self._factory.initialize()
            self._initialised = True
        return await self._factory.get_breaker(name)

    async def state(self, name: str) -> str:
        """``closed``, ``half-opened`` or ``opened`` (an elapsed cooldown reads as half-open)."""
        return _state_of((await self._breaker(name)).context)

    async def allows(self, name: str) -> bool:
        """Whether a request may go to ``name`` now (cheap: no network unless Redis-shared)."""
        state = await self.state(name)
        if state == "closed":
            return True
        if state == "opened":
            return False
        return self._probing.get(name, 0) < self.half_open_probes

    async def aclose(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()

    def guard(self, name: str) -> _Guard:
        """``async with breakers.guard(name):`` around one attempt; raises OpenedState when the
        breaker refuses it (the caller checks :meth:`allows` first, so that is a race)."""
        return _Guard(self, name)


class _SharedRepository(AsyncRedisRepository):
    """purgatory's Redis repository on a client from :mod:`lmsa.redis_clients` (bounded pool,
    single Redis or Cluster) instead of the unbounded one it would build from a URL. Every
    command it sends names one key, so a cluster needs nothing more."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.redis = client
        self.messages = []
        self.prefix = prefix


class _SharedUnitOfWork(AsyncRedisUnitOfWork):
    def __init__(self, client: Any, prefix: str) -> None:
        self.contexts = _SharedRepository(client, prefix)


class _Guard:
    def __init__(self, breakers: Breakers, name: str) -> None:
        self.breakers = breakers
        self.name = name
        self._probe = False
        self._breaker: Any = None

    async def __aenter__(self) -> None:
        breakers = self.breakers
        self._breaker = await breakers._breaker(self.name)
        if _state_of(self._breaker.context) == "half-opened":
            if breakers._probing.get(self.name, 0) >= breakers.half_open_probes:
                raise OpenedState(self.name)
            breakers._probing[self.name] = breakers._probing.get(self.name, 0) + 1
            self._probe = True
        try:
            await self._breaker.__aenter__()
        except BaseException:
            self._release_probe()
            raise

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not (isinstance(exc, Exception) and classify(exc) in TRIPS_BREAKER):
            # A bad request, or a caller that stopped listening: the endpoint did its part.
            exc_type = exc = tb = None
        try:
            await self._breaker.__aexit__(exc_type, exc, tb)
        finally:
            self._release_probe()
            BREAKER_STATE.labels(self.name).set(
                _STATE_VALUE.get(str(self._breaker.context.state), 0)
            )

    def _release_probe(self) -> None:
        if self._probe:
            self._probe = False
            self.breakers._probing[self.name] -= 1


def _state_of(context: Any) -> str:
    state = str(context.state)
    if state == "opened" and time.time() > (context.opened_at or 0) + context.ttl:
        state = "half-opened"
    return state


def is_open_error(error: BaseException) -> bool:
    return isinstance(error, OpenedState)
