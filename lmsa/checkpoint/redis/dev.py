"""The checkpointer ``langgraph dev`` opens (``langgraph.json``, ``checkpointer.path``).

An entry point of its own, like the CLI and the HTTP server: it reads the settings once with
:func:`lmsa.config.load_settings`, so ``LMSA_REDIS_*`` mean the same here as everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError

from lmsa.checkpoint.redis.aio import AsyncRedisSaver
from lmsa.config import Settings, load_settings


def _settings() -> Settings:
    """The settings, or a ValueError naming the environment variables that are wrong."""
    try:
        return load_settings()
    except ValidationError as error:
        prefix = str(Settings.model_config.get("env_prefix", ""))
        problems = "; ".join(
            f"{prefix}{'_'.join(str(part) for part in problem['loc']).upper()}: "
            f"{problem['msg']} (got {problem['input']!r})"
            for problem in error.errors()
        )
        raise ValueError(f"Invalid settings: {problems}") from error


@asynccontextmanager
async def async_redis_checkpointer() -> AsyncIterator[AsyncRedisSaver]:
    """An :class:`AsyncRedisSaver` configured by the ``LMSA_REDIS_*`` settings: URL, TTL, key
    prefix, pool size and pool timeout (see :class:`lmsa.config.Settings`)."""
    settings = _settings()
    async with AsyncRedisSaver.from_conn_string(
        settings.redis_url,
        ttl=settings.redis_ttl,
        key_prefix=settings.redis_key_prefix,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    ) as saver:
        yield saver
