"""Asks the user when the intent is unclear, instead of guessing, at most a few rounds.

``interrupt()`` pauses the graph (the thread is checkpointed) and re-runs this node from the top
on resume, so everything before the ``interrupt`` call must be cheap and side-effect free.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from lmsa.context import Services
from lmsa.nodes._common import CLARIFICATION_MARK
from lmsa.nodes.guard import REDACTED_NOTE, SCREENED, WITHHELD
from lmsa.state import AssistantState


class ClarificationRequest(BaseModel):
    """What an interface shows the user while the graph waits."""

    kind: str = "clarification"
    question: str
    round: int
    max_rounds: int


class ClarificationAnswer(BaseModel):
    """How a caller resumes: ``Command(resume={"answer": "..."})``."""

    answer: str = Field(min_length=1)


def make_clarify(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def clarify(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        intent = state.get("intent") or {}
        rounds = state.get("clarification_rounds", 0)
        # Routing comes here with the planner's question (a change to files the user did not
        # name) or the model's own (``is_unsure``).
        question = str(state.get("question") or intent.get("clarifying_question") or "").strip()
        request = ClarificationRequest(
            question=question, round=rounds + 1, max_rounds=context.max_clarify_rounds
        )
        reply = interrupt(request.model_dump(), response_schema=ClarificationAnswer)
        # The answer becomes model input like any message: through the same guard.
        verdict = await services.security.screen_input(
            reply.answer,
            max_chars=context.max_input_chars,
            llm=services.llm,
            style=context.structured_output,
            source="clarification_answer",
        )
        answer = verdict.redacted_text if verdict.allowed else WITHHELD
        update: dict[str, Any] = {
            "messages": [
                AIMessage(content=question, additional_kwargs={CLARIFICATION_MARK: True}),
                HumanMessage(
                    content=answer, additional_kwargs={CLARIFICATION_MARK: True, SCREENED: True}
                ),
            ],
            "clarification_rounds": rounds + 1,
            "question": None,
            "clarifications": [
                *state.get("clarifications", []),
                {"question": question, "answer": answer},
            ],
        }
        if not verdict.allowed:
            update["error"] = verdict.refusal or "The answer was refused by the input guard."
        elif "secret" in verdict.categories:
            update["notes"] = [*state.get("notes", []), REDACTED_NOTE]
        return update

    return clarify
