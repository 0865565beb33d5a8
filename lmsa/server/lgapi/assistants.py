"""Assistants: one per served graph, as ``langgraph dev`` creates them (graph id
``assistant``, the id LangGraph derives from it), read-only. A graph id is accepted wherever an
assistant id is."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import TypeAdapter

from lmsa.server.errors import ApiError
from lmsa.server.lgapi.records import matches
from lmsa.server.lgapi.schemas import GRAPH_ID, AssistantCount, AssistantSearch
from lmsa.server.state import ServerState, server_state

router = APIRouter(tags=["langgraph assistants"])
State = Annotated[ServerState, Depends(server_state)]

NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
ASSISTANT_ID = str(uuid.uuid5(NAMESPACE, GRAPH_ID))
# Fixed, so every instance behind a load balancer describes the same assistant.
CREATED_AT = "2025-01-01T00:00:00+00:00"


def assistant_record() -> dict[str, Any]:
    return {
        "assistant_id": ASSISTANT_ID,
        "graph_id": GRAPH_ID,
        "name": GRAPH_ID,
        "description": None,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": CREATED_AT,
        "updated_at": CREATED_AT,
    }


def resolve(assistant_id: str) -> dict[str, Any]:
    """The assistant named by ``assistant_id`` (its id or the graph id), or 404."""
    if assistant_id not in (ASSISTANT_ID, GRAPH_ID):
        raise ApiError(404, f"Assistant {assistant_id!r} not found.", code="assistant_not_found")
    return assistant_record()


def _found(body: AssistantSearch | AssistantCount) -> list[dict[str, Any]]:
    record = assistant_record()
    if body.graph_id not in (None, GRAPH_ID) or body.name not in (None, "", GRAPH_ID):
        return []
    return [record] if matches(record, metadata=body.metadata) else []


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch | None = None) -> list[dict[str, Any]]:
    body = body or AssistantSearch()
    return _found(body)[body.offset : body.offset + body.limit]


@router.post("/assistants/count")
async def count_assistants(body: AssistantCount | None = None) -> int:
    return len(_found(body or AssistantCount()))


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str) -> dict[str, Any]:
    return resolve(assistant_id)


@router.post("/assistants/{assistant_id}/versions")
async def assistant_versions(assistant_id: str) -> list[dict[str, Any]]:
    return [resolve(assistant_id)]


@router.get("/assistants/{assistant_id}/graph")
async def assistant_graph(
    assistant_id: str, state: State, xray: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    resolve(assistant_id)
    depth: bool | int = False
    if xray in ("true", "True"):
        depth = True
    elif xray not in (None, "", "false", "False"):
        try:
            depth = int(xray)
        except ValueError:
            depth = 0
        if depth <= 0:
            raise ApiError(422, "Invalid xray value.", code="invalid_request", param="xray")
    drawn = (await state.graph.aget_graph(xray=depth)).to_json()
    for node in drawn.get("nodes", []):
        data = node.get("data")
        if isinstance(data, dict):
            data.pop("id", None)
    return drawn  # type: ignore[no-any-return]


@router.get("/assistants/{assistant_id}/schemas")
async def assistant_schemas(assistant_id: str, state: State) -> dict[str, Any]:
    resolve(assistant_id)
    return {"graph_id": GRAPH_ID, **graph_schemas(state.graph)}


@router.get("/assistants/{assistant_id}/subgraphs")
@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def assistant_subgraphs(
    assistant_id: str,
    state: State,
    namespace: str | None = None,
    recurse: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    resolve(assistant_id)
    deep = recurse in ("true", "True")
    return {
        name: graph_schemas(sub)
        async for name, sub in state.graph.aget_subgraphs(namespace=namespace, recurse=deep)
    }


def graph_schemas(graph: Any) -> dict[str, Any]:
    """Input, output, state, config and context JSON schemas (None where one cannot be made)."""
    return {
        "input_schema": _attempt(graph.get_input_jsonschema),
        "output_schema": _attempt(graph.get_output_jsonschema),
        "state_schema": _attempt(lambda: state_schema(graph)),
        "config_schema": {},
        "context_schema": _attempt(graph.get_context_jsonschema),
    }


def state_schema(graph: Any) -> dict[str, Any]:
    """The state's channels, each with the schema of the updates it takes."""
    properties: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        try:
            properties[name] = TypeAdapter(graph.channels[name].UpdateType).json_schema()
        except Exception:
            properties[name] = {}
    return {"title": graph.get_name("State"), "type": "object", "properties": properties}


def _attempt(make: Any) -> Any:
    try:
        return make()
    except Exception:
        return None
