"""The checkpointer ``langgraph dev`` opens (``langgraph.json``, ``checkpointer.path``).

An entry point of its own, like the CLI and the HTTP server: it reads the settings once with
:func:`lmsa.config.load_settings`, so ``LMSA_REDIS_*`` mean the same here as everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lmsa.checkpoint.redis.aio import AsyncRedisSaver
from lmsa.config import load_settings


@asynccontextmanager
async def async_redis_checkpointer() -> AsyncIterator[AsyncRedisSaver]:
    """An :class:`AsyncRedisSaver` configured by the ``LMSA_REDIS_*`` settings: URL, TTL, key
    prefix, pool size and pool timeout, and by ``LMSA_CHECKPOINT_KEEP_INTERMEDIATE`` (see
    :class:`lmsa.config.Settings`)."""
    settings = load_settings()  # a bad value is a ConfigError (a ValueError) naming it
    async with AsyncRedisSaver.from_conn_string(
        settings.redis_url,
        ttl=settings.redis_ttl,
        key_prefix=settings.redis_key_prefix,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
        keep_intermediate=settings.checkpoint_keep_intermediate,
    ) as saver:
        yield saver
