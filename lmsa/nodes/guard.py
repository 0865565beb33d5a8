"""Turn entry: checks the new input is something the graph can work on, and starts a clean turn.

The security layer extends this node; for now it enforces what every later node assumes: the
turn begins with a non-empty user message of bounded size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes._common import message_text
from lmsa.state import AssistantState, fresh_turn


def make_guard(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def guard(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        update = fresh_turn()
        messages = state.get("messages", [])
        last = messages[-1] if messages else None
        if not isinstance(last, HumanMessage):
            update["error"] = "There is no new user message to answer."
        else:
            text = message_text(last)
            if not text.strip():
                update["error"] = "The message is empty; please type a request."
            elif len(text) > context.max_input_chars:
                update["error"] = (
                    f"The message is {len(text):,} characters long; the limit is "
                    f"{context.max_input_chars:,} (LMSA_MAX_INPUT_CHARS)."
                )
        return update

    return guard
