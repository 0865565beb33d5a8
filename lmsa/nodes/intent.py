"""Understands what the user wants, by asking the LLM (no keyword rules: they fail on every
language and phrasing they did not foresee)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langchain_core.messages import SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from lmsa.context import Context, Services
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured
from lmsa.nodes._common import last_user_text, recent_history, turn_request
from lmsa.prompts import INTENT_SYSTEM
from lmsa.state import AssistantState, WorkspaceInfo

IntentName = Literal[
    "information_request",
    "action_execution",
    "file_operation",
    "system_operation",
    "web_search",
    "conversation",
    "problem_solving",
    "creative_task",
    "analysis_task",
    "navigation",
]


SHORT_TEXT = 400
"""Length cap for free-text fields of structured replies. A grammar-constrained small model can
loop inside a JSON string until the token limit; ``maxLength`` in the schema makes the grammar
close the string instead."""


class IntentResult(BaseModel):
    """The intent classifier's verdict. ``reasoning`` comes first so a grammar-constrained model
    thinks before it commits to a label."""

    reasoning: str = Field(
        description="One short sentence on what the user wants.", max_length=SHORT_TEXT
    )
    intent: IntentName
    confidence: float = Field(ge=0.0, le=1.0)
    entities: list[str] = Field(default_factory=list, max_length=12)
    language: str = Field(
        default="en", description="ISO 639-1 code of the user's language.", max_length=12
    )
    needs_clarification: bool = False
    clarifying_question: str = Field(default="", max_length=SHORT_TEXT)


ACTION_INTENTS = frozenset({"action_execution", "system_operation", "creative_task"})
"""Intents that ask for something to be done: reading is at most their first step."""

ANSWERED_NOT_QUESTIONED = frozenset({"conversation", "information_request"})
"""Intents answered with a best effort rather than a question back: a guess at a question
changes nothing, so asking only delays it; a guess at a change can touch the wrong file."""

_QUESTION_MARK = re.compile(r"[?？؟](?:\s|$)")


def asks_a_question(intent: dict[str, Any] | None, message: str) -> bool:
    """Whether the message asks something rather than for something to be done: labelled as
    a question or small talk, or holding a sentence that ends in a question mark without
    being labelled as an action ("How many visitors came? See monday.txt." -- but "Can you
    clean it up?" asks for an action)."""
    name = (intent or {}).get("intent")
    if name in ANSWERED_NOT_QUESTIONED:
        return True
    return name not in ACTION_INTENTS and _QUESTION_MARK.search(message) is not None


def is_unsure(
    intent: dict[str, Any],
    context: Context,
    workspace: WorkspaceInfo | None = None,
    message: str = "",
) -> bool:
    """Whether the user should be asked before acting: the model said so, or it is not sure,
    and it wrote the question to ask. Without a question of its own the request is clear
    enough to act on: a generic "say more" question only delays a task the user already
    stated. Small talk and questions (by label, or a ``message`` ending in a question mark
    that is not labelled as an action) are answered, not questioned, and a request that
    names a file (one to read or one to create) says what to act on: small models flag such
    requests as unclear at random, and asking then only delays a stated task."""
    if not str(intent.get("clarifying_question") or "").strip():
        return False
    if intent.get("intent") in ANSWERED_NOT_QUESTIONED:
        return False
    if message.rstrip().endswith(("?", "？")) and intent.get("intent") not in ACTION_INTENTS:
        return False  # "Which file has a TODO?" -- but "Can you clean it up?" asks for an action
    if workspace is not None and workspace.get("mentioned_paths"):
        return False
    return bool(intent.get("needs_clarification")) or (
        float(intent.get("confidence", 0.0)) < context.clarify_threshold
    )


async def workspace_info(
    services: Services, state: AssistantState, *, refresh: bool = False
) -> WorkspaceInfo | None:
    """The workspace as the model sees it this turn: the view already in state, unless there
    is none yet or ``refresh`` (the intent step after a clarification, whose answer may name
    another file). Later nodes reuse it instead of walking the folder again."""
    known = state.get("workspace")
    if known is not None and not refresh:
        return known
    request = turn_request(state["messages"])
    view = await asyncio.to_thread(services.tools.view_workspace, request)
    if view is None:
        return None
    return {
        "overview": view.render(),
        "named_files": view.named_files,
        "mentioned_paths": view.mentioned,
        "named_dirs": view.named_dirs,
    }


def make_classify_intent(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def classify_intent(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        history = recent_history(state["messages"], context.history_turns)
        rounds = state.get("clarification_rounds", 0)
        workspace = await workspace_info(services, state, refresh=rounds > 0)
        system = INTENT_SYSTEM
        if workspace is not None:
            system += "\n\n" + workspace["overview"]
        try:
            result = await ainvoke_structured(
                services.llm,
                [SystemMessage(content=system), *history],
                IntentResult,
                style=context.structured_output,
            )
        except StructuredOutputError as error:
            return {"error": str(error), "workspace": workspace}
        intent = result.model_dump()
        update: dict[str, Any] = {"intent": intent, "workspace": workspace}
        message = last_user_text(state["messages"])
        if is_unsure(intent, context, workspace, message) and rounds >= context.max_clarify_rounds:
            update["notes"] = [
                *state.get("notes", []),
                f"The request stayed unclear after {rounds} clarification round(s); tell the "
                f"user you are proceeding with your best guess ({intent['intent']}).",
            ]
        return update

    return classify_intent
