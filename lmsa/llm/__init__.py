"""LLM access: one provider of chat models for every node, routed over every configured endpoint
with retries, circuit breakers, fallbacks, a response cache and a request queue.

The names below are imported on first use: the provider pulls in LangChain and the OpenAI
client, which a command that only probes an endpoint (``lmsa ask`` with no server) or prints
an error should not wait for."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsa.llm.endpoints import EndpointProbe, probe_endpoint
    from lmsa.llm.errors import (
        AllEndpointsFailed,
        BreakerOpen,
        ContextTooLong,
        LLMUnavailable,
        QueueTimeout,
        describe_llm_error,
    )
    from lmsa.llm.provider import LLMProvider
    from lmsa.llm.router import RoutedChatModel
    from lmsa.llm.structured import StructuredOutputError, ainvoke_structured

_HOMES = {
    "AllEndpointsFailed": "errors",
    "BreakerOpen": "errors",
    "ContextTooLong": "errors",
    "EndpointProbe": "endpoints",
    "LLMProvider": "provider",
    "LLMUnavailable": "errors",
    "QueueTimeout": "errors",
    "RoutedChatModel": "router",
    "StructuredOutputError": "structured",
    "ainvoke_structured": "structured",
    "describe_llm_error": "errors",
    "probe_endpoint": "endpoints",
}

__all__ = [
    "AllEndpointsFailed",
    "BreakerOpen",
    "ContextTooLong",
    "EndpointProbe",
    "LLMProvider",
    "LLMUnavailable",
    "QueueTimeout",
    "RoutedChatModel",
    "StructuredOutputError",
    "ainvoke_structured",
    "describe_llm_error",
    "probe_endpoint",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
