"""Calls through the response cache: a hit is served without a request, concurrent identical
calls share one (single-flight), and a streamed call replays cached chunks or fills the cache
when it completes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from lmsa.llm.cache import CachedReply, ResponseCache
from lmsa.llm.streaming import aggregate

M = TypeVar("M", bound=BaseMessage)


async def complete_cached(
    cache: ResponseCache, key: str, compute: Callable[[], Awaitable[AIMessage]]
) -> AIMessage:
    hit = await cache.get(key)
    if hit is not None:
        return mark_cached(hit.copy_message())

    async def fill() -> CachedReply:
        reply = CachedReply(await compute())
        if cacheable(reply.message):
            await cache.put(key, reply)
        return reply

    reply = await cache.single_flight(key, fill)
    return reply.copy_message()


async def stream_cached(
    cache: ResponseCache, key: str, produce: Callable[[], AsyncGenerator[AIMessageChunk, None]]
) -> AsyncGenerator[AIMessageChunk, None]:
    hit = await cache.get(key)
    if hit is None:
        hit = await cache.join(key)
    if hit is not None:
        for chunk in hit.replay():
            yield mark_cached(chunk)
        return
    chunks: list[AIMessageChunk] = []
    with cache.leading(key) as lead:
        async for chunk in produce():
            chunks.append(chunk)
            yield chunk
        reply = CachedReply(aggregate(chunks), tuple(chunks))
        lead.set(reply)
        if cacheable(reply.message):
            await cache.put(key, reply)


def cacheable(message: AIMessage) -> bool:
    """A truncated or empty reply is not worth repeating to the next caller, nor one the
    embedded fallback wrote: the key names the configured models, which should answer the next
    caller as soon as they are back."""
    finish = message.response_metadata.get("finish_reason")
    if message.response_metadata.get("lmsa_embedded"):
        return False
    return finish != "length" and bool(message.content or message.tool_calls)


def mark_cached(message: M) -> M:
    message.response_metadata = {**message.response_metadata, "lmsa_cache": "hit"}
    return message
