"""Opens the checkpointer the settings ask for, as an async context manager, so every interface
(CLI, HTTP server) gets the same persistence and closes its connections the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from lmsa.config import Settings
from lmsa.redis_clients import redact_url


class CheckpointerError(RuntimeError):
    """The configured checkpointer cannot be opened; the message says which and how to fix it."""


def describe_checkpointer(settings: Settings) -> str:
    if settings.checkpointer == "sqlite":
        return f"sqlite ({settings.sqlite_file})"
    if settings.checkpointer == "redis":
        return f"redis ({redact_url(settings.redis_url)})"
    return "memory (threads are lost when the process exits)"


@asynccontextmanager
async def open_checkpointer(
    settings: Settings, *, prune: bool = False
) -> AsyncIterator[BaseCheckpointSaver]:
    """The configured saver. ``prune`` applies ``LMSA_THREAD_RETENTION`` on opening: only the
    entry points that run turns ask for it, so reading the store (``lmsa doctor``, ``threads
    history``) never deletes what it is about to show."""
    if settings.checkpointer == "memory":
        yield InMemorySaver()
    elif settings.checkpointer == "sqlite":
        from lmsa.checkpoint.sqlite import RetainingSqliteSaver

        path = settings.sqlite_file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointerError(
                f"Cannot create the conversation store folder {path.parent}: {error.strerror}. "
                "Set LMSA_DATA_DIR (or LMSA_SQLITE_PATH) to a writable place."
            ) from error
        async with RetainingSqliteSaver.from_conn_string(
            str(path), keep_intermediate=settings.checkpoint_keep_intermediate
        ) as saver:
            if prune and settings.thread_retention is not None:
                from lmsa.checkpoint.retention import prune_threads

                await saver.setup()
                await prune_threads(saver, timedelta(seconds=settings.thread_retention))
            yield saver
    else:
        from lmsa.checkpoint.redis import AsyncRedisSaver, CheckpointerUnavailable

        async with AsyncExitStack() as stack:
            try:
                redis_saver = await stack.enter_async_context(
                    AsyncRedisSaver.from_conn_string(
                        settings.redis_url,
                        ttl=settings.redis_ttl,
                        key_prefix=settings.redis_key_prefix,
                        max_connections=settings.redis_max_connections,
                        pool_timeout=settings.redis_pool_timeout,
                        keep_intermediate=settings.checkpoint_keep_intermediate,
                    )
                )
            except CheckpointerUnavailable as error:
                raise CheckpointerError(str(error)) from error
            yield redis_saver
