"""Shared builders for tests that drive the assistant with :class:`ScriptedChatModel`.

The factories return the plain dicts the scripted model sends as JSON replies, so a test reads
as the conversation the model would have had.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from benchmarks.guard import BLIND as BLIND  # the splits never tuned on
from benchmarks.guard import load_corpus as load_corpus  # shared with the guard benchmark
from lmsa import create_assistant
from lmsa.config import Settings
from lmsa.context import Context, Services
from lmsa.graphs.builder import make_services
from lmsa.testing import ScriptedChatModel
from lmsa.tools import ToolRegistry

_threads = itertools.count(1)


def intent(
    name: str = "file_operation",
    *,
    confidence: float = 0.9,
    language: str = "en",
    entities: Sequence[str] = (),
    needs_clarification: bool = False,
    clarifying_question: str = "",
    reasoning: str = "The user wants something.",
) -> dict[str, Any]:
    return {
        "reasoning": reasoning,
        "intent": name,
        "confidence": confidence,
        "entities": list(entities),
        "language": language,
        "needs_clarification": needs_clarification,
        "clarifying_question": clarifying_question,
    }


def unsure(question: str = "Which file do you mean?", **kwargs: Any) -> dict[str, Any]:
    """An intent that asks for clarification."""
    kwargs.setdefault("confidence", 0.3)
    return intent(needs_clarification=True, clarifying_question=question, **kwargs)


def step(
    id: str,
    tool: str,
    args: dict[str, Any] | None = None,
    *,
    depends_on: Sequence[str] = (),
    purpose: str = "",
) -> dict[str, Any]:
    return {
        "id": id,
        "tool": tool,
        "args": dict(args or {}),
        "purpose": purpose or f"run {tool}",
        "depends_on": list(depends_on),
    }


def plan(
    *steps: dict[str, Any], answer_directly: bool = False, reasoning: str = "A plan."
) -> dict[str, Any]:
    return {"reasoning": reasoning, "answer_directly": answer_directly, "steps": list(steps)}


def direct_plan() -> dict[str, Any]:
    return plan(answer_directly=True, reasoning="No tool needed.")


def validation(complete: bool = True, missing: str = "", retry_with: str = "") -> dict[str, Any]:
    return {"complete": complete, "missing": missing, "retry_with": retry_with}


def read_plan(path: str = "a.txt") -> dict[str, Any]:
    return plan(step("s1", "read_file", {"path": path}))


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(workspace=tmp_path, data_dir=tmp_path / ".data", **overrides)


def services(
    tmp_path: Path,
    script: dict[str, list[Any]],
    *,
    tools: Iterable[BaseTool] | ToolRegistry | None = None,
    **overrides: Any,
) -> tuple[Services, ScriptedChatModel]:
    llm = ScriptedChatModel(script=script)
    return make_services(settings(tmp_path, **overrides), llm=llm, tools=tools), llm


def make_graph(
    tmp_path: Path,
    script: dict[str, list[Any]],
    *,
    tools: Iterable[BaseTool] | ToolRegistry | None = None,
    **overrides: Any,
) -> tuple[CompiledStateGraph, ScriptedChatModel]:
    """A compiled assistant over ``tmp_path`` with an in-memory checkpointer."""
    llm = ScriptedChatModel(script=script)
    graph = create_assistant(
        settings(tmp_path, **overrides), checkpointer=InMemorySaver(), llm=llm, tools=tools
    )
    return graph, llm


def thread(name: str | None = None) -> dict[str, Any]:
    return {"configurable": {"thread_id": name or f"thread-{next(_threads)}"}}


def ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(content=text)]}


def runtime(context: Any = None) -> SimpleNamespace:
    """Stands in for ``langgraph.runtime.Runtime``: nodes and routers only read ``.context``."""
    return SimpleNamespace(context=context)


def ctx(**overrides: Any) -> SimpleNamespace:
    return runtime(Context(**overrides))


def text_of(messages: Sequence[BaseMessage]) -> str:
    """Everything a model was shown, as one string, for "did it see X" assertions."""
    return "\n".join(str(m.content) for m in messages)


def system_text(call: dict[str, Any]) -> str:
    return str(call["messages"][0].content)
