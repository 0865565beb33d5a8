"""``RedisSaver``: the Redis checkpointer on a synchronous ``redis.Redis`` client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
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
from lmsa.checkpoint.redis.connect import connect_sync
from lmsa.checkpoint.redis.plan import Batch, Emit, Plan
from lmsa.checkpoint.redis.scripts import SCRIPTS
from lmsa.redis_clients import DEFAULT_MAX_CONNECTIONS, DEFAULT_POOL_TIMEOUT, reject_decoded_client

T = TypeVar("T")


class RedisSaver(RedisSaverBase):
    """Checkpointer on a synchronous ``redis.Redis`` client (``decode_responses=False``).

    The async methods run the sync ones in a worker thread, so this class also works in
    async code, but ``AsyncRedisSaver`` avoids the thread hop.
    """

    def __init__(
        self,
        client: redis.Redis | redis.RedisCluster,
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

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        url: str,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        keep_intermediate: int | None = None,
    ) -> Iterator[RedisSaver]:
        """Open a client for ``url``, fail fast if Redis is down, close it on exit.

        The pool is bounded and *blocking* (see :mod:`lmsa.redis_clients`): a burst of
        concurrent turns waits up to ``pool_timeout`` for a free connection."""
        client = connect_sync(url, max_connections=max_connections, pool_timeout=pool_timeout)
        try:
            yield cls(
                client,
                ttl=ttl,
                key_prefix=key_prefix,
                serde=serde,
                keep_intermediate=keep_intermediate,
            )
        finally:
            client.close()

    # -- driver ---------------------------------------------------------------------------

    def _load_scripts(self) -> None:
        for script in SCRIPTS:
            self.client.script_load(script.source)

    def _execute(self, batch: Batch) -> list[Any]:
        for attempt in (1, 2):
            if len(batch.cmds) == 1 and not batch.transaction:
                try:
                    return [self.client.execute_command(*batch.cmds[0])]
                except NoScriptError:
                    if attempt == 2:
                        raise
                    self._load_scripts()
                    continue
            pipe = self.client.pipeline(transaction=batch.transaction)
            for cmd in batch.cmds:
                pipe.execute_command(*cmd)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                self._load_scripts()  # Redis restarted or flushed its script cache
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return results
        raise AssertionError("unreachable")

    def _run(self, plan: Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(self._execute(batch))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- sync API -------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run(self._get_plan(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        plan = self._list_plan(config, filter=filter, before=before, limit=limit)
        try:
            step = next(plan)
            while True:
                if isinstance(step, Emit):
                    yield step.item
                    step = plan.send([])
                else:
                    step = plan.send(self._execute(step))
        except StopIteration:
            return

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run(self._put_plan(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self._put_writes_plan(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._delete_threads_plan([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(self._delete_for_runs_plan(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self._copy_thread_plan(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(self._prune_plan(thread_ids, strategy))

    # -- async API (worker thread) ----------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = self.list(config, filter=filter, before=before, limit=limit)
        while (item := await asyncio.to_thread(next, items, None)) is not None:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)
