"""Understands what the user wants, by asking the LLM (no keyword rules: they fail on every
language and phrasing they did not foresee)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langchain_core.messages import SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from lmsa.context import Context, Services
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured
from lmsa.nodes._common import recent_history
from lmsa.prompts import INTENT_SYSTEM
from lmsa.state import AssistantState

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


def is_unsure(intent: dict[str, Any], context: Context) -> bool:
    """Whether the user should be asked before acting: the model said so, or it is not sure."""
    return bool(intent.get("needs_clarification")) or (
        float(intent.get("confidence", 0.0)) < context.clarify_threshold
    )


def make_classify_intent(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def classify_intent(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        history = recent_history(state["messages"], context.history_turns)
        try:
            result = await ainvoke_structured(
                services.llm,
                [SystemMessage(content=INTENT_SYSTEM), *history],
                IntentResult,
                style=context.structured_output,
            )
        except StructuredOutputError as error:
            return {"error": str(error)}
        intent = result.model_dump()
        update: dict[str, Any] = {"intent": intent}
        rounds = state.get("clarification_rounds", 0)
        if is_unsure(intent, context) and rounds >= context.max_clarify_rounds:
            update["notes"] = [
                *state.get("notes", []),
                f"The request stayed unclear after {rounds} clarification round(s); tell the "
                f"user you are proceeding with your best guess ({intent['intent']}).",
            ]
        return update

    return classify_intent
