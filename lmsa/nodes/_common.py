"""Small helpers the nodes share for reading the conversation and rendering results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage

from lmsa.llm.replies import message_text
from lmsa.llm.structured import dumps
from lmsa.tools import ToolRegistry

CLARIFICATION_MARK = "lmsa_clarification"
"""Set in ``additional_kwargs`` of a clarification question and its answer: they belong to the
turn that asked, so they must not count as the start of a new turn."""


def last_user_text(messages: Sequence[AnyMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def recent_history(messages: Sequence[AnyMessage], turns: int) -> list[AnyMessage]:
    """The last ``turns`` user turns with everything said after each, so prompts stay small
    while the model still sees what "it" and "that file" refer to."""
    turns = max(turns, 1)  # the current turn is always needed
    # From the end: a long conversation costs no more per turn than a short one.
    first: int | None = None
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, HumanMessage) and not m.additional_kwargs.get(CLARIFICATION_MARK):
            first = i
            turns -= 1
            if not turns:
                break
    if first is None:
        return list(messages)
    return list(messages[first:])


def render_results(
    results: Sequence[dict[str, Any]], cap: int, tools: ToolRegistry | None = None
) -> str:
    """Tool results as the model sees them: each output cut to ``cap`` characters with a note
    (the full output stays in state for the user); with ``tools``, each call shows only the
    arguments that differ from their defaults."""
    lines = []
    for result in results:
        args = result["args"]
        if tools is not None and isinstance(args, dict):
            args = tools.explicit_args(result["tool"], args)
        header = f"[{result['step_id']}] {result['tool']}({dumps(args)})"
        if result["ok"]:
            output = str(result["output"])
            if len(output) > cap:
                omitted = len(output) - cap
                output = f"{output[:cap]}\n[... {omitted} more characters truncated ...]"
            lines.append(f"{header} -> ok\n{output}")
        else:
            lines.append(f"{header} -> error: {result['error']}")
    return "\n\n".join(lines)


def turn_request(messages: Sequence[AnyMessage]) -> str:
    """The user's words in the current turn: the request and any clarification answers."""
    return "\n".join(
        message_text(m) for m in recent_history(messages, 1) if isinstance(m, HumanMessage)
    )
