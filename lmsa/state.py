"""The assistant graph's state: what one thread remembers between nodes and across turns.

Only ``messages`` is meant to outlive a turn; the guard node resets every other field when a new
user message arrives, so a checkpointed thread never carries one turn's plan into the next.
Values are plain JSON-able dicts (not pydantic objects) so Studio, ``lmsa ask --json`` and every
checkpointer show and store them without custom serialisation.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class InputState(TypedDict):
    """What a caller (CLI, HTTP, Studio, a host graph) gives the assistant: new messages."""

    messages: Annotated[list[AnyMessage], add_messages]


class OutputState(TypedDict, total=False):
    """What a caller gets back: the conversation and the turn's final answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    answer: str
    intent: dict[str, Any] | None


class WorkspaceInfo(TypedDict):
    """What the planner was shown of the workspace this turn (``lmsa.tools.grounding``)."""

    overview: str
    named_files: list[str]
    mentioned_paths: list[str]
    named_dirs: NotRequired[list[str]]  # absent in checkpoints written before folders were named


class AssistantState(InputState, total=False):
    """Everything the nodes share within a turn."""

    answer: str
    intent: dict[str, Any] | None
    clarification_rounds: int
    clarifications: list[dict[str, str]]
    plan: dict[str, Any] | None
    plan_attempts: int
    plan_feedback: list[str]
    results: list[dict[str, Any]]
    validation: dict[str, Any] | None
    iteration: int
    notes: list[str]
    error: str | None
    workspace: WorkspaceInfo | None
    question: str | None  # set by the planner: ask this before running its plan


def fresh_turn() -> dict[str, Any]:
    """Per-turn fields as they must be when a new user message starts a turn."""
    return {
        "answer": "",
        "intent": None,
        "clarification_rounds": 0,
        "clarifications": [],
        "plan": None,
        "plan_attempts": 0,
        "plan_feedback": [],
        "results": [],
        "validation": None,
        "iteration": 0,
        "notes": [],
        "error": None,
        "workspace": None,
        "question": None,
    }
