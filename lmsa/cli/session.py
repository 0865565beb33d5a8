"""A terminal's view of one thread: sends what the person typed through the turn driver
(:mod:`lmsa.turns`), streams the answer's tokens, and shows a pending interrupt (a question, or a
tool call waiting for approval) so the next line typed answers it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.graph.state import CompiledStateGraph

from lmsa.turns import (
    TurnEvent,
    TurnResult,
    first_question,
    is_approval,
    reply_input,
    run_turn,
    thread_config,
    thread_status,
)

__all__ = ["APPROVAL_HELP", "ChatSession", "TurnOutcome", "describe_question", "is_approval"]


@dataclass
class TurnOutcome:
    answer: str | None
    question: dict[str, Any] | None
    values: dict[str, Any] = field(default_factory=dict)
    streamed: bool = False
    notice: str | None = None  # e.g. an approval answer that could not be read


APPROVAL_HELP = "y = run it, n [reason] = refuse, e = edit the arguments (JSON)"


def describe_question(question: dict[str, Any]) -> str:
    """How a pending interrupt reads in a terminal: the question, or the exact tool call that
    waits for approval (shown in full, arguments included: the user approves what runs)."""
    if not is_approval(question):
        return str(question.get("question", ""))
    args = json.dumps(question.get("args", {}), ensure_ascii=False, indent=2)
    lines = [
        f"Approval needed ({question.get('risk')}) for step {question.get('step_id')}: "
        f"{question.get('tool')}",
        f"  why: {question.get('reason')}",
    ]
    if question.get("purpose"):
        lines.append(f"  purpose: {question['purpose']}")
    lines.append("  args: " + args.replace("\n", "\n  "))
    if question.get("error"):
        lines.append(f"  your previous edit was not accepted: {question['error']}")
    lines.append(f"Approve? {APPROVAL_HELP}")
    return "\n".join(lines)


class ChatSession:
    """One thread of one assistant, as seen from a terminal."""

    def __init__(
        self, graph: CompiledStateGraph, thread_id: str, *, endpoint: str | None = None
    ) -> None:
        self.graph = graph
        self.thread_id = thread_id
        self.endpoint = endpoint  # the LLM endpoint, for traces and logs
        self.last_steps: list[dict[str, Any]] = []  # the last turn's tool steps, for /details

    async def pending_question(self) -> dict[str, Any] | None:
        """The question the thread is waiting on (e.g. after a restart), if any."""
        return first_question((await thread_status(self.graph, self.thread_id)).interrupts)

    async def send(
        self,
        text: str,
        on_token: Callable[[str], None] | None = None,
        on_event: Callable[[TurnEvent], None] | None = None,
    ) -> TurnOutcome:
        """A new user message, or the answer to the pending question if there is one;
        ``on_event`` gets every event of the turn, progress events included."""
        pending = await self.pending_question()
        payload = reply_input(text, pending)
        if payload is None:
            return TurnOutcome(
                answer=None,
                question=pending,
                values=await self._values(),
                notice=f"Could not read that as an answer; {APPROVAL_HELP}.",
            )
        results: list[TurnResult] = []
        async for event in run_turn(
            self.graph,
            self.thread_id,
            payload,
            kind="message" if pending is None else "resume",
            endpoint=self.endpoint,
            result=results,
            progress=on_event is not None,
        ):
            if on_event is not None:
                on_event(event)
            if event.kind == "token" and on_token is not None:
                on_token(event.data["text"])
        result = results[0]
        question = first_question([result.interrupt] if result.interrupt else [])
        values = await self._values()
        answer = None if question else values.get("answer")
        return TurnOutcome(
            answer=answer, question=question, values=values, streamed=result.streamed
        )

    async def _values(self) -> dict[str, Any]:
        snapshot = await self.graph.aget_state(thread_config(self.thread_id))
        return dict(snapshot.values)

    async def history(self) -> list[BaseMessage]:
        return list((await self._values()).get("messages", []))
