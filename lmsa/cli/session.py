"""Runs turns of a compiled assistant for an interactive interface: streams the answer's tokens,
notices a pending interrupt (a question for the user, or a tool call waiting for approval) and
resumes it with the user's reply (``{"answer": ...}`` or an ``ApprovalDecision``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from lmsa.tools.approval import parse_reply


@dataclass
class TurnOutcome:
    answer: str | None
    question: dict[str, Any] | None
    values: dict[str, Any] = field(default_factory=dict)
    streamed: bool = False
    notice: str | None = None  # e.g. an approval answer that could not be read


APPROVAL_HELP = "y = run it, n [reason] = refuse, e = edit the arguments (JSON)"


def is_approval(question: dict[str, Any] | None) -> bool:
    return bool(question) and question.get("kind") == "approval"  # type: ignore[union-attr]


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
        self, graph: CompiledStateGraph, thread_id: str, *, recursion_limit: int = 100
    ) -> None:
        self.graph = graph
        self.thread_id = thread_id
        self.recursion_limit = recursion_limit

    @property
    def config(self) -> RunnableConfig:
        return {
            "configurable": {"thread_id": self.thread_id},
            "recursion_limit": self.recursion_limit,
        }

    async def pending_question(self) -> dict[str, Any] | None:
        """The question the thread is waiting on (e.g. after a restart), if any."""
        snapshot = await self.graph.aget_state(self.config)
        for pending in snapshot.interrupts:
            if isinstance(pending.value, dict):
                return pending.value
            return {"kind": "question", "question": str(pending.value)}
        return None

    async def send(self, text: str, on_token: Callable[[str], None] | None = None) -> TurnOutcome:
        """A new user message, or the answer to the pending question if there is one."""
        payload: Any
        pending = await self.pending_question()
        if is_approval(pending):
            decision = parse_reply(text)
            if decision is None:
                snapshot = await self.graph.aget_state(self.config)
                return TurnOutcome(
                    answer=None,
                    question=pending,
                    values=dict(snapshot.values),
                    notice=f"Could not read that as an answer; {APPROVAL_HELP}.",
                )
            payload = Command(resume=decision.model_dump(exclude_none=True))
        elif pending is not None:
            payload = Command(resume={"answer": text})
        else:
            payload = {"messages": [HumanMessage(content=text)]}
        streamed = False
        async for mode, chunk in self.graph.astream(
            payload, self.config, stream_mode=["messages", "updates"]
        ):
            if mode != "messages" or on_token is None:
                continue
            message, metadata = cast(tuple[BaseMessage, dict[str, Any]], chunk)
            if (
                metadata.get("langgraph_node") == "respond"
                and isinstance(message, AIMessageChunk)
                and isinstance(message.content, str)
                and message.content
            ):
                on_token(message.content)
                streamed = True
        snapshot = await self.graph.aget_state(self.config)
        question = await self.pending_question() if snapshot.interrupts else None
        values = dict(snapshot.values)
        answer = None if question else values.get("answer")
        return TurnOutcome(answer=answer, question=question, values=values, streamed=streamed)

    async def history(self) -> list[BaseMessage]:
        snapshot = await self.graph.aget_state(self.config)
        return list(snapshot.values.get("messages", []))
