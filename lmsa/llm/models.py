"""Chat models for LM Studio (or any OpenAI-compatible server), built in one place.

Nodes never construct clients: they ask an :class:`LLMProvider` for a runnable. The provider
resolves which model to use on first need (``LMSA_MODEL``, else the first *loaded* model the server
reports), because asking the server at import time would make ``langgraph dev``, ``--help`` and
host apps fail or stall whenever LM Studio is not running yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

from lmsa.config import EndpointSettings, Settings
from lmsa.llm.errors import LLMUnavailable, no_model_message, not_reachable_message


@dataclass
class EndpointProbe:
    """What one endpoint said about itself; ``lmsa doctor`` renders this."""

    base_url: str
    reachable: bool
    models: list[str] = field(default_factory=list)
    loaded: list[str] | None = None  # None: the server has no LM Studio native API
    context_lengths: dict[str, int] = field(default_factory=dict)
    error: str | None = None

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


def native_api_root(base_url: str) -> str:
    """LM Studio's native REST API lives beside the OpenAI one: ``.../v1`` -> ``.../api/v0``."""
    root = base_url.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return f"{root}/api/v0"


async def probe_endpoint(base_url: str, api_key: str, timeout: float = 3.0) -> EndpointProbe:
    """Ask ``/v1/models`` and, when offered, LM Studio's ``/api/v0/models`` for loaded state."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
        try:
            response = await client.get(f"{base_url.rstrip('/')}/models")
            response.raise_for_status()
            models = [item["id"] for item in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            return EndpointProbe(base_url, reachable=False, error=_short_reason(error))
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
        return probe


def _short_reason(error: BaseException) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def make_chat_openai(
    endpoint: EndpointSettings, model: str, settings: Settings, **overrides: Any
) -> ChatOpenAI:
    """One ChatOpenAI per endpoint. ``max_retries`` stays low: fallbacks, not retries, are how
    lmsa survives an endpoint that is down, and the openai SDK's retries would otherwise multiply
    the wait before falling back."""
    params: dict[str, Any] = {
        "base_url": endpoint.base_url,
        "api_key": endpoint.api_key,
        "model": model,
        "temperature": settings.temperature,
        "timeout": httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
        "max_retries": settings.max_retries,
        "stream_usage": True,
    }
    params.update(overrides)
    return ChatOpenAI(**params)


class LLMProvider:
    """Hands nodes a chat runnable: the user's own model, or LM Studio with fallbacks.

    ``chat_model`` lets a host app (or a test) supply any LangChain chat model; then nothing is
    resolved over the network.
    """

    def __init__(
        self, settings: Settings, *, chat_model: BaseChatModel | Runnable | None = None
    ) -> None:
        self.settings = settings
        self._custom = chat_model
        self._models: list[ChatOpenAI] | None = None
        self._lock = asyncio.Lock()

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    async def model(self, **bind: Any) -> Runnable:
        """A runnable chat model with ``bind`` kwargs (e.g. ``response_format``) applied to
        every endpoint of the fallback chain."""
        if self._custom is not None:
            return self._custom.bind(**bind) if bind else self._custom
        primary, *fallbacks = await self._resolve()
        runnable: Runnable = primary.bind(**bind) if bind else primary
        if fallbacks:
            runnable = runnable.with_fallbacks([m.bind(**bind) if bind else m for m in fallbacks])
        return runnable

    async def model_name(self) -> str:
        if self._custom is not None:
            return str(getattr(self._custom, "model_name", None) or type(self._custom).__name__)
        return (await self._resolve())[0].model_name

    async def _resolve(self) -> Sequence[ChatOpenAI]:
        if self._models is not None:
            return self._models
        async with self._lock:
            if self._models is None:
                self._models = await self._build_chain()
        return self._models

    async def _build_chain(self) -> list[ChatOpenAI]:
        settings = self.settings
        primary = EndpointSettings(
            base_url=settings.base_url, model=settings.model, api_key=settings.api_key
        )
        endpoints = [primary, *settings.fallbacks]
        probes = await asyncio.gather(
            *(_model_for(endpoint, settings.connect_timeout) for endpoint in endpoints)
        )
        chain: list[ChatOpenAI] = []
        problems: list[str] = []
        for endpoint, (model, problem) in zip(endpoints, probes, strict=True):
            if model is None:
                problems.append(problem or f"{endpoint.base_url}: unavailable")
                continue
            chain.append(make_chat_openai(endpoint, model, settings))
        if not chain:
            raise LLMUnavailable(problems[0] if len(problems) == 1 else " ".join(problems))
        return chain


async def _model_for(endpoint: EndpointSettings, timeout: float) -> tuple[str | None, str | None]:
    """An endpoint with an explicit model is used without asking it first: the turn itself will
    fail clearly (and fall back) if the server is down, and start-up stays fast."""
    if endpoint.model:
        return endpoint.model, None
    probe = await probe_endpoint(endpoint.base_url, endpoint.api_key, timeout)
    try:
        return probe.pick_model(None), None
    except LLMUnavailable as error:
        return None, str(error)
