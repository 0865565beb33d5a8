"""What LangGraph API clients are shown: thread states, checkpoints and thread records in
langgraph-api's shapes, passed through the same view as the ``/v1`` API (tool output withheld,
credentials redacted, see :mod:`lmsa.server.views`) and with stored (tenant-prefixed) thread
ids replaced by the ids the caller knows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic_core import to_jsonable_python

from lmsa.security.layer import SecurityLayer
from lmsa.server.lgapi.interrupts import shown_interrupt, shown_values
from lmsa.server.views import redacted, state_values

MARK_PREFIX = "lmsa_"


def now() -> str:
    return datetime.now(UTC).isoformat()


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=str)


def unstored(value: Any, stored: str, shown: str) -> Any:
    """``value`` with every string equal to the stored thread id replaced by the shown one."""
    if stored == shown:
        return value
    if isinstance(value, str):
        return shown if value == stored else value
    if isinstance(value, list):
        return [unstored(item, stored, shown) for item in value]
    if isinstance(value, dict):
        return {key: unstored(item, stored, shown) for key, item in value.items()}
    return value


def values_view(values: Any, security: SecurityLayer) -> Any:
    """A state (or state update) as clients see it; interrupts in their API shape."""
    if not isinstance(values, dict):
        return redacted(jsonable(values), security)
    pending = values.get("__interrupt__")
    plain = {key: item for key, item in values.items() if key != "__interrupt__"}
    shown = state_values(plain, security)
    if pending is not None:
        shown = shown_values({**shown, "__interrupt__": pending})
        shown["__interrupt__"] = redacted(jsonable(shown["__interrupt__"]), security)
    return shown


def message_view(message: Any, security: SecurityLayer) -> Any:
    if isinstance(message, BaseMessage):
        return redacted(jsonable(message.model_dump()), security)
    return redacted(jsonable(message), security)


def checkpoint_ref(config: Any, shown: str) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("checkpoint_id"):
        return None
    ref = {
        "thread_id": shown,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
    }
    if configurable.get("checkpoint_map") is not None:
        ref["checkpoint_map"] = configurable["checkpoint_map"]
    return ref


def thread_state(snapshot: Any, stored: str, shown: str, security: SecurityLayer) -> dict[str, Any]:
    """langgraph-api's ThreadState of a LangGraph ``StateSnapshot``."""
    checkpoint = checkpoint_ref(snapshot.config, shown)
    parent = checkpoint_ref(snapshot.parent_config, shown)
    tasks = []
    for task in snapshot.tasks:
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(list(getattr(task, "path", ()) or ())),
                "error": None if task.error is None else f"{type(task.error).__name__}",
                "interrupts": [_redacted_interrupt(i, security) for i in task.interrupts],
                "checkpoint": checkpoint_ref(state, shown) if isinstance(state, dict) else None,
                "state": None
                if state is None or isinstance(state, dict)
                else thread_state(state, stored, shown, security),
                "result": values_view(task.result, security)
                if getattr(task, "result", None) is not None
                else None,
            }
        )
    return {
        "values": values_view(dict(snapshot.values or {}), security),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": unstored(redacted(jsonable(snapshot.metadata or {}), security), stored, shown),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent.get("checkpoint_id") if parent else None,
        "interrupts": [_redacted_interrupt(i, security) for i in snapshot.interrupts],
    }


def _redacted_interrupt(interrupt: Any, security: SecurityLayer) -> Any:
    return redacted(jsonable(shown_interrupt(interrupt)), security)


def interrupts_by_task(snapshot: Any, security: SecurityLayer) -> dict[str, list[Any]]:
    """A thread record's ``interrupts``: task id -> that task's pending interrupts."""
    return {
        task.id: [_redacted_interrupt(i, security) for i in task.interrupts]
        for task in snapshot.tasks
        if task.interrupts
    }


def new_record(thread_id: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    stamp = now()
    return {
        "thread_id": thread_id,
        "created_at": stamp,
        "updated_at": stamp,
        "state_updated_at": stamp,
        "metadata": dict(metadata or {}),
        "status": "idle",
        "config": {},
        "values": None,
    }  # ``interrupts`` and ``error`` appear once the thread has run, as in langgraph-api


def without_marks(value: Any) -> Any:
    """Client-supplied messages with lmsa's own markers (e.g. "already screened by the input
    guard") removed from ``additional_kwargs``: only lmsa's nodes may set them."""
    if isinstance(value, list):
        return [without_marks(item) for item in value]
    if isinstance(value, BaseMessage):
        kwargs = {k: v for k, v in value.additional_kwargs.items() if not k.startswith(MARK_PREFIX)}
        return value.model_copy(update={"additional_kwargs": kwargs})
    if isinstance(value, dict):
        cleaned = {key: without_marks(item) for key, item in value.items()}
        extra = cleaned.get("additional_kwargs")
        if isinstance(extra, dict):
            cleaned["additional_kwargs"] = {
                k: v for k, v in extra.items() if not str(k).startswith(MARK_PREFIX)
            }
        return cleaned
    return value
