"""One exchange with one endpoint: a whole completion or the start of a stream, each inside an
admitted slot and retried there on transient errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from lmsa.llm.admission import Admission
from lmsa.llm.clients import Clients
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.errors import Attempt, classify, describe_llm_error
from lmsa.llm.request import Request
from lmsa.llm.retries import Retrier
from lmsa.observability.metrics import LLM_LATENCY, LLM_REQUESTS, LLM_TOKENS


class EndpointCalls:
    """Requests to a single endpoint; choosing the endpoint is the caller's business."""

    def __init__(
        self, clients: Clients, admission: Admission, retrier: Retrier, timeout: float
    ) -> None:
        self.clients = clients
        self.admission = admission
        self.retrier = retrier
        self.timeout = timeout

    async def generate(
        self, endpoint: Endpoint, messages: list[BaseMessage], request: Request
    ) -> AIMessage:
        """One endpoint's answer, retried there on transient errors (see :mod:`lmsa.llm.wire`
        for why the body is sent by hand and built outside the queue slot)."""
        chat = self.clients.chat(endpoint)
        wire = self.clients.wire(endpoint)
        body = wire.encode(chat, messages, request.stop, request.params)
        timeout = self.timeout
        admission = self.admission
        if body is None:

            async def through_sdk() -> AIMessage:
                async with asyncio.timeout(timeout):
                    result = await chat._agenerate(messages, stop=request.stop, **request.params)
                message = result.generations[0].message
                return message if isinstance(message, AIMessage) else AIMessage(message.content)

            return await self.retrier.on_endpoint(
                endpoint, lambda: admission.attempt(endpoint, request, through_sdk)
            )

        async def exchange() -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                return await wire.post(chat, body)

        data = await self.retrier.on_endpoint(
            endpoint, lambda: admission.attempt(endpoint, request, exchange)
        )
        return wire.decode(chat, data)

    async def open_stream(
        self,
        endpoint: Endpoint,
        messages: list[BaseMessage],
        request: Request,
        held: list[AsyncExitStack],
    ) -> tuple[AIMessageChunk | None, AsyncGenerator[AIMessageChunk, None]]:
        """Start a stream and wait for its first chunk (a failure up to here is retried or falls
        back like any failed request). The slot and breaker stay held in ``held``."""

        async def start() -> tuple[AIMessageChunk | None, AsyncGenerator[AIMessageChunk, None]]:
            chat = self.clients.chat(endpoint)
            source = chat._astream(messages, stop=request.stop, **request.params)
            chunks = _messages_of(source)
            try:
                async with asyncio.timeout(self.timeout):
                    first = await anext(chunks, None)
            except BaseException:
                await chunks.aclose()
                raise
            return first, chunks

        first, chunks = await self.admission.attempt(endpoint, request, start, hold=held)
        held[-1].push_async_callback(chunks.aclose)
        return first, chunks


def record_success(endpoint: Endpoint, message: AIMessage, seconds: float) -> None:
    LLM_REQUESTS.labels(endpoint.name, "ok").inc()
    LLM_LATENCY.labels(endpoint.name).observe(seconds)
    endpoint.observe_latency(seconds)
    usage = message.usage_metadata
    if usage:
        LLM_TOKENS.labels(endpoint.name, "input").inc(usage.get("input_tokens", 0))
        LLM_TOKENS.labels(endpoint.name, "output").inc(usage.get("output_tokens", 0))


def failed_attempt(endpoint: Endpoint, error: BaseException) -> Attempt:
    message = describe_llm_error(error, endpoint.base_url) or str(error)
    return Attempt(endpoint.name, endpoint.base_url, classify(error), message)


async def _messages_of(
    source: AsyncIterator[ChatGenerationChunk],
) -> AsyncGenerator[AIMessageChunk, None]:
    async for generation in source:
        message = generation.message
        yield (
            message
            if isinstance(message, AIMessageChunk)
            else AIMessageChunk(content=message.content)
        )
