"""Request bodies of the LangGraph Server API routes, as langgraph_sdk, RemoteGraph, Studio and
agent-chat-ui send them. Unknown fields are accepted and ignored (clients of several versions
send fields this server has no use for); the ones it uses are typed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GRAPH_ID = "assistant"
StreamModeName = str


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class AssistantSearch(_Lenient):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class AssistantCount(_Lenient):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None


class ThreadCreate(_Lenient):
    thread_id: str | None = Field(default=None, max_length=128)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadPatch(_Lenient):
    metadata: dict[str, Any] | None = None


class ThreadSearch(_Lenient):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


class ThreadCount(_Lenient):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class CheckpointRef(_Lenient):
    thread_id: str | None = None
    checkpoint_ns: str | None = ""
    checkpoint_id: str | None = None


class StateCheckpoint(_Lenient):
    checkpoint: CheckpointRef | None = None
    subgraphs: bool = False


class StateUpdate(_Lenient):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None


class HistoryQuery(_Lenient):
    limit: int = Field(default=10, ge=1, le=1000)
    before: CheckpointRef | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None


class CommandBody(_Lenient):
    resume: Any = None
    goto: Any = None
    update: Any = None


class RunCreate(_Lenient):
    assistant_id: str = GRAPH_ID
    input: Any = None
    command: CommandBody | None = None
    stream_mode: list[StreamModeName] | StreamModeName = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    if_not_exists: Literal["create", "reject"] = "reject"
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
