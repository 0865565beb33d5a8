"""Context trimming: the history cut down to a context window, with a note to the model."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from lmsa.llm.complexity import approx_tokens

TRIM_NOTE = (
    "Note: earlier messages of this conversation were left out because they did not fit the "
    "model's context window; say so if the answer depends on them."
)


def trim_history(messages: Sequence[BaseMessage], budget: int | None) -> list[BaseMessage]:
    """Drop the oldest turns (never the leading system prompt, nor the last user message and
    what follows it) until the estimate fits ``budget``, and say so in a system note. Without a
    known budget, drop the older half."""
    lead = 0
    while lead < len(messages) and isinstance(messages[lead], SystemMessage):
        lead += 1
    last_user = max(
        (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=len(messages)
    )
    head = list(messages[:lead])
    tail = list(messages[max(last_user, lead) :])
    middle = list(messages[lead : max(last_user, lead)])
    note = SystemMessage(content=TRIM_NOTE)
    if budget is None:
        middle = middle[len(middle) // 2 :]
    else:
        while middle and approx_tokens([*head, note, *middle, *tail]) > budget:
            middle.pop(0)
    # A tool result without the call that asked for it confuses every chat template.
    while middle and isinstance(middle[0], ToolMessage):
        middle.pop(0)
    return [*head, note, *middle, *tail]
