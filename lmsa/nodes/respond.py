"""Writes the turn's answer, streamed token by token to whoever is listening.

Streaming needs no code here: LangGraph's ``messages`` stream mode attaches a callback that makes
the chat model stream. Failures that ended the turn early are reported without an LLM call, so
the user hears about them even when the model is the thing that failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, SystemMessage
from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes._common import message_text, recent_history, render_results
from lmsa.prompts import RESPOND_SYSTEM, RESULTS_BLOCK
from lmsa.state import AssistantState


def make_respond(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def respond(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        error = state.get("error")
        results = state.get("results") or []
        if error and not results:
            return {"messages": [AIMessage(content=error)], "answer": error}
        intent = state.get("intent") or {}
        notes = list(state.get("notes") or [])
        if error:
            # Work already done is still worth reporting; the failure becomes part of the answer.
            notes.append(f"A later step failed: {error} Say so, and report what was done.")
        system = RESPOND_SYSTEM.format(
            language=intent.get("language") or "en",
            notes=("\n\nNotes: " + " ".join(notes)) if notes else "",
            results=(
                RESULTS_BLOCK.format(results=render_results(results, context.tool_output_chars))
                if results
                else ""
            ),
        )
        model = await services.llm.model()
        reply = await model.ainvoke(
            [
                SystemMessage(content=system),
                *recent_history(state["messages"], context.history_turns),
            ]
        )
        answer = message_text(reply)
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=answer)
        return {"messages": [message], "answer": answer}

    return respond
