"""The request queue: per-endpoint concurrency slots, priority levels, fairness, a timeout.

LM Studio serves a few predictions at a time (4 by default) and queues the rest without telling
anyone how long they will wait. lmsa keeps its own queue in front of each endpoint so that an
interactive turn overtakes background work, one busy conversation cannot starve the others
(waiters are served round-robin across conversations within a priority level), and a request
that cannot get a slot in time fails (or falls back) with a message that says so.

Hand-written because no well-kept asyncio library offers prioritised, per-key-fair semaphores
(``asyncio.PriorityQueue`` orders, but neither times out nor rotates between keys); the state is
small and only touched from one event loop. With Redis configured the limit can also be global
across instances: a lease in a sorted set per endpoint (expired leases are dropped, so a crashed
instance cannot hold slots forever), taken after the local slot and polled until the deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

from lmsa.llm.errors import QueueTimeout
from lmsa.observability.metrics import QUEUE_DEPTH, QUEUE_WAIT
from lmsa.redis_clients import async_client

PRIORITIES = {"interactive": 0, "background": 1}
_LABELS = {value: name for name, value in PRIORITIES.items()}

_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], 3600)
  return 1
end
return 0
"""


class SlotQueue:
    """Concurrency slots of one endpoint."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(1, limit)
        self.active = 0
        self._waiters: dict[int, OrderedDict[str, deque[asyncio.Future[None]]]] = {}

    @property
    def waiting(self) -> int:
        return sum(len(q) for level in self._waiters.values() for q in level.values())

    @property
    def load(self) -> float:
        """Busy-ness for ``least_busy`` routing: slots in use plus queue, per slot."""
        return (self.active + self.waiting) / self.limit

    async def acquire(self, priority: int, conversation: str, timeout: float) -> float:
        """Take a slot; returns the seconds waited. Raises :class:`QueueTimeout`."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return 0.0
        started = time.perf_counter()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        level = self._waiters.setdefault(priority, OrderedDict())
        level.setdefault(conversation, deque()).append(future)
        depth = QUEUE_DEPTH.labels(self.name, _LABELS.get(priority, str(priority)))
        depth.inc()
        try:
            async with asyncio.timeout(timeout):
                await future
        except BaseException as error:
            self._discard(priority, conversation, future)
            if future.done() and not future.cancelled():
                self.release()  # a slot was handed over just as we gave up: pass it on
            if isinstance(error, TimeoutError):
                QUEUE_WAIT.labels(self.name).observe(time.perf_counter() - started)
                raise QueueTimeout(self.name, self.limit, timeout) from None
            raise
        finally:
            depth.dec()
        waited = time.perf_counter() - started
        QUEUE_WAIT.labels(self.name).observe(waited)
        return waited

    def release(self) -> None:
        """Hand the slot to the next waiter (highest priority, next conversation in turn)."""
        while self._waiters:
            priority = min(self._waiters)
            level = self._waiters[priority]
            conversation, queue = next(iter(level.items()))
            future = queue.popleft()
            if queue:
                level.move_to_end(conversation)  # round-robin across conversations
            else:
                del level[conversation]
            if not level:
                del self._waiters[priority]
            if not future.done():
                future.set_result(None)  # the slot moves to the waiter; ``active`` is unchanged
                return
        self.active -= 1

    def _discard(self, priority: int, conversation: str, future: asyncio.Future[None]) -> None:
        level = self._waiters.get(priority)
        queue = level.get(conversation) if level else None
        if queue is None or level is None:
            return
        try:
            queue.remove(future)
        except ValueError:
            return
        if not queue:
            del level[conversation]
        if not level:
            del self._waiters[priority]


class GlobalLimit:
    """Slots shared by every lmsa instance through Redis (leases in a sorted set)."""

    def __init__(
        self,
        redis_url: str,
        key_prefix: str,
        lease_seconds: float,
        redis_pool: dict[str, Any] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self._pool = redis_pool or {}  # max_connections / pool_timeout of the shared client
        self.prefix = f"{key_prefix}:llm:slots:"
        self.lease_seconds = lease_seconds
        self._redis: Any = None
        self._script: Any = None

    def _client(self) -> Any:
        if self._redis is None:
            self._redis = async_client(self.redis_url, **self._pool)
            self._script = self._redis.register_script(_ACQUIRE_LUA)
        return self._redis

    async def acquire(self, name: str, limit: int, timeout: float) -> str:
        self._client()
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            now = time.time()
            granted = await self._script(
                keys=[self.prefix + name], args=[now, now + self.lease_seconds, limit, token]
            )
            if int(granted) == 1:
                return token
            if time.monotonic() + delay > deadline:
                raise QueueTimeout(name, limit, timeout)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def release(self, name: str, token: str) -> None:
        await self._client().zrem(self.prefix + name, token)

    async def aclose(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()
