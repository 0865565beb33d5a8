"""Redis-shared circuit breakers (:mod:`lmsa.llm.breaker`): purgatory's Redis unit of work on a
client from :mod:`lmsa.redis_clients`."""

from __future__ import annotations

from typing import Any

from purgatory import AsyncRedisUnitOfWork
from purgatory.service._async.repository import AsyncRedisRepository


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


def shared_unit_of_work(client: Any, prefix: str) -> AsyncRedisUnitOfWork:
    return _SharedUnitOfWork(client, prefix)
