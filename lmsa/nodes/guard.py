"""Turn entry: checks the new input before any model sees it, and starts a clean turn.

Every later node assumes the turn begins with a non-empty user message of bounded size; the
security layer (:mod:`lmsa.security`) adds encoding checks, prompt-injection detection, secret
redaction and the PII policy. A blocked message sets ``error`` (the respond node answers with it
without calling the model); a redacted one replaces the user's message in state — same id, so
``add_messages`` overwrites it — before the intent node or a checkpoint sees the secret.
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
        text = message_text(last)
        if not text.strip():
            update["error"] = "The message is empty; please type a request."
            return update
        verdict = security.check_input(text, max_chars=context.max_input_chars)
        if verdict.allowed and verdict.suspect and security.policy.llm_judge:
            verdict = await security.judge(
                services.llm, verdict, text, style=context.structured_output
            )
        await security.record("input", verdict, ids=security.run_ids(), chars=len(text))
        if not verdict.allowed:
            update["error"] = verdict.refusal or "The message was refused by the input guard."
            # Later turns send recent history to the model: a refused message must not ride along.
            update["messages"] = [last.model_copy(update={"content": WITHHELD})]
        elif verdict.redacted_text != text:
            update["messages"] = [last.model_copy(update={"content": verdict.redacted_text})]
            if "secret" in verdict.categories:
                update["notes"] = [REDACTED_NOTE]
        return update

    return guard
