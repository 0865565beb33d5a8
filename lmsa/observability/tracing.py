"""LangSmith tracing, on only when the standard variables say so.

LangChain and LangGraph trace by themselves once ``LANGSMITH_TRACING=true``; what lmsa adds is
(1) a guard: tracing asked for without ``LANGSMITH_API_KEY`` is switched off instead of letting
every turn try (and fail) to reach the network, and (2) one root run per turn whose tags and
metadata carry the thread, the intent (known only mid-turn, so set on the run before it is
sent) and the LLM endpoint, so traces can be filtered by conversation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
_FLAGS = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING")
_KEYS = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


def tracing_requested(env: MutableMapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(flag, "").strip().lower() in _TRUE for flag in _FLAGS)


def tracing_enabled(env: MutableMapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return tracing_requested(env) and any(env.get(key, "").strip() for key in _KEYS)


def configure_tracing(env: MutableMapping[str, str] | None = None) -> bool:
    """Called once by an interface at start-up; returns whether traces will be sent. Without a
    key the flags are turned off in ``env`` so no library below tries the network."""
    env = os.environ if env is None else env
    if tracing_enabled(env):
        project = env.get("LANGSMITH_PROJECT") or env.get("LANGCHAIN_PROJECT") or "default"
        log.info("LangSmith tracing on (project %s)", project)
        return True
    if tracing_requested(env):
        log.warning("LANGSMITH_TRACING is set but LANGSMITH_API_KEY is not; tracing stays off")
    for flag in _FLAGS:
        if flag in env:
            env[flag] = "false"
    return False


def run_metadata(
    *, thread_id: str, endpoint: str | None = None, request_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Metadata for a turn's RunnableConfig; harmless (and free) when tracing is off."""
    metadata: dict[str, Any] = {"thread_id": thread_id}
    if endpoint:
        metadata["endpoint"] = endpoint
    if request_id:
        metadata["request_id"] = request_id
    metadata.update({k: v for k, v in extra.items() if v is not None})
    return metadata


class TurnTrace:
    """Handle on the turn's root run; a no-op when tracing is off."""

    def __init__(self, run: Any | None) -> None:
        self._run = run

    @property
    def active(self) -> bool:
        return self._run is not None

    def set_intent(self, intent: str | None) -> None:
        if self._run is None or not intent:
            return
        self._run.metadata["intent"] = intent
        self._run.tags = [*(self._run.tags or []), f"intent:{intent}"]

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        if self._run is not None:
            self._run.end(outputs=outputs)


@asynccontextmanager
async def trace_turn(
    name: str, *, metadata: dict[str, Any], inputs: dict[str, Any] | None = None
) -> AsyncIterator[TurnTrace]:
    """A root LangSmith run around one turn; the graph's own runs nest under it."""
    if not tracing_enabled():
        yield TurnTrace(None)
        return
    from langsmith.run_helpers import trace

    tags = ["lmsa", f"thread:{metadata.get('thread_id')}"]
    if metadata.get("endpoint"):
        tags.append(f"endpoint:{metadata['endpoint']}")
    async with trace(name, "chain", inputs=inputs or {}, metadata=metadata, tags=tags) as run:
        yield TurnTrace(run)
