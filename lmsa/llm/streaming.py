"""Stream continuation: a text stream that breaks after some tokens goes on where it stopped.

The next attempt (on the same endpoint while its retries and breaker allow, else the next one)
is shown what was already said and asked to continue, so the listener gets one coherent answer
rather than a restart or an error halfway through.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

from lmsa.llm.calls import EndpointCalls, failed_attempt, record_success
from lmsa.llm.embedded import NAME as EMBEDDED
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.errors import (
    AllEndpointsFailed,
    Attempt,
    ErrorKind,
    classify,
    describe_llm_error,
    is_endpoint_failure,
)
from lmsa.llm.request import Request
from lmsa.observability.metrics import LLM_FALLBACKS, LLM_REQUESTS, LLM_RETRIES, LLM_TTFT

CONTINUE_PROMPT = (
    "Your previous reply was cut off by a connection failure. Continue it exactly where it "
    "stopped; do not repeat anything already written and do not comment on the interruption."
)


async def stream_continuing(
    request: Request,
    plan: AsyncGenerator[tuple[Endpoint, list[BaseMessage]], None],
    failures: list[Attempt],
    calls: EndpointCalls,
) -> AsyncGenerator[AIMessageChunk, None]:
    """Stream from the endpoints ``plan`` offers (it and this record into ``failures``),
    continuing after a cut; raises :class:`AllEndpointsFailed` when none completes the stream."""
    emitted: list[AIMessageChunk] = []
    attempts = calls.retrier.attempts
    async with contextlib.aclosing(plan):
        async for endpoint, messages in plan:
            cuts = 0
            while True:
                sent = messages if not emitted else continuation(messages, aggregate(emitted))
                started = time.perf_counter()
                held: list[AsyncExitStack] = []
                try:
                    first, rest = await calls.retrier.on_endpoint(
                        endpoint,
                        lambda e=endpoint, s=sent, h=held: calls.open_stream(  # type: ignore[misc]
                            e, s, request, h
                        ),
                    )
                except Exception as error:
                    if not is_endpoint_failure(error):
                        raise
                    failures.append(failed_attempt(endpoint, error))
                    LLM_FALLBACKS.labels(endpoint.name, classify(error).value).inc()
                    break
                LLM_TTFT.labels(endpoint.name).observe(time.perf_counter() - started)
                pending: list[AIMessageChunk] = []
                try:
                    async with held[-1]:
                        if first is not None:
                            if endpoint.name == EMBEDDED:  # never cached (see cached.cacheable)
                                first.response_metadata = {
                                    **first.response_metadata,
                                    "lmsa_embedded": True,
                                }
                            pending.append(first)
                            emitted.append(first)
                            yield first
                        async for chunk in rest:
                            pending.append(chunk)
                            emitted.append(chunk)
                            yield chunk
                except Exception as error:
                    if not is_endpoint_failure(error):
                        raise
                    LLM_REQUESTS.labels(endpoint.name, ErrorKind.STREAM_CUT.value).inc()
                    failures.append(
                        Attempt(
                            endpoint.name,
                            endpoint.base_url,
                            ErrorKind.STREAM_CUT,
                            describe_llm_error(error, endpoint.base_url) or str(error),
                        )
                    )
                    cuts += 1
                    if cuts < attempts and await calls.admission.allows(endpoint):
                        LLM_RETRIES.labels(endpoint.name, ErrorKind.STREAM_CUT.value).inc()
                        continue
                    LLM_FALLBACKS.labels(endpoint.name, ErrorKind.STREAM_CUT.value).inc()
                    break
                elapsed = time.perf_counter() - started
                record_success(endpoint, aggregate(pending), elapsed)
                return
    raise AllEndpointsFailed(failures)


def aggregate(chunks: Sequence[AIMessageChunk]) -> AIMessage:
    """The whole message a list of chunks adds up to."""
    if not chunks:
        return AIMessage(content="")
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return AIMessage(
        content=total.content,
        additional_kwargs=total.additional_kwargs,
        response_metadata=total.response_metadata,
        tool_calls=total.tool_calls,
        usage_metadata=total.usage_metadata,
        id=total.id,
    )


def continuation(messages: list[BaseMessage], partial: AIMessage) -> list[BaseMessage]:
    return [*messages, AIMessage(content=partial.content), HumanMessage(content=CONTINUE_PROMPT)]
