"""What the nodes run with: per-run tunables (``Context``) and long-lived services (``Services``).

``Context`` is the graph's ``context_schema``: plain values that Studio shows as a form and that
callers may override per run (``graph.ainvoke(..., context=Context(max_iterations=1))``).
``Services`` (LLM provider, tool registry) are objects, not data, so they are bound when the
graph is built instead of travelling through the run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from lmsa.config import Settings
from lmsa.llm.models import LLMProvider
from lmsa.llm.structured import OutputStyle
from lmsa.tools import ToolRegistry


@dataclass(kw_only=True)
class Context:
    """Per-run behaviour of the assistant; defaults mirror :class:`~lmsa.config.Settings`."""

    clarify_threshold: float = 0.6
    max_clarify_rounds: int = 2
    max_iterations: int = 3
    max_plan_attempts: int = 3
    history_turns: int = 6
    max_input_chars: int = 32_000
    tool_timeout: float = 30.0
    tool_output_chars: int = 4000
    structured_output: OutputStyle = "json_schema"

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        values: dict[str, Any] = {f.name: getattr(settings, f.name) for f in fields(cls)}
        return cls(**values)


@dataclass
class Services:
    """The objects nodes call; built once per graph from settings (or supplied by a host app)."""

    settings: Settings
    llm: LLMProvider
    tools: ToolRegistry

    @cached_property
    def default_context(self) -> Context:
        return Context.from_settings(self.settings)

    def context_of(self, runtime_context: object) -> Context:
        """The run's context, or the defaults when the caller passed none (or, embedded as a
        subgraph, the host's own context object of another type)."""
        if isinstance(runtime_context, Context):
            return runtime_context
        return self.default_context
