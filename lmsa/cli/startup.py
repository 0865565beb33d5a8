"""Failing fast when the LLM server is not there.

Building the assistant imports LangGraph, LangChain and the OpenAI client, over a second of a
laptop's CPU; a user whose LM Studio is not running should not wait that long for the sentence
saying so. When the answer cannot depend on anything else (one endpoint, no fallbacks, the
embedded fallback off), a refused connection to ``/models`` is reported at once; every other
outcome goes on to the full check, which words each case."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmsa.config import Settings


async def refused_at_once(settings: Settings) -> str | None:
    """The error sentence when the one LLM server refuses the connection, else ``None``."""
    if settings.local_fallback != "off" or settings.endpoints or settings.fallbacks:
        return None
    from lmsa.llm.endpoints import probe_endpoint
    from lmsa.llm.errors import not_reachable_message

    probe = await probe_endpoint(
        settings.base_url, settings.api_key, timeout=settings.connect_timeout
    )
    if probe.reachable or probe.error != "connection refused":
        return None
    return not_reachable_message(settings.base_url, probe.error)
