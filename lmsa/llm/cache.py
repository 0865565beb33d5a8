"""Response cache for deterministic calls, and single-flight de-duplication of identical calls.

Two layers: an in-process LRU with TTL (``cachetools.TTLCache``; a hit costs a dict lookup and a
message copy) and, when Redis is configured, a shared layer so every lmsa instance reuses an
answer any of them computed. An entry keeps the streamed chunks when the call streamed, so a
cached streaming call replays the same chunks; a non-streamed entry replays as one chunk.

Single-flight is hand-written (a dict of futures, a dozen lines): no library covers asyncio
futures shared between coroutines of one loop, and the semantics needed (followers get a copy
of the leader's result or its exception) are simple.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import TTLCache
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    message_to_dict,
    messages_from_dict,
)

from lmsa.observability.metrics import CACHE_LOOKUPS
from lmsa.redis_clients import async_client

T = TypeVar("T")


@dataclass(frozen=True)
class CachedReply:
    message: AIMessage
    chunks: tuple[AIMessageChunk, ...] | None = None

    def copy_message(self) -> AIMessage:
        return self.message.model_copy(deep=True)

    def replay(self) -> list[AIMessageChunk]:
        if self.chunks:
            return [chunk.model_copy(deep=True) for chunk in self.chunks]
        message = self.message
        return [
            AIMessageChunk(
                content=message.content,
                additional_kwargs=dict(message.additional_kwargs),
                response_metadata=dict(message.response_metadata),
                tool_call_chunks=[
                    {
                        "name": call["name"],
                        "args": json.dumps(call["args"]),
                        "id": call.get("id"),
                        "index": index,
                    }
                    for index, call in enumerate(message.tool_calls)
                ],
                usage_metadata=message.usage_metadata,
                id=message.id,
            )
        ]

    def dumps(self) -> str:
        return json.dumps(
            {
                "message": message_to_dict(self.message),
                "chunks": [message_to_dict(c) for c in self.chunks] if self.chunks else None,
            }
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> CachedReply:
        data = json.loads(raw)
        (message,) = messages_from_dict([data["message"]])
        chunks = messages_from_dict(data["chunks"]) if data.get("chunks") else None
        return cls(
            message=AIMessage(**message.model_dump(exclude={"type"})),
            chunks=tuple(AIMessageChunk(**c.model_dump(exclude={"type"})) for c in chunks)
            if chunks
            else None,
        )


def _message_key(message: BaseMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"t": message.type, "c": message.content}
    if message.name:
        data["n"] = message.name
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        data["tc"] = [{"n": c["name"], "a": c["args"], "i": c.get("id")} for c in tool_calls]
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        data["ti"] = tool_call_id
    return data


def cache_key(model: str, messages: Sequence[BaseMessage], params: dict[str, Any]) -> str:
    """Key over model (group), messages, tools, schema and every other request parameter."""
    payload = json.dumps(
        {"m": model, "msgs": [_message_key(m) for m in messages], "p": params},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class _Lead:
    def __init__(self, future: asyncio.Future[Any]) -> None:
        self._future = future

    def set(self, reply: CachedReply) -> None:
        if not self._future.done():
            self._future.set_result(reply)


class ResponseCache:
    def __init__(
        self,
        *,
        size: int,
        ttl: float,
        redis_url: str | None = None,
        key_prefix: str = "lmsa",
        redis_pool: dict[str, Any] | None = None,
    ) -> None:
        self._pool = redis_pool or {}  # max_connections / pool_timeout of the shared client
        self._local: TTLCache[str, CachedReply] = TTLCache(maxsize=max(1, size), ttl=ttl)
        self.ttl = ttl
        self.redis_url = redis_url
        self.prefix = f"{key_prefix}:llm:cache:"
        self._redis: Any = None
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    def _client(self) -> Any:
        if self._redis is None and self.redis_url:
            self._redis = async_client(self.redis_url, **self._pool)
        return self._redis

    async def get(self, key: str) -> CachedReply | None:
        hit = self._local.get(key)
        if hit is not None:
            CACHE_LOOKUPS.labels("memory", "hit").inc()
            return hit
        CACHE_LOOKUPS.labels("memory", "miss").inc()
        client = self._client()
        if client is None:
            return None
        try:
            raw = await client.get(self.prefix + key)
        except Exception:  # a cache outage must never fail a call
            CACHE_LOOKUPS.labels("redis", "error").inc()
            return None
        if raw is None:
            CACHE_LOOKUPS.labels("redis", "miss").inc()
            return None
        CACHE_LOOKUPS.labels("redis", "hit").inc()
        reply = CachedReply.loads(raw)
        self._local[key] = reply
        return reply

    async def put(self, key: str, reply: CachedReply) -> None:
        self._local[key] = reply
        client = self._client()
        if client is None:
            return
        try:
            await client.set(self.prefix + key, reply.dumps(), ex=max(1, int(self.ttl)))
        except Exception:
            CACHE_LOOKUPS.labels("redis", "error").inc()

    async def single_flight(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """Run ``compute`` once for concurrent callers with the same key; followers share the
        leader's result (or exception)."""
        pending = self._inflight.get(key)
        if pending is not None:
            CACHE_LOOKUPS.labels("singleflight", "joined").inc()
            try:
                return await asyncio.shield(pending)  # type: ignore[no-any-return]
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The leader was cancelled, not us: do the work ourselves.
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: there may be no followers
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._inflight.pop(key, None)

    async def join(self, key: str) -> CachedReply | None:
        """Wait for an identical call in flight (a stream leading with :meth:`leading`); None
        when there is none or it failed."""
        pending = self._inflight.get(key)
        if pending is None:
            return None
        CACHE_LOOKUPS.labels("singleflight", "joined").inc()
        try:
            result = await asyncio.shield(pending)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not pending.cancelled() or (task is not None and task.cancelling()):
                raise
            return None
        except Exception:
            return None
        return result if isinstance(result, CachedReply) else None

    @contextlib.contextmanager
    def leading(self, key: str) -> Iterator[_Lead]:
        """Register as the call others with ``key`` wait for; ``lead.set(reply)`` on success."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight.setdefault(key, future)
        lead = _Lead(future)
        try:
            yield lead
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
            if not future.done():
                future.cancel()

    async def aclose(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()
