"""What the nodes run with: per-run tunables (``Context``) and long-lived services (``Services``).

``Context`` is the graph's ``context_schema``: plain values that Studio shows as a form and that
callers may override per run (``graph.ainvoke(..., context=Context(max_iterations=1))``).
``Services`` (LLM provider, tool registry) are objects, not data, so they are bound when the
graph is built instead of travelling through the run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lmsa.config import Settings
from lmsa.llm.provider import LLMProvider
from lmsa.llm.replies import OutputStyle
from lmsa.tools import ToolRegistry

if TYPE_CHECKING:
    from lmsa.security.layer import SecurityLayer


def _setting_default(name: str) -> Any:
    """Context defaults are the Settings defaults: one source of truth for every tunable."""
    return Settings.model_fields[name].default


@dataclass(kw_only=True)
class Context:
    """Per-run behaviour of the assistant; each field is the :class:`~lmsa.config.Settings`
    field of the same name, overridable per run."""

    clarify_threshold: float = _setting_default("clarify_threshold")
    max_clarify_rounds: int = _setting_default("max_clarify_rounds")
    max_iterations: int = _setting_default("max_iterations")
    max_plan_attempts: int = _setting_default("max_plan_attempts")
    validate_reads: bool = _setting_default("validate_reads")
    history_turns: int = _setting_default("history_turns")
    max_input_chars: int = _setting_default("max_input_chars")
    tool_timeout: float = _setting_default("tool_timeout")
    tool_output_chars: int = _setting_default("tool_output_chars")
    structured_output: OutputStyle = _setting_default("structured_output")  # noqa: RUF009 (a str)

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
    def security(self) -> SecurityLayer:
        """The guards, canary and audit log for this graph (built on first use: importing the
        security layer costs start-up time that interfaces like ``--help`` should not pay)."""
        from lmsa.security.layer import SecurityLayer

        return SecurityLayer.from_settings(self.settings)

    @cached_property
    def default_context(self) -> Context:
        return Context.from_settings(self.settings)

    def context_of(self, runtime_context: object) -> Context:
        """The run's context, or the defaults when the caller passed none (or, embedded as a
        subgraph, the host's own context object of another type)."""
        if isinstance(runtime_context, Context):
            return runtime_context
        return self.default_context
