"""HTTP clients for one endpoint: the one place a ``ChatOpenAI`` is built, and the router's
per-endpoint clients (a ``ChatOpenAI`` per model, one :class:`~lmsa.llm.wire.WireClient` pool).

The router's ``ChatOpenAI`` gets its openai SDK clients on first use (:class:`DeferredSDK`):
whole completions go over the :class:`~lmsa.llm.wire.WireClient` and only borrow the model's
payload and reply conversion, while the SDK client's first ``.chat`` imports every resource
module openai has (about 0.2 s of CPU), which would delay a command's first request for
nothing. Streams, payloads only the SDK can send and HTTP error objects reach the SDK clients,
which are then built exactly as ``ChatOpenAI`` builds them, for the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable
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


SDK_FIELDS = ("client", "async_client", "root_client", "root_async_client")
"""The ``ChatOpenAI`` fields that hold openai SDK clients."""


class DeferredSDK:
    """A stand-in for one of a ``ChatOpenAI``'s SDK clients (``SDK_FIELDS``): every attribute
    is looked up on the real client, which a twin ``ChatOpenAI`` with the same parameters
    builds on first use. Given all four, ``ChatOpenAI`` builds none of its own."""

    __slots__ = ("_build", "_field", "_twin")

    def __init__(self, build: Callable[[], ChatOpenAI], field: str, twin: list[ChatOpenAI]) -> None:
        self._build = build
        self._field = field
        self._twin = twin  # shared by the four stand-ins of one model: one twin between them

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends see the stand-in, not the client
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def resolve(self) -> Any:
        """The real SDK client."""
        if not self._twin:
            self._twin.append(self._build())
        return getattr(self._twin[0], self._field)

    @classmethod
    def fields(cls, build: Callable[[], ChatOpenAI]) -> dict[str, DeferredSDK]:
        twin: list[ChatOpenAI] = []
        return {field: cls(build, field, twin) for field in SDK_FIELDS}


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
            settings = self.settings

            def twin() -> ChatOpenAI:
                return make_chat_openai(endpoint, model, settings)

            chat = make_chat_openai(endpoint, model, settings, **DeferredSDK.fields(twin))
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
