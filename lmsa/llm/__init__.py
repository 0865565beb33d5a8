"""LLM access: one provider of chat models for every node, and JSON replies that parse."""

from lmsa.llm.errors import LLMUnavailable, describe_llm_error
from lmsa.llm.models import EndpointProbe, LLMProvider, probe_endpoint
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured

__all__ = [
    "EndpointProbe",
    "LLMProvider",
    "LLMUnavailable",
    "StructuredOutputError",
    "ainvoke_structured",
    "describe_llm_error",
    "probe_endpoint",
]
