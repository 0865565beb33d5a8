"""One turn at a time per thread, within a process and across instances sharing Redis."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

log = logging.getLogger(__name__)


class ThreadBusy(RuntimeError):
    """Another request is running a turn on the thread (in this process or, with Redis, in any
    instance sharing it)."""


class ThreadLocks:
    """One turn at a time per thread: two concurrent turns on one thread would fork its history.

    Within a process an ``asyncio.Lock`` per thread. When instances share threads through Redis
    (``LMSA_CHECKPOINTER=redis``) each turn also holds a lease in Redis (redis-py's ``Lock``:
    a token-checked key with an expiry), so a second instance behind the load balancer answers
    409 too instead of forking the thread. The lease is renewed while the turn runs and expires
    on its own if the instance dies mid-turn."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        key_prefix: str = "lmsa",
        lease_seconds: float = 30.0,
        max_connections: int = 32,
        pool_timeout: float = 20.0,
    ) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._redis_url = redis_url
        self._redis: Any = None
        self._prefix = key_prefix
        self._lease = lease_seconds
        self._max_connections = max_connections
        self._pool_timeout = pool_timeout

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[thread_id] = lock
        if lock.locked():
            raise ThreadBusy(thread_id)
        async with lock:
            yield

    @asynccontextmanager
    async def lease(self, thread_id: str) -> AsyncIterator[None]:
        """The cross-instance part, taken once the turn is admitted to run (a request waiting
        for a turn slot forks nothing, and holding no lease keeps Redis traffic bounded by the
        turns that run)."""
        if self._redis_url is None:
            yield
            return
        self._connect()
        lease = self._redis.lock(
            f"{{{self._prefix}:{thread_id}}}:turn", timeout=self._lease, blocking=False
        )
        if not await lease.acquire():
            raise ThreadBusy(thread_id)
        renewal = asyncio.create_task(self._renew(lease, thread_id))
        try:
            yield
        finally:
            renewal.cancel()
            # Shielded: a streaming client that hangs up cancels this generator through an
            # anyio scope that would cancel the release too, leaving the thread "busy" (409)
            # until the lease expired.
            with anyio.CancelScope(shield=True):
                await asyncio.gather(renewal, return_exceptions=True)
                try:
                    with anyio.fail_after(5):
                        await lease.release()
                except Exception as error:  # expired or Redis gone: the lease times out itself
                    log.warning("could not release the turn lease of %s: %s", thread_id, error)

    async def busy(self, thread_id: str) -> bool:
        """Whether a turn holds the thread now, here or (with Redis) on any instance: lets a
        caller answer 409 before it starts a response, racing only with a turn starting now
        (which ``hold``/``lease`` still refuse)."""
        lock = self._locks.get(thread_id)
        if lock is not None and lock.locked():
            return True
        if self._redis_url is None:
            return False
        self._connect()
        return bool(await self._redis.exists(f"{{{self._prefix}:{thread_id}}}:turn"))

    def _connect(self) -> None:
        if self._redis is None:
            from lmsa.redis_clients import async_client

            self._redis = async_client(
                self._redis_url,  # type: ignore[arg-type]
                max_connections=self._max_connections,
                pool_timeout=self._pool_timeout,
                socket_timeout=5.0,
            )

    async def _renew(self, lease: Any, thread_id: str) -> None:
        from redis.exceptions import LockNotOwnedError

        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await lease.reacquire()
            except LockNotOwnedError:
                log.error(
                    "the turn lease of %s expired while its turn ran (Redis unreachable for %g "
                    "s?); another instance may run a turn on it",
                    thread_id,
                    self._lease,
                )
                return
            except Exception as error:
                log.warning("could not renew the turn lease of %s: %s", thread_id, error)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
