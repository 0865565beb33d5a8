"""Turn entry: checks the new input before any model sees it, and starts a clean turn.

Every later node assumes the turn begins with a non-empty user message of bounded size; the
security layer (:mod:`lmsa.security`) adds encoding checks, prompt-injection detection, secret
redaction and the PII policy. Every user message not screened before is checked, not only the
last: a client of the OpenAI-compatible API sends a new conversation whole, and its earlier
messages reach the model as history. A blocked message sets ``error`` (the respond node answers
with it without calling the model) and is withheld; a redacted one replaces the message in state
— same id, so ``add_messages`` overwrites it — before the intent node or a checkpoint sees the
secret. Screened messages carry :data:`SCREENED`, so a later turn does not check them again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes._common import message_text
from lmsa.state import AssistantState, fresh_turn

WITHHELD = "[message withheld by the input guard]"
SCREENED = "lmsa_screened"
REDACTED_NOTE = (
    "The user's message contained credentials; they were replaced by [REDACTED:...] markers "
    "before you saw it. Say so briefly and suggest rotating the credential."
)


def make_guard(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    security = services.security

    async def guard(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        update = fresh_turn()
        messages = state.get("messages", [])
        last = messages[-1] if messages else None
        if not isinstance(last, HumanMessage):
            update["error"] = "There is no new user message to answer."
            return update
        if not message_text(last).strip():
            update["error"] = "The message is empty; please type a request."
            return update
        replaced: list[HumanMessage] = []
        for message in messages:
            if not isinstance(message, HumanMessage) or message.additional_kwargs.get(SCREENED):
                continue
            text = message_text(message)
            verdict = await security.screen_input(
                text,
                max_chars=context.max_input_chars,
                llm=services.llm,
                style=context.structured_output,
                source="message" if message is last else "earlier_message",
            )
            if not verdict.allowed:
                update["error"] = verdict.refusal or "The message was refused by the input guard."
                # Later turns send recent history to the model: a refused message must not
                # ride along.
                replaced.append(screened(message, WITHHELD))
            elif verdict.redacted_text != text:
                replaced.append(screened(message, verdict.redacted_text))
                if "secret" in verdict.categories:
                    update["notes"] = [REDACTED_NOTE]
            else:
                replaced.append(screened(message))
        if replaced:
            update["messages"] = replaced
        return update

    return guard


def screened(message: HumanMessage, content: str | None = None) -> HumanMessage:
    """``message`` (same id) marked as checked, with ``content`` when the guard changed it."""
    changes: dict[str, Any] = {"additional_kwargs": {**message.additional_kwargs, SCREENED: True}}
    if content is not None:
        changes["content"] = content
    return message.model_copy(update=changes)
