"""Runs turns of a compiled assistant for an interactive interface: streams the answer's tokens,
notices a pending interrupt (a question for the user) and resumes it with the user's reply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command


@dataclass
class TurnOutcome:
    answer: str | None
    question: dict[str, Any] | None
    values: dict[str, Any] = field(default_factory=dict)
    streamed: bool = False


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
        if await self.pending_question() is not None:
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
