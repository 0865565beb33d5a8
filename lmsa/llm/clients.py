"""HTTP clients for one endpoint: the one place a ``ChatOpenAI`` is built, and the router's
per-endpoint clients (a ``ChatOpenAI`` per model, one :class:`~lmsa.llm.wire.WireClient` pool)."""

from __future__ import annotations

from typing import Any

import httpx
from langchain_openai import ChatOpenAI

from lmsa.config import EndpointSettings, Settings
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.wire import WireClient


def make_chat_openai(
    endpoint: EndpointSettings | Endpoint, model: str, settings: Settings, **overrides: Any
) -> ChatOpenAI:
    """A plain ChatOpenAI for one endpoint, without routing (``max_retries=0``: callers that
    want retries get them from the router, where they do not multiply)."""
    params: dict[str, Any] = {
        "base_url": endpoint.base_url,
        "api_key": endpoint.api_key,
        "model": model,
        "temperature": settings.temperature,
        "timeout": httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
        "max_retries": 0,
        "stream_usage": True,
    }
    params.update(overrides)
    return ChatOpenAI(**params)


class Clients:
    """The router's clients, built on first use and kept for the provider's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chats: dict[tuple[str, str], ChatOpenAI] = {}
        self._wires: dict[str, WireClient] = {}

    def chat(self, endpoint: Endpoint) -> ChatOpenAI:
        model = endpoint.resolved_model or ""
        key = (endpoint.name, model)
        chat = self._chats.get(key)
        if chat is None:
            chat = make_chat_openai(endpoint, model, self.settings)
            self._chats[key] = chat
        return chat

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

    async def aclose(self) -> None:
        for wire in self._wires.values():
            await wire.aclose()
        self._wires.clear()
