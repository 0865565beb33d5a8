"""Per-endpoint circuit breakers: a known-dead endpoint is skipped without a request.

State and transitions come from ``purgatory`` (closed -> open after ``threshold`` consecutive
failures, open -> half-open after ``cooldown`` seconds, half-open -> closed on a success or back
to open on a failure), stored in memory or, when Redis is configured, in Redis so every lmsa
instance agrees on which endpoints are down. purgatory lets every request through while
half-open; this wrapper adds the missing limit on concurrent probes (per instance), so an
endpoint that is coming back is not hit by the whole backlog at once.

In memory, an endpoint's breaker is created by its first failure that counts: until then it is
closed with no failures, where purgatory does nothing on entry or on success. purgatory (and
redis-py, which it imports) so load only when an endpoint fails, not before a command's first
request. Redis-shared breakers are read on every request, as another instance may have opened
them.
"""

from __future__ import annotations

import time
from typing import Any

from lmsa.llm.errors import TRIPS_BREAKER, classify
from lmsa.observability.metrics import BREAKER_STATE

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
        self._redis: Any = None
        self._uow: Any = None
        if redis_url:
            from lmsa.llm.breaker_redis import shared_unit_of_work
            from lmsa.redis_clients import async_client

            self._redis = async_client(redis_url, **(redis_pool or {}))
            self._uow = shared_unit_of_work(self._redis, f"{key_prefix}:llm:breaker:")
        self.shared = redis_url is not None
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.half_open_probes = max(1, half_open_probes)
        self._factory: Any = None
        self._probing: dict[str, int] = {}
        self._created: set[str] = set()  # in memory: the endpoints that have failed

    async def _breaker(self, name: str) -> Any:
        if self._factory is None:
            from purgatory import AsyncCircuitBreakerFactory, AsyncInMemoryUnitOfWork

            factory = AsyncCircuitBreakerFactory(
                default_threshold=self.threshold,
                default_ttl=self.cooldown,
                uow=self._uow or AsyncInMemoryUnitOfWork(),
            )
            await factory.initialize()
            self._factory = factory
        self._created.add(name)
        return await self._factory.get_breaker(name)

    async def _existing(self, name: str) -> Any:
        """The breaker, or ``None`` for an in-memory one that has never failed (closed)."""
        if not self.shared and name not in self._created:
            return None
        return await self._breaker(name)

    async def state(self, name: str) -> str:
        """``closed``, ``half-opened`` or ``opened`` (an elapsed cooldown reads as half-open)."""
        breaker = await self._existing(name)
        return "closed" if breaker is None else _state_of(breaker.context)

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


class _Guard:
    def __init__(self, breakers: Breakers, name: str) -> None:
        self.breakers = breakers
        self.name = name
        self._probe = False
        self._breaker: Any = None

    async def __aenter__(self) -> None:
        breakers = self.breakers
        self._breaker = await breakers._existing(self.name)
        if self._breaker is None:
            return  # closed, no failures: entering would change nothing
        if _state_of(self._breaker.context) == "half-opened":
            if breakers._probing.get(self.name, 0) >= breakers.half_open_probes:
                from purgatory.domain.model import OpenedState

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
        breaker = self._breaker
        if breaker is None:
            # Entered while closed with no failures, where purgatory's entry changes nothing:
            # the exit goes to the breaker as if it had been entered, once there is one (this
            # failure creates it, or a concurrent one did).
            if exc is None and self.name not in self.breakers._created:
                BREAKER_STATE.labels(self.name).set(0)
                return
            breaker = await self.breakers._breaker(self.name)
        try:
            await breaker.__aexit__(exc_type, exc, tb)
        finally:
            self._release_probe()
            BREAKER_STATE.labels(self.name).set(_STATE_VALUE.get(str(breaker.context.state), 0))

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
    # Only a breaker raises OpenedState, and a breaker exists only once purgatory is loaded.
    from purgatory.domain.model import OpenedState

    return isinstance(error, OpenedState)
