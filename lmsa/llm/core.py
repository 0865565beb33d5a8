"""``RouterCore``: what one provider shares across calls, and the walk of one call over it.

For each call the role's endpoints are ordered by the routing strategy (:mod:`.ordering`) and
walked: an endpoint whose breaker is open, or whose known context window is too small, is
skipped without a request; the others get retried on transient errors (:mod:`.retries`) inside a
queue slot (:mod:`.admission`), and every failure moves the call on to the next endpoint. When
the prompt fits nowhere, the history is trimmed (:mod:`.trimming`) and the largest window tried.
Deterministic calls go through the response cache (:mod:`.cached`); a text stream that breaks
is continued (:mod:`.streaming`). With ``LMSA_LOCAL_FALLBACK=auto`` the embedded model is the
last candidate of every walk, started when the walk first reaches it (:mod:`.embedded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import AsyncGenerator, Sequence

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from lmsa.config import Settings
from lmsa.llm.admission import Admission
from lmsa.llm.breaker import Breakers
from lmsa.llm.cache import CachedReply, ResponseCache
from lmsa.llm.cached import complete_cached, stream_cached
from lmsa.llm.calls import EndpointCalls, failed_attempt, record_success
from lmsa.llm.clients import Clients
from lmsa.llm.complexity import FAST, MAIN
from lmsa.llm.embedded import NAME as EMBEDDED
from lmsa.llm.embedded import EmbeddedFallback
from lmsa.llm.endpoints import Endpoint, EndpointProbe, HealthMonitor, probe_endpoint
from lmsa.llm.errors import (
    AllEndpointsFailed,
    Attempt,
    ErrorKind,
    LLMUnavailable,
    classify,
    is_endpoint_failure,
)
from lmsa.llm.ordering import order_endpoints, plan
from lmsa.llm.queue import GlobalLimit, SlotQueue
from lmsa.llm.request import Request
from lmsa.llm.retries import Retrier
from lmsa.llm.streaming import stream_continuing
from lmsa.observability.metrics import LLM_FALLBACKS


class RouterCore:
    """Everything one provider shares across calls: endpoints, clients, breakers, cache, queues."""

    def __init__(
        self,
        settings: Settings,
        endpoints: Sequence[Endpoint],
        embedded: EmbeddedFallback | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints = list(endpoints)
        self.embedded = embedded
        redis_url = settings.llm_shared_redis_url
        prefix = settings.redis_key_prefix
        pool = {
            "max_connections": settings.redis_max_connections,
            "pool_timeout": settings.redis_pool_timeout,
        }
        self.breakers = Breakers(
            threshold=settings.llm_breaker_threshold,
            cooldown=settings.llm_breaker_cooldown,
            half_open_probes=settings.llm_breaker_half_open_probes,
            redis_url=redis_url,
            key_prefix=prefix,
            redis_pool=pool,
        )
        self.cache = (
            ResponseCache(
                size=settings.llm_cache_size,
                ttl=settings.llm_cache_ttl,
                redis_url=redis_url,
                key_prefix=prefix,
                redis_pool=pool,
            )
            if settings.llm_cache
            else None
        )
        every = [*self.endpoints, *([embedded.endpoint] if embedded else [])]
        self.slots = {e.name: SlotQueue(e.name, e.max_concurrency) for e in every}
        self.global_limit = (
            GlobalLimit(
                redis_url, prefix, lease_seconds=settings.request_timeout + 30, redis_pool=pool
            )
            if redis_url and settings.llm_global_limits
            else None
        )
        self.health = HealthMonitor(
            self.endpoints, settings.llm_health_interval, settings.connect_timeout
        )
        self.clients = Clients(settings)
        self.admission = Admission(
            self.slots, self.global_limit, self.breakers, settings.llm_queue_timeout
        )
        self.retrier = Retrier(settings, self.admission)
        self.calls = EndpointCalls(
            self.clients, self.admission, self.retrier, settings.request_timeout
        )
        self._rotation = itertools.count()
        self.has_fast = any(FAST in e.roles for e in self.endpoints)
        self._resolved = False
        self._resolve_lock: asyncio.Lock | None = None
        self._fresh: dict[tuple[str, str], EndpointProbe] = {}

    # -- model resolution --------------------------------------------------------------------

    def adopt(self, probe: EndpointProbe, api_key: str) -> None:
        """A probe the caller has just made (``lmsa ask`` checks the server before loading the
        graph stack); the first :meth:`resolve` uses it instead of asking the server again."""
        self._fresh[(probe.base_url, api_key)] = probe

    async def _probe(self, endpoint: Endpoint) -> EndpointProbe:
        fresh = self._fresh.pop((endpoint.base_url, endpoint.api_key), None)
        if fresh is not None:
            return fresh
        return await probe_endpoint(
            endpoint.base_url, endpoint.api_key, self.settings.connect_timeout
        )

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
            probes = await asyncio.gather(*(self._probe(e) for e in unresolved))
            problems: list[str] = []
            for endpoint, probe in zip(unresolved, probes, strict=True):
                endpoint.learn(probe)
                try:
                    endpoint.resolved_model = probe.pick_model(None)
                except LLMUnavailable as error:
                    problems.append(str(error))
            if not any(e.resolved_model for e in self.endpoints):
                problem = problems[0] if len(problems) == 1 else " ".join(problems)
                urls = ", ".join(dict.fromkeys(e.base_url for e in unresolved))
                if not await self._start_embedded(f"No LLM server answered at {urls}"):
                    raise LLMUnavailable(problem)
            self._resolved = True

    async def _start_embedded(self, reason: str) -> bool:
        """Start the embedded fallback (once); from then on the health loop watches it too."""
        embedded = self.embedded
        if embedded is None or not await embedded.ensure_started(reason):
            return False
        if embedded.endpoint not in self.health.endpoints:
            self.health.endpoints.append(embedded.endpoint)
        return True

    def primary(self) -> Endpoint:
        usable = [e for e in self.endpoints if e.resolved_model]
        if not usable and self.embedded is not None and self.embedded.started:
            return self.embedded.endpoint
        mains = [e for e in usable if MAIN in e.roles] or usable
        return min(mains, key=lambda e: (e.priority, e.order))

    # -- candidate order ---------------------------------------------------------------------

    def order(self, role: str) -> list[Endpoint]:
        ordered = order_endpoints(
            self.endpoints, role, self.settings.routing_strategy, self._rotation, self.slots
        )
        if self.embedded is not None:
            ordered.append(self.embedded.endpoint)  # last, whatever the strategy
        return ordered

    async def plan(
        self, request: Request, failures: list[Attempt]
    ) -> AsyncGenerator[tuple[Endpoint, list[BaseMessage]], None]:
        """Endpoints to try for ``request``, in order, with the messages to send each; the
        embedded fallback is started when the walk reaches it."""
        walk = plan(
            request,
            failures,
            self.order(request.role),
            self.admission,
            self.settings.llm_output_reserve,
        )
        async with contextlib.aclosing(walk):
            async for endpoint, messages in walk:
                embedded = self.embedded
                if (
                    embedded is not None
                    and endpoint is embedded.endpoint
                    and not await self._start_embedded(_failed(failures))
                ):
                    failures.append(
                        Attempt(
                            endpoint.name,
                            endpoint.base_url,
                            ErrorKind.OTHER,
                            embedded.error or "the embedded model could not start",
                        )
                    )
                    continue
                yield endpoint, messages

    # -- whole calls -------------------------------------------------------------------------

    async def complete(self, request: Request) -> AIMessage:
        cache = self.cache
        key = request.cache_key
        if cache is None or key is None:
            return await self._complete_uncached(request)
        return await complete_cached(cache, key, lambda: self._complete_uncached(request))

    async def _complete_uncached(self, request: Request) -> AIMessage:
        failures: list[Attempt] = []
        async with contextlib.aclosing(self.plan(request, failures)) as candidates:
            async for endpoint, messages in candidates:
                started = time.perf_counter()
                try:
                    message = await self.calls.generate(endpoint, messages, request)
                except Exception as error:
                    if not is_endpoint_failure(error):
                        raise
                    failures.append(failed_attempt(endpoint, error))
                    LLM_FALLBACKS.labels(endpoint.name, classify(error).value).inc()
                    continue
                record_success(endpoint, message, time.perf_counter() - started)
                return _mark_served(message, endpoint, len(failures))
        raise AllEndpointsFailed(failures)

    # -- streams -----------------------------------------------------------------------------

    async def stream(self, request: Request) -> AsyncGenerator[AIMessageChunk, None]:
        if request.buffered:
            # Nothing of a JSON or tool-call reply is shown before it is complete, so streaming
            # it upstream would only add per-token parsing.
            reply = CachedReply(await self.complete(request))
            for chunk in reply.replay():
                yield chunk
            return
        cache, key = self.cache, request.cache_key
        if cache is not None and key is not None:
            produce = functools.partial(self._stream_uncached, request)
            async with contextlib.aclosing(stream_cached(cache, key, produce)) as chunks:
                async for chunk in chunks:
                    yield chunk
            return
        async for chunk in self._stream_uncached(request):
            yield chunk

    def _stream_uncached(self, request: Request) -> AsyncGenerator[AIMessageChunk, None]:
        failures: list[Attempt] = []
        return stream_continuing(request, self.plan(request, failures), failures, self.calls)

    async def aclose(self) -> None:
        await self.health.aclose()
        if self.embedded is not None:
            await self.embedded.aclose()
        await self.clients.aclose()
        await self.breakers.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.global_limit is not None:
            await self.global_limit.aclose()


def _mark_served(message: AIMessage, endpoint: Endpoint, failures: int) -> AIMessage:
    message.response_metadata = {
        **message.response_metadata,
        "lmsa_endpoint": endpoint.name,
        "lmsa_fallbacks": failures,
        **({"lmsa_embedded": True} if endpoint.name == EMBEDDED else {}),
    }
    return message


def _failed(failures: list[Attempt]) -> str:
    """Why the walk reached the embedded model, for the one-line notice."""
    if not failures:
        return "The configured LLM endpoints are unavailable"
    seen = dict.fromkeys(f"{a.base_url} ({a.kind.value})" for a in failures)
    return "The configured LLM endpoint failed: " + ", ".join(seen)
