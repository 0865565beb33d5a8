"""``AsyncRedisSaver``: the Redis checkpointer on a ``redis.asyncio.Redis`` client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
)
from redis.exceptions import NoScriptError

from lmsa.checkpoint.redis.base import RedisSaverBase
from lmsa.checkpoint.redis.connect import connect_async
from lmsa.checkpoint.redis.plan import Batch, Emit, Plan
from lmsa.checkpoint.redis.scripts import SCRIPTS
from lmsa.redis_clients import DEFAULT_MAX_CONNECTIONS, DEFAULT_POOL_TIMEOUT, reject_decoded_client

T = TypeVar("T")


class AsyncRedisSaver(RedisSaverBase):
    """Checkpointer on a ``redis.asyncio.Redis`` client (``decode_responses=False``).

    The sync methods exist for code that calls a checkpointer from another thread (e.g. a
    sync graph run in an executor); they hop onto the event loop the saver was created on,
    and refuse to run on that loop's own thread, where waiting would deadlock.
    """

    def __init__(
        self,
        client: aredis.Redis | aredis.RedisCluster,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        keep_intermediate: int | None = None,
    ) -> None:
        super().__init__(
            ttl=ttl, key_prefix=key_prefix, serde=serde, keep_intermediate=keep_intermediate
        )
        reject_decoded_client(client)
        self.client = client
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        url: str,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        keep_intermediate: int | None = None,
    ) -> AsyncIterator[AsyncRedisSaver]:
        """Open a client for ``url``, fail fast if Redis is down, close it on exit (the pool
        is bounded and blocking, see :mod:`lmsa.redis_clients`)."""
        client = await connect_async(
            url, max_connections=max_connections, pool_timeout=pool_timeout
        )
        try:
            yield cls(
                client,
                ttl=ttl,
                key_prefix=key_prefix,
                serde=serde,
                keep_intermediate=keep_intermediate,
            )
        finally:
            await client.aclose()

    # -- driver ---------------------------------------------------------------------------

    async def _load_scripts(self) -> None:
        for script in SCRIPTS:
            await self.client.script_load(script.source)

    async def _execute(self, batch: Batch) -> list[Any]:
        for attempt in (1, 2):
            if len(batch.cmds) == 1 and not batch.transaction:
                try:
                    return [await self.client.execute_command(*batch.cmds[0])]
                except NoScriptError:
                    if attempt == 2:
                        raise
                    await self._load_scripts()
                    continue
            pipe = self.client.pipeline(transaction=batch.transaction)
            for cmd in batch.cmds:
                pipe.execute_command(*cmd)
            results = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                await self._load_scripts()  # Redis restarted or flushed its script cache
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return results
        raise AssertionError("unreachable")

    async def _run(self, plan: Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(await self._execute(batch))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- async API ------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._run(self._get_plan(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        plan = self._list_plan(config, filter=filter, before=before, limit=limit)
        try:
            step = next(plan)
            while True:
                if isinstance(step, Emit):
                    yield step.item
                    step = plan.send([])
                else:
                    step = plan.send(await self._execute(step))
        except StopIteration:
            return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._run(self._put_plan(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._run(self._put_writes_plan(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._run(self._delete_threads_plan([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._run(self._delete_for_runs_plan(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._run(self._copy_thread_plan(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._run(self._prune_plan(thread_ids, strategy))

    # -- sync API (bridged onto the saver's loop) -------------------------------------------

    def _bridge(self, make: Callable[[], Any]) -> Any:
        loop = self.loop
        if loop is None:
            raise asyncio.InvalidStateError(
                "AsyncRedisSaver was created outside an event loop, so its sync methods have "
                "no loop to run on; use the async methods (aget_tuple, aput, ...)."
            )
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncRedisSaver are only allowed from a different "
                "thread. From the event loop, use the async interface, e.g. "
                "`await checkpointer.aget_tuple(...)` or `await graph.ainvoke(...)`."
            )
        return asyncio.run_coroutine_threadsafe(make(), loop).result()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = self._bridge(lambda: self.aget_tuple(config))
        return result

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        items = self.alist(config, filter=filter, before=before, limit=limit)

        async def step() -> CheckpointTuple | None:
            return await anext(items, None)

        while (item := self._bridge(step)) is not None:
            yield item

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = self._bridge(
            lambda: self.aput(config, checkpoint, metadata, new_versions)
        )
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._bridge(lambda: self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._bridge(lambda: self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._bridge(lambda: self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._bridge(lambda: self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._bridge(lambda: self.aprune(thread_ids, strategy=strategy))
