"""Thread listing, checkpoint history and forking, over any LangGraph checkpointer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph.state import CompiledStateGraph

INTERRUPT_CHANNEL = "__interrupt__"  # langgraph's reserved channel for a paused task's question


class ForkError(ValueError):
    """The thread or checkpoint to fork from does not exist."""


@dataclass
class ThreadRow:
    thread_id: str
    updated: str
    preview: str


@dataclass
class CheckpointRow:
    checkpoint_id: str
    step: int
    created_at: str
    next: tuple[str, ...]
    messages: int
    preview: str


def _preview(messages: list[BaseMessage] | None, width: int = 60) -> str:
    for message in reversed(messages or []):
        if isinstance(message, HumanMessage):
            text = message.content if isinstance(message.content, str) else str(message.content)
            text = " ".join(text.split())
            return text if len(text) <= width else text[: width - 1] + "…"
    return ""


async def list_threads(graph: CompiledStateGraph, limit: int = 50) -> list[ThreadRow]:
    saver = graph.checkpointer
    if saver is None or isinstance(saver, bool):
        return []
    latest: dict[str, tuple[str, Any]] = {}
    async for item in saver.alist(None):
        configurable = item.config["configurable"]
        if configurable.get("checkpoint_ns"):
            continue
        thread_id = str(configurable["thread_id"])
        ts = str(item.checkpoint.get("ts", ""))
        if thread_id not in latest or ts > latest[thread_id][0]:
            latest[thread_id] = (ts, item)
    rows = [
        ThreadRow(
            thread_id,
            ts[:19].replace("T", " "),
            _preview(item.checkpoint["channel_values"].get("messages")),
        )
        for thread_id, (ts, item) in latest.items()
    ]
    rows.sort(key=lambda row: row.updated, reverse=True)
    return rows[:limit]


async def checkpoint_history(graph: CompiledStateGraph, thread_id: str) -> list[CheckpointRow]:
    rows = []
    async for snapshot in graph.aget_state_history({"configurable": {"thread_id": thread_id}}):
        messages = snapshot.values.get("messages") if isinstance(snapshot.values, dict) else None
        rows.append(
            CheckpointRow(
                checkpoint_id=str(snapshot.config["configurable"]["checkpoint_id"]),
                step=int((snapshot.metadata or {}).get("step", -1)),
                created_at=(snapshot.created_at or "")[:19].replace("T", " "),
                next=tuple(snapshot.next),
                messages=len(messages or []),
                preview=_preview(messages),
            )
        )
    return rows


async def fork_thread(graph: CompiledStateGraph, thread_id: str, checkpoint_id: str) -> str:
    """Copies one checkpoint (with its pending question, so it stays answerable) into a new
    thread; the source thread is untouched. Works with every checkpointer because it
    only uses the saver API."""
    saver = graph.checkpointer
    if saver is None or isinstance(saver, bool):
        raise ForkError("Forking needs a persistent checkpointer.")
    source: RunnableConfig = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }
    found = await saver.aget_tuple(source)
    if found is None:
        raise ForkError(
            f"Thread {thread_id} has no checkpoint {checkpoint_id}; "
            f"`lmsa threads history {thread_id}` lists them."
        )
    new_thread = str(uuid.uuid4())
    metadata = {
        **found.metadata,
        "source": "fork",
        "forked_from": {"thread_id": thread_id, "checkpoint_id": checkpoint_id},
    }
    # The copy is a new checkpoint (its own id and time): the fork is new, and retention, which
    # reads a thread's age from its latest checkpoint, must not count it as old as its source.
    checkpoint = {
        **found.checkpoint,
        "id": str(uuid6(clock_seq=-2)),
        "ts": datetime.now(UTC).isoformat(),
    }
    target = await saver.aput(
        {"configurable": {"thread_id": new_thread, "checkpoint_ns": ""}},
        checkpoint,  # type: ignore[arg-type]
        metadata,  # type: ignore[arg-type]
        dict(found.checkpoint["channel_versions"]),
    )
    # Only a pending question travels with the fork. Outputs of steps that finished after this
    # checkpoint belong to the source's future: copied, they would show in the fork's state
    # yet be dropped by its next run, so the fork would say one thing and continue from another.
    writes: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task_id, channel, value in found.pending_writes or []:
        if channel == INTERRUPT_CHANNEL:
            writes[task_id].append((channel, value))
    for task_id, task_writes in writes.items():
        await saver.aput_writes(target, task_writes, task_id)
    return new_thread
