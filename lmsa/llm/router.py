"""``RoutedChatModel``: one LangChain chat model over every configured endpoint.

For each call it decides the role (``fast``/``main``, from the request's shape unless the caller
says), orders that role's endpoints by the routing strategy, and walks them: an endpoint whose
breaker is open, or whose known context window is too small, is skipped without a request; the
others get retried on transient errors (tenacity, full-jitter backoff, ``Retry-After`` honoured)
inside a queue slot, and every failure moves the call on to the next endpoint. When the prompt
fits nowhere, the history is trimmed (with a note to the model) and the largest window tried.

Why not ``Runnable.with_fallbacks``: it keeps no state (no breaker, no latency or load to route
on) and gives up on a stream once the first chunk is out. Here a text stream that breaks after
some tokens continues on the next attempt: the model is shown what was already said and asked to
go on, so the listener gets one coherent answer. Structured and tool-calling calls are
delivered whole even when streamed: nobody reads half a JSON object, so they are sent as whole
requests (the lean path of :mod:`lmsa.llm.wire`, retried whole) and handed to the stream as one
chunk.

Deterministic calls (temperature 0, or a JSON schema requested) go through the response cache
and single-flight; a streamed call replays cached chunks and fills the cache when it completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from lmsa.config import Settings
from lmsa.llm.breaker import Breakers, is_open_error
from lmsa.llm.cache import CachedReply, ResponseCache, cache_key
from lmsa.llm.complexity import FAST, MAIN, approx_tokens, choose_role
from lmsa.llm.endpoints import Endpoint, HealthMonitor, probe_endpoint
from lmsa.llm.errors import (
    RETRYABLE,
    AllEndpointsFailed,
    Attempt,
    BreakerOpen,
    ContextTooLong,
    ErrorKind,
    LLMUnavailable,
    classify,
    describe_llm_error,
    is_endpoint_failure,
    retry_after_seconds,
)
from lmsa.llm.queue import PRIORITIES, GlobalLimit, SlotQueue
from lmsa.llm.wire import WireClient
from lmsa.observability.metrics import (
    LLM_FALLBACKS,
    LLM_LATENCY,
    LLM_REQUESTS,
    LLM_RETRIES,
    LLM_TOKENS,
    LLM_TTFT,
)

T = TypeVar("T")

TRIM_NOTE = (
    "Note: earlier messages of this conversation were left out because they did not fit the "
    "model's context window; say so if the answer depends on them."
)
CONTINUE_PROMPT = (
    "Your previous reply was cut off by a connection failure. Continue it exactly where it "
    "stopped; do not repeat anything already written and do not comment on the interruption."
)
ROUTING_KWARGS = ("role", "priority", "conversation", "cache")


@dataclass
class Request:
    """One routed call, prepared once."""

    messages: list[BaseMessage]
    stop: list[str] | None
    params: dict[str, Any]
    role: str
    priority: int
    conversation: str
    tokens: int
    cache_key: str | None
    buffered: bool  # JSON/tool calls: delivered whole, so requested whole even when streamed


class RouterCore:
    """Everything one provider shares across calls: endpoints, clients, breakers, cache, queues."""

    def __init__(self, settings: Settings, endpoints: Sequence[Endpoint]) -> None:
        self.settings = settings
        self.endpoints = list(endpoints)
        redis_url = settings.llm_shared_redis_url
        prefix = settings.redis_key_prefix
        self.breakers = Breakers(
            threshold=settings.llm_breaker_threshold,
            cooldown=settings.llm_breaker_cooldown,
            half_open_probes=settings.llm_breaker_half_open_probes,
            redis_url=redis_url,
            key_prefix=prefix,
        )
        self.cache = (
            ResponseCache(
                size=settings.llm_cache_size,
                ttl=settings.llm_cache_ttl,
                redis_url=redis_url,
                key_prefix=prefix,
            )
            if settings.llm_cache
            else None
        )
        self.slots = {e.name: SlotQueue(e.name, e.max_concurrency) for e in self.endpoints}
        self.global_limit = (
            GlobalLimit(redis_url, prefix, lease_seconds=settings.request_timeout + 30)
            if redis_url and settings.llm_global_limits
            else None
        )
        self.health = HealthMonitor(
            self.endpoints, settings.llm_health_interval, settings.connect_timeout
        )
        self.attempts = max(1, settings.max_retries + 1)
        self._clients: dict[tuple[str, str], ChatOpenAI] = {}
        self._wires: dict[str, WireClient] = {}
        self._rotation = itertools.count()
        self._wait_backoff = wait_random_exponential(
            multiplier=settings.llm_retry_base_delay, max=settings.llm_retry_max_delay
        )
        self.has_fast = any(FAST in e.roles for e in self.endpoints)
        self._resolved = False
        self._resolve_lock: asyncio.Lock | None = None

    # -- model resolution --------------------------------------------------------------------

    async def resolve(self) -> None:
        """Pick a model for endpoints configured without one (the server's first loaded model).

        Raises :class:`LLMUnavailable` when no endpoint can serve at all, so interfaces can stop
        before a turn starts. Endpoints with an explicit model are not asked: start-up stays
        fast, and a down server fails the turn clearly (and falls back)."""
        if self._resolved:
            return
        if self._resolve_lock is None:
            self._resolve_lock = asyncio.Lock()
        async with self._resolve_lock:
            if self._resolved:
                return
            unresolved = [e for e in self.endpoints if e.model is None]
            probes = await asyncio.gather(
                *(
                    probe_endpoint(e.base_url, e.api_key, self.settings.connect_timeout)
                    for e in unresolved
                )
            )
            problems: list[str] = []
            for endpoint, probe in zip(unresolved, probes, strict=True):
                endpoint.learn(probe)
                try:
                    endpoint.resolved_model = probe.pick_model(None)
                except LLMUnavailable as error:
                    problems.append(str(error))
            if not any(e.resolved_model for e in self.endpoints):
                raise LLMUnavailable(problems[0] if len(problems) == 1 else " ".join(problems))
            self._resolved = True

    def primary(self) -> Endpoint:
        usable = [e for e in self.endpoints if e.resolved_model]
        mains = [e for e in usable if MAIN in e.roles] or usable
        return min(mains, key=lambda e: (e.priority, e.order))

    def client(self, endpoint: Endpoint) -> ChatOpenAI:
        model = endpoint.resolved_model or ""
        key = (endpoint.name, model)
        client = self._clients.get(key)
        if client is None:
            settings = self.settings
            client = ChatOpenAI(
                base_url=endpoint.base_url,
                api_key=endpoint.api_key,  # type: ignore[arg-type]
                model=model,
                temperature=settings.temperature,
                timeout=httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
                max_retries=0,  # lmsa owns retries; the SDK's would multiply them
                stream_usage=True,
            )
            self._clients[key] = client
        return client

    def wire(self, endpoint: Endpoint) -> WireClient:
        wire = self._wires.get(endpoint.name)
        if wire is None:
            settings = self.settings
            wire = WireClient(
                endpoint.base_url,
                endpoint.api_key,
                httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
                max_connections=max(2 * endpoint.max_concurrency, 8),
            )
            self._wires[endpoint.name] = wire
        return wire

    # -- candidate order ---------------------------------------------------------------------

    def order(self, role: str) -> list[Endpoint]:
        usable = [e for e in self.endpoints if e.resolved_model]
        group = [e for e in usable if role in e.roles] or [e for e in usable if MAIN in e.roles]
        group = group or usable
        rest = sorted((e for e in usable if e not in group), key=_by_priority)
        strategy = self.settings.routing_strategy
        if strategy == "round_robin" and group:
            group = sorted(group, key=_by_priority)
            shift = next(self._rotation) % len(group)
            group = group[shift:] + group[:shift]
        elif strategy == "least_busy":
            group = sorted(group, key=lambda e: (self.slots[e.name].load, *_by_priority(e)))
        elif strategy == "latency":
            group = sorted(group, key=lambda e: (e.latency_ewma or 0.0, *_by_priority(e)))
        elif strategy == "cost":
            group = sorted(group, key=lambda e: (e.cost_per_1k_tokens, *_by_priority(e)))
        else:
            group = sorted(group, key=_by_priority)
        ordered = group + rest
        # Endpoints the health check found down go last (not out: the check may be stale).
        return [e for e in ordered if e.healthy is not False] + [
            e for e in ordered if e.healthy is False
        ]

    async def plan(
        self, request: Request, failures: list[Attempt]
    ) -> AsyncGenerator[tuple[Endpoint, list[BaseMessage]], None]:
        """Endpoints to try, in order, with the messages to send each; skips open breakers and
        windows known to be too small; trims history once when the prompt fits nowhere."""
        messages = request.messages
        tokens = request.tokens
        reserve = self.settings.llm_output_reserve
        candidates = self.order(request.role)
        trimmed = False
        while True:
            overflowed: list[Endpoint] = []
            for endpoint in candidates:
                window = endpoint.context_window
                if window and tokens + reserve > window:
                    overflowed.append(endpoint)
                    failures.append(_overflow_attempt(endpoint, tokens, window))
                    LLM_FALLBACKS.labels(endpoint.name, ErrorKind.CONTEXT.value).inc()
                    continue
                if not await self.breakers.allows(endpoint.name):
                    error = self.open_error(endpoint)
                    failures.append(
                        Attempt(endpoint.name, endpoint.base_url, error.kind, str(error))
                    )
                    LLM_FALLBACKS.labels(endpoint.name, ErrorKind.BREAKER_OPEN.value).inc()
                    continue
                count = len(failures)
                yield endpoint, messages
                if len(failures) > count and failures[-1].kind is ErrorKind.CONTEXT:
                    overflowed.append(endpoint)
            if trimmed or not overflowed:
                return
            windows = [e.context_window for e in overflowed if e.context_window]
            budget = (max(windows) - reserve) if windows else None
            messages = trim_history(request.messages, budget)
            new_tokens = approx_tokens(messages)
            if (budget is not None and new_tokens > budget) or new_tokens >= tokens:
                raise ContextTooLong(tokens, max(windows) if windows else None)
            tokens = new_tokens
            trimmed = True
            candidates = sorted(overflowed, key=lambda e: -(e.context_window or 1 << 40))
            for endpoint in candidates[:1]:
                LLM_FALLBACKS.labels(endpoint.name, "context_trimmed").inc()

    # -- one endpoint ------------------------------------------------------------------------

    def open_error(self, endpoint: Endpoint) -> BreakerOpen:
        return BreakerOpen(endpoint.name, endpoint.base_url, self.breakers.cooldown)

    def _should_retry(self, error: BaseException) -> bool:
        kind = classify(error)
        if kind not in RETRYABLE:
            return False
        if kind is ErrorKind.RATE_LIMIT:
            wait = retry_after_seconds(error)
            return wait is None or wait <= self.settings.llm_retry_after_cap
        return True

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            wait = retry_after_seconds(error)
            if wait is not None:
                return min(wait, self.settings.llm_retry_after_cap)
        return float(self._wait_backoff(state))

    async def on_endpoint(self, endpoint: Endpoint, once: Callable[[], Awaitable[T]]) -> T:
        """``once`` (one whole attempt: slot, breaker, request), retried on transient errors."""
        if self.attempts == 1:
            return await once()

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            reason = classify(error).value if error else "unknown"
            LLM_RETRIES.labels(endpoint.name, reason).inc()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1 and not await self.breakers.allows(
                    endpoint.name
                ):
                    raise self.open_error(endpoint)
                return await once()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def attempt(
        self,
        endpoint: Endpoint,
        request: Request,
        call: Callable[[], Awaitable[T]],
        *,
        hold: list[AsyncExitStack] | None = None,
    ) -> T:
        """One request: a queue slot (local, then global), the breaker, the call. With ``hold``
        the slot and breaker stay taken (for a stream) and the stack is handed back."""
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._enter(endpoint, request, stack)
            result = await call()
        except BaseException as error:
            await stack.__aexit__(type(error), error, error.__traceback__)
            if isinstance(error, Exception) and is_endpoint_failure(error):
                LLM_REQUESTS.labels(endpoint.name, classify(error).value).inc()
            raise
        if hold is not None:
            hold.append(stack)
        else:
            await stack.aclose()
        return result

    async def _enter(self, endpoint: Endpoint, request: Request, stack: AsyncExitStack) -> None:
        slots = self.slots[endpoint.name]
        timeout = self.settings.llm_queue_timeout
        await slots.acquire(request.priority, request.conversation, timeout)
        stack.callback(slots.release)
        if self.global_limit is not None:
            limit = self.global_limit
            token = await limit.acquire(endpoint.name, endpoint.max_concurrency, timeout)
            stack.push_async_callback(limit.release, endpoint.name, token)
        endpoint.in_flight += 1
        stack.callback(_decrement, endpoint)
        try:
            await stack.enter_async_context(self.breakers.guard(endpoint.name))
        except Exception as error:
            if is_open_error(error):
                raise self.open_error(endpoint) from None
            raise

    # -- whole calls -------------------------------------------------------------------------

    async def complete(self, request: Request) -> AIMessage:
        cache = self.cache
        key = request.cache_key
        if cache is None or key is None:
            return await self._complete_uncached(request)
        hit = await cache.get(key)
        if hit is not None:
            return _mark_cached(hit.copy_message())

        async def compute() -> CachedReply:
            reply = CachedReply(await self._complete_uncached(request))
            if _cacheable(reply.message):
                await cache.put(key, reply)
            return reply

        reply = await cache.single_flight(key, compute)
        return reply.copy_message()

    async def _complete_uncached(self, request: Request) -> AIMessage:
        failures: list[Attempt] = []
        async with contextlib.aclosing(self.plan(request, failures)) as plan:
            async for endpoint, messages in plan:
                started = time.perf_counter()
                try:
                    message = await self._generate(endpoint, messages, request)
                except Exception as error:
                    if not is_endpoint_failure(error):
                        raise
                    failures.append(_attempt_of(endpoint, error))
                    LLM_FALLBACKS.labels(endpoint.name, classify(error).value).inc()
                    continue
                self._record_success(endpoint, message, time.perf_counter() - started)
                return _mark_served(message, endpoint, len(failures))
        raise AllEndpointsFailed(failures)

    async def _generate(
        self, endpoint: Endpoint, messages: list[BaseMessage], request: Request
    ) -> AIMessage:
        """One endpoint's answer, retried there on transient errors (see :mod:`lmsa.llm.wire`
        for why the body is sent by hand and built outside the queue slot)."""
        chat = self.client(endpoint)
        wire = self.wire(endpoint)
        body = wire.encode(chat, messages, request.stop, request.params)
        timeout = self.settings.request_timeout
        if body is None:

            async def through_sdk() -> AIMessage:
                async with asyncio.timeout(timeout):
                    result = await chat._agenerate(messages, stop=request.stop, **request.params)
                message = result.generations[0].message
                return message if isinstance(message, AIMessage) else AIMessage(message.content)

            return await self.on_endpoint(
                endpoint, lambda: self.attempt(endpoint, request, through_sdk)
            )

        async def exchange() -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                return await wire.post(chat, body)

        data = await self.on_endpoint(endpoint, lambda: self.attempt(endpoint, request, exchange))
        return wire.decode(chat, data)

    async def stream(self, request: Request) -> AsyncGenerator[AIMessageChunk, None]:
        if request.buffered:
            # Nothing of a JSON or tool-call reply is shown before it is complete, so streaming
            # it upstream would only add per-token parsing (in `load.py --stream` the server
            # spent 23.6 ms of CPU per turn with it, 16.1 ms without).
            reply = CachedReply(await self.complete(request))
            for chunk in reply.replay():
                yield chunk
            return
        cache, key = self.cache, request.cache_key
        if cache is not None and key is not None:
            hit = await cache.get(key)
            if hit is None:
                hit = await cache.join(key)
            if hit is not None:
                for chunk in hit.replay():
                    yield _mark_cached(chunk)
                return
            chunks: list[AIMessageChunk] = []
            with cache.leading(key) as lead:
                async for chunk in self._stream_uncached(request):
                    chunks.append(chunk)
                    yield chunk
                reply = CachedReply(_aggregate(chunks), tuple(chunks))
                lead.set(reply)
                if _cacheable(reply.message):
                    await cache.put(key, reply)
            return
        async for chunk in self._stream_uncached(request):
            yield chunk

    async def _stream_uncached(self, request: Request) -> AsyncGenerator[AIMessageChunk, None]:
        failures: list[Attempt] = []
        emitted: list[AIMessageChunk] = []
        async with contextlib.aclosing(self.plan(request, failures)) as plan:
            async for endpoint, messages in plan:
                cuts = 0
                while True:
                    sent = messages if not emitted else _continuation(messages, _aggregate(emitted))
                    started = time.perf_counter()
                    held: list[AsyncExitStack] = []
                    try:
                        first, rest = await self.on_endpoint(
                            endpoint,
                            lambda e=endpoint, s=sent, h=held: self._open_stream(  # type: ignore[misc]
                                e, s, request, h
                            ),
                        )
                    except Exception as error:
                        if not is_endpoint_failure(error):
                            raise
                        failures.append(_attempt_of(endpoint, error))
                        LLM_FALLBACKS.labels(endpoint.name, classify(error).value).inc()
                        break
                    LLM_TTFT.labels(endpoint.name).observe(time.perf_counter() - started)
                    pending: list[AIMessageChunk] = []
                    try:
                        async with held[-1]:
                            if first is not None:
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
                        if cuts < self.attempts and await self.breakers.allows(endpoint.name):
                            LLM_RETRIES.labels(endpoint.name, ErrorKind.STREAM_CUT.value).inc()
                            continue
                        LLM_FALLBACKS.labels(endpoint.name, ErrorKind.STREAM_CUT.value).inc()
                        break
                    elapsed = time.perf_counter() - started
                    self._record_success(endpoint, _aggregate(pending), elapsed)
                    return
        raise AllEndpointsFailed(failures)

    async def _open_stream(
        self,
        endpoint: Endpoint,
        messages: list[BaseMessage],
        request: Request,
        held: list[AsyncExitStack],
    ) -> tuple[AIMessageChunk | None, AsyncGenerator[AIMessageChunk, None]]:
        """Start a stream and wait for its first chunk (a failure up to here is retried or falls
        back like any failed request). The slot and breaker stay held in ``held``."""

        async def start() -> tuple[AIMessageChunk | None, AsyncGenerator[AIMessageChunk, None]]:
            source = self.client(endpoint)._astream(messages, stop=request.stop, **request.params)
            chunks = _messages_of(source)
            try:
                async with asyncio.timeout(self.settings.request_timeout):
                    first = await anext(chunks, None)
            except BaseException:
                await chunks.aclose()
                raise
            return first, chunks

        first, chunks = await self.attempt(endpoint, request, start, hold=held)
        held[-1].push_async_callback(chunks.aclose)
        return first, chunks

    def _record_success(self, endpoint: Endpoint, message: AIMessage, seconds: float) -> None:
        LLM_REQUESTS.labels(endpoint.name, "ok").inc()
        LLM_LATENCY.labels(endpoint.name).observe(seconds)
        endpoint.observe_latency(seconds)
        usage = message.usage_metadata
        if usage:
            LLM_TOKENS.labels(endpoint.name, "input").inc(usage.get("input_tokens", 0))
            LLM_TOKENS.labels(endpoint.name, "output").inc(usage.get("output_tokens", 0))

    async def aclose(self) -> None:
        await self.health.aclose()
        for wire in self._wires.values():
            await wire.aclose()
        self._wires.clear()
        if self.cache is not None:
            await self.cache.aclose()
        if self.global_limit is not None:
            await self.global_limit.aclose()


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


def _decrement(endpoint: Endpoint) -> None:
    endpoint.in_flight -= 1


def _by_priority(endpoint: Endpoint) -> tuple[int, int]:
    return (endpoint.priority, endpoint.order)


def _overflow_attempt(endpoint: Endpoint, tokens: int, window: int) -> Attempt:
    return Attempt(
        endpoint.name,
        endpoint.base_url,
        ErrorKind.CONTEXT,
        f"The request (about {tokens:,} tokens) does not fit the {window:,}-token context window "
        f"of the model at {endpoint.base_url}.",
    )


def _attempt_of(endpoint: Endpoint, error: BaseException) -> Attempt:
    message = describe_llm_error(error, endpoint.base_url) or str(error)
    return Attempt(endpoint.name, endpoint.base_url, classify(error), message)


def _aggregate(chunks: Sequence[AIMessageChunk]) -> AIMessage:
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


def _continuation(messages: list[BaseMessage], partial: AIMessage) -> list[BaseMessage]:
    return [*messages, AIMessage(content=partial.content), HumanMessage(content=CONTINUE_PROMPT)]


def _cacheable(message: AIMessage) -> bool:
    """A truncated or empty reply is not worth repeating to the next caller."""
    finish = message.response_metadata.get("finish_reason")
    return finish != "length" and bool(message.content or message.tool_calls)


M = TypeVar("M", bound=BaseMessage)


def _mark_cached(message: M) -> M:
    message.response_metadata = {**message.response_metadata, "lmsa_cache": "hit"}
    return message


def _mark_served(message: AIMessage, endpoint: Endpoint, failures: int) -> AIMessage:
    message.response_metadata = {
        **message.response_metadata,
        "lmsa_endpoint": endpoint.name,
        "lmsa_fallbacks": failures,
    }
    return message


def trim_history(messages: Sequence[BaseMessage], budget: int | None) -> list[BaseMessage]:
    """Drop the oldest turns (never the leading system prompt, nor the last user message and
    what follows it) until the estimate fits ``budget``, and say so in a system note. Without a
    known budget, drop the older half."""
    lead = 0
    while lead < len(messages) and isinstance(messages[lead], SystemMessage):
        lead += 1
    last_user = max(
        (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=len(messages)
    )
    head = list(messages[:lead])
    tail = list(messages[max(last_user, lead) :])
    middle = list(messages[lead : max(last_user, lead)])
    note = SystemMessage(content=TRIM_NOTE)
    if budget is None:
        middle = middle[len(middle) // 2 :]
    else:
        while middle and approx_tokens([*head, note, *middle, *tail]) > budget:
            middle.pop(0)
    # A tool result without the call that asked for it confuses every chat template.
    while middle and isinstance(middle[0], ToolMessage):
        middle.pop(0)
    return [*head, note, *middle, *tail]


class RoutedChatModel(BaseChatModel):
    """The chat model nodes use: routes each call over the provider's endpoints.

    Routing hints travel as call kwargs (``model.bind(role="fast", priority="background")``) or
    run metadata (``lmsa_priority``; ``thread_id`` is the conversation for queue fairness).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    core: Any
    model_name: str = "routed"

    @property
    def _llm_type(self) -> str:
        return "lmsa-routed"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    # -- request preparation -----------------------------------------------------------------

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Request:
        core: RouterCore = self.core
        settings = core.settings
        params = {k: v for k, v in kwargs.items() if k not in ROUTING_KWARGS}
        metadata = (getattr(run_manager, "metadata", None) or {}) if run_manager else {}
        priority_name = kwargs.get("priority") or metadata.get("lmsa_priority") or "interactive"
        conversation = str(kwargs.get("conversation") or metadata.get("thread_id") or "-")
        extra = params.get("tools") or params.get("response_format")
        tokens = approx_tokens(messages, extra)
        role = kwargs.get("role")
        if role is None:
            if core.has_fast and settings.llm_complexity_routing:
                role = choose_role(messages, params, settings.llm_fast_schemas, tokens)
            else:
                role = MAIN
        temperature = params.get("temperature", settings.temperature)
        cache_flag = kwargs.get("cache")
        cacheable = core.cache is not None and (
            cache_flag
            if cache_flag is not None
            else (temperature == 0 or bool(params.get("response_format")))
        )
        key = None
        if cacheable:
            group = ",".join(
                f"{e.name}={e.resolved_model}" for e in core.endpoints if role in e.roles
            )
            key = cache_key(
                f"{role}:{group}", messages, {**params, "stop": stop, "temperature": temperature}
            )
        return Request(
            messages=list(messages),
            stop=stop,
            params=params,
            role=str(role),
            priority=PRIORITIES.get(str(priority_name), 0),
            conversation=conversation,
            tokens=tokens,
            cache_key=key,
            buffered=bool(params.get("response_format") or params.get("tools")),
        )

    # -- BaseChatModel -----------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        core: RouterCore = self.core
        await core.resolve()
        core.health.ensure_started()
        message = await core.complete(self._prepare(messages, stop, run_manager, kwargs))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        core: RouterCore = self.core
        await core.resolve()
        core.health.ensure_started()
        request = self._prepare(messages, stop, run_manager, kwargs)
        async with contextlib.aclosing(core.stream(request)) as chunks:
            async for chunk in chunks:
                yield ChatGenerationChunk(message=chunk)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Sync calls run the async path on a private loop (lmsa itself is async; this serves
        scripts). Redis-shared state is not supported on this path."""

        async def run() -> ChatResult:
            return await self._agenerate(messages, stop, None, **kwargs)

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        result = self._generate(messages, stop, run_manager, **kwargs)
        message = result.generations[0].message
        assert isinstance(message, AIMessage)
        for chunk in CachedReply(message).replay():
            yield ChatGenerationChunk(message=chunk)

    # -- tools and structured output ---------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """OpenAI tool format; ``tool_choice`` limited to what LM Studio accepts
        (``none``/``auto``/``required``; a named tool becomes ``required``)."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            if tool_choice not in ("none", "auto", "required"):
                tool_choice = "required"  # True, "any" or a tool's name
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """JSON through ``response_format`` (grammar-constrained on LM Studio), parsed here;
        LangChain's function-calling method sends a ``tool_choice`` LM Studio rejects."""
        from lmsa.llm.structured import parse_reply, response_format_for

        if isinstance(schema, dict):
            name = str(schema.get("title") or "Output")
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": name, "strict": True, "schema": schema},
            }

            def parse(message: BaseMessage) -> Any:
                text = message.content if isinstance(message.content, str) else str(message.content)
                return json.loads(text)
        else:
            response_format = response_format_for(schema, "json_schema")

            def parse(message: BaseMessage) -> Any:
                return parse_reply(schema, message.content)

        bound = self.bind(response_format=response_format)
        if not include_raw:
            return bound | parse

        def with_raw(message: BaseMessage) -> dict[str, Any]:
            try:
                return {"raw": message, "parsed": parse(message), "parsing_error": None}
            except ValueError as error:
                return {"raw": message, "parsed": None, "parsing_error": error}

        return bound | with_raw
