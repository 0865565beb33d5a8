"""LLM access: one provider of chat models for every node, routed over every configured endpoint
with retries, circuit breakers, fallbacks, a response cache and a request queue."""

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
