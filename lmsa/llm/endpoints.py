"""The model registry: which endpoints exist, what they serve, and what they said about themselves.

Endpoints come from settings once (``LMSA_ENDPOINTS``, else ``LMSA_BASE_URL``/``LMSA_MODEL`` plus
``LMSA_FALLBACKS``). What only the server knows (loaded state, context window) is learnt from
``/v1/models`` and LM Studio's ``/api/v0/models``: at first use for endpoints without an explicit
model, then by the background :class:`HealthMonitor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from lmsa.config import EndpointSettings, Settings
from lmsa.llm.errors import LLMUnavailable, no_model_message, not_reachable_message
from lmsa.llm.tls import ssl_context_for
from lmsa.observability.metrics import ENDPOINT_HEALTHY

EWMA_ALPHA = 0.3


@dataclass
class EndpointProbe:
    """What one endpoint said about itself; ``lmsa doctor`` renders this."""

    base_url: str
    reachable: bool
    models: list[str] = field(default_factory=list)
    loaded: list[str] | None = None  # None: the server has no LM Studio native API
    context_lengths: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def pick_model(self, preferred: str | None) -> str:
        """The model to talk to, or a clear reason why there is none."""
        if not self.reachable:
            raise LLMUnavailable(not_reachable_message(self.base_url, self.error or "no answer"))
        if preferred:
            return preferred
        candidates = self.loaded if self.loaded is not None else self.models
        if not candidates:
            raise LLMUnavailable(no_model_message(self.base_url))
        return candidates[0]

    def serves(self, model: str | None) -> bool:
        """Reachable and, where the server tells, with ``model`` (or any model) loaded."""
        if not self.reachable:
            return False
        if self.loaded is None:
            return True
        return bool(self.loaded) if model is None else model in self.loaded


def native_api_root(base_url: str) -> str:
    """LM Studio's native REST API lives beside the OpenAI one: ``.../v1`` -> ``.../api/v0``."""
    root = base_url.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return f"{root}/api/v0"


async def probe_endpoint(base_url: str, api_key: str, timeout: float = 3.0) -> EndpointProbe:
    """Ask ``/v1/models`` and, when offered, LM Studio's ``/api/v0/models`` for loaded state."""
    headers = {"Authorization": f"Bearer {api_key}"}
    started = time.perf_counter()
    async with httpx.AsyncClient(
        timeout=timeout, headers=headers, verify=ssl_context_for(base_url)
    ) as client:
        try:
            response = await client.get(f"{base_url.rstrip('/')}/models")
            response.raise_for_status()
            models = [item["id"] for item in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            return EndpointProbe(
                base_url,
                reachable=False,
                error=_short_reason(error),
                seconds=time.perf_counter() - started,
            )
        probe = EndpointProbe(base_url, reachable=True, models=models)
        try:
            native = await client.get(f"{native_api_root(base_url)}/models")
            if native.status_code == 200:
                entries = [
                    e for e in native.json().get("data", []) if e.get("type") != "embeddings"
                ]
                probe.loaded = [e["id"] for e in entries if e.get("state") == "loaded"]
                probe.context_lengths = {
                    e["id"]: int(e["max_context_length"])
                    for e in entries
                    if e.get("max_context_length")
                }
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            probe.loaded = None
        probe.seconds = time.perf_counter() - started
        return probe


def _short_reason(error: BaseException) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


@dataclass(eq=False)
class Endpoint:
    """One configured endpoint plus what the router learnt about it at run time."""

    name: str
    base_url: str
    api_key: str
    model: str | None
    roles: frozenset[str]
    max_concurrency: int
    context_window: int | None
    cost_per_1k_tokens: float
    priority: int
    order: int
    configured_window: bool = False
    resolved_model: str | None = None  # ``model``, else the server's first loaded model
    # Learnt at run time (single event loop: plain attributes, no locks).
    in_flight: int = 0
    latency_ewma: float | None = None
    healthy: bool | None = None  # None: never checked
    last_probe: EndpointProbe | None = None
    last_checked: float | None = None

    def observe_latency(self, seconds: float) -> None:
        previous = self.latency_ewma
        self.latency_ewma = (
            seconds if previous is None else EWMA_ALPHA * seconds + (1 - EWMA_ALPHA) * previous
        )

    def learn(self, probe: EndpointProbe) -> None:
        """Take loaded state and context window from a probe (configured values win)."""
        self.last_probe = probe
        self.last_checked = time.time()
        self.healthy = probe.serves(self.model)
        ENDPOINT_HEALTHY.labels(self.name).set(1 if self.healthy else 0)
        if not probe.reachable:
            return
        if self.resolved_model is None:
            candidates = probe.loaded if probe.loaded is not None else probe.models
            self.resolved_model = candidates[0] if candidates else None
        model = self.resolved_model
        if not self.configured_window and model and model in probe.context_lengths:
            self.context_window = probe.context_lengths[model]


def build_endpoints(settings: Settings) -> list[Endpoint]:
    """The endpoints from settings, named uniquely (names are metric labels and breaker keys)."""
    records: Sequence[EndpointSettings]
    if settings.endpoints:
        records = settings.endpoints
    else:
        primary = EndpointSettings(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key,
            name="primary",
        )
        records = [primary, *settings.fallbacks]
    endpoints: list[Endpoint] = []
    seen: set[str] = set()
    for order, record in enumerate(records):
        name = record.name or (f"fallback{order}" if not settings.endpoints else f"endpoint{order}")
        while name in seen:
            name = f"{name}_{order}"
        seen.add(name)
        endpoints.append(
            Endpoint(
                name=name,
                base_url=record.base_url,
                api_key=record.api_key,
                model=record.model,
                roles=frozenset(record.roles or ["main"]),
                max_concurrency=record.max_concurrency or settings.llm_max_concurrency,
                context_window=record.context_window,
                configured_window=record.context_window is not None,
                cost_per_1k_tokens=record.cost_per_1k_tokens,
                # Without explicit priorities, configuration order is the fallback order.
                priority=record.priority,
                order=order,
                resolved_model=record.model,
            )
        )
    return endpoints


class HealthMonitor:
    """Probes every endpoint every ``interval`` seconds in the background.

    Results only reorder candidates (unhealthy ones go last) and feed ``lmsa doctor``; they never
    exclude an endpoint outright, because a probe result is always a little stale.
    """

    def __init__(self, endpoints: Sequence[Endpoint], interval: float, timeout: float) -> None:
        self.endpoints = list(endpoints)
        self.interval = interval
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> list[EndpointProbe]:
        return await self.check(self.endpoints)

    async def check(self, endpoints: Sequence[Endpoint]) -> list[EndpointProbe]:
        probes = await asyncio.gather(
            *(probe_endpoint(e.base_url, e.api_key, self.timeout) for e in endpoints)
        )
        for endpoint, probe in zip(endpoints, probes, strict=True):
            endpoint.learn(probe)
        return list(probes)

    def ensure_started(self) -> None:
        """Start the loop in the running event loop (idempotent; no-op when disabled)."""
        if self.interval <= 0 or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lmsa-llm-health")

    async def _run(self) -> None:
        while True:
            # The first round runs at once for endpoints not probed yet (context windows).
            stale = time.time() - self.interval
            due = [e for e in self.endpoints if e.last_checked is None or e.last_checked < stale]
            with contextlib.suppress(Exception):  # a failed round is retried next interval
                await self.check(due)
            await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
