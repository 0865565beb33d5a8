"""Checks the turn's tool results against the request before answering, so the assistant can
try again (bounded) rather than confidently report a half-done job.

A step of this round that failed on its own (not refused, declined or skipped) needs no model
to judge: the work is not done, and the error says why, so the planner gets it back at once. A
small model asked instead often calls a failed edit "complete", and the call costs seconds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from lmsa.context import Context, Services
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured
from lmsa.nodes._common import recent_history, render_results
from lmsa.nodes.intent import SHORT_TEXT
from lmsa.prompts import RESULTS_BLOCK, VALIDATE_SYSTEM
from lmsa.state import AssistantState


class Validation(BaseModel):
    complete: bool
    missing: str = Field(default="", description="What is still missing.", max_length=SHORT_TEXT)
    retry_with: str = Field(
        default="", description="A next step that would fix it.", max_length=SHORT_TEXT
    )


def make_validate(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def validate(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        iteration = state.get("iteration", 0) + 1
        failed = failed_steps(state.get("results") or [], iteration - 1)
        if failed:
            return _verdict(
                state,
                context,
                iteration,
                Validation(
                    complete=False,
                    missing=" ".join(failed)[:SHORT_TEXT],
                    retry_with="Plan the step again as the error says, or another way.",
                ),
            )
        system = VALIDATE_SYSTEM + RESULTS_BLOCK.format(
            results=render_results(
                state.get("results") or [], context.tool_output_chars, services.tools
            )
        )
        history = recent_history(state["messages"], 1)
        try:
            verdict = await ainvoke_structured(
                services.llm,
                [SystemMessage(content=system), *history],
                Validation,
                style=context.structured_output,
            )
        except StructuredOutputError as error:
            # The results exist; an unreadable verdict should not cost the user the answer.
            return {
                "iteration": iteration,
                "validation": None,
                "notes": [*state.get("notes", []), f"Self-check skipped: {error}"],
            }
        return _verdict(state, context, iteration, verdict)

    return validate


def failed_steps(results: list[dict[str, Any]], iteration: int) -> list[str]:
    """What went wrong in round ``iteration`` that another plan could fix: tool errors, not
    calls the user declined, policy refused, or that were skipped after another failed."""
    return [
        f"{result['tool']} failed: {result.get('error')}"
        for result in results
        if result.get("iteration") == iteration
        and not result.get("ok")
        and not result.get("refused")
        and not result.get("skipped")
    ]


def _verdict(
    state: AssistantState, context: Context, iteration: int, verdict: Validation
) -> dict[str, Any]:
    update: dict[str, Any] = {"iteration": iteration, "validation": verdict.model_dump()}
    if not verdict.complete:
        if iteration < context.max_iterations:
            update["plan_attempts"] = 0
            update["plan"] = None
        else:
            update["notes"] = [
                *state.get("notes", []),
                f"Stopped after {iteration} attempts; still missing: "
                f"{verdict.missing or 'unspecified'}.",
            ]
    return update
