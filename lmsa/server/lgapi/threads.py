"""Threads of the LangGraph Server API: records (create, search, read, patch, delete) and their
state (read, update, by checkpoint, history), over the same checkpointer and tenancy as the
``/v1`` API: a thread of another API key answers 404 like a missing one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from langchain_core.runnables import RunnableConfig

from lmsa.server.errors import ApiError, classify, not_found_thread
from lmsa.server.lgapi.records import Records, matches
from lmsa.server.lgapi.schemas import (
    HistoryQuery,
    StateCheckpoint,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from lmsa.server.lgapi.views import (
    checkpoint_ref,
    interrupts_by_task,
    new_record,
    now,
    thread_state,
    values_view,
    without_marks,
)
from lmsa.server.state import ServerState, server_state
from lmsa.server.tenancy import CurrentTenant, Tenant
from lmsa.turns import thread_config

router = APIRouter(tags=["langgraph threads"])
State = Annotated[ServerState, Depends(server_state)]


async def records_of(request: Request) -> Records:
    return request.app.state.lgapi_records  # type: ignore[no-any-return]


Store = Annotated[Records, Depends(records_of)]


def _config(tenant: Tenant, thread_id: str, checkpoint: Any = None) -> RunnableConfig:
    config = thread_config(tenant.stored(thread_id))
    ref = checkpoint.model_dump() if hasattr(checkpoint, "model_dump") else checkpoint
    if isinstance(ref, dict) and ref.get("checkpoint_id"):
        config["configurable"]["checkpoint_id"] = ref["checkpoint_id"]
        config["configurable"]["checkpoint_ns"] = ref.get("checkpoint_ns") or ""
    return config


async def load_thread(
    state: ServerState, store: Records, tenant: Tenant, thread_id: str
) -> dict[str, Any]:
    """The caller's thread record; a thread only the checkpointer knows (made by the ``/v1``
    API or the CLI) gets one. A ``busy`` left by an instance that died mid-run is corrected."""
    stored = tenant.stored(thread_id)
    try:
        record = await store.get(stored)
        if record is not None and record.get("status") != "busy":
            return record
        if record is not None and await state.locks.busy(stored):
            return record
        snapshot = await state.graph.aget_state(thread_config(stored))
    except Exception as error:
        raise classify(error, state.settings) from error
    if record is None:
        if snapshot.created_at is None:
            raise not_found_thread(thread_id)
        record = new_record(thread_id, {})
        record["created_at"] = snapshot.created_at
    refresh(record, snapshot, state)
    await store.put(stored, tenant.owner, record)
    return record


def refresh(record: dict[str, Any], snapshot: Any, state: ServerState, error: Any = None) -> None:
    """``record``'s values, interrupts and status from the thread's latest snapshot."""
    security = state.services.security
    record["values"] = values_view(dict(snapshot.values or {}), security) or None
    record["interrupts"] = interrupts_by_task(snapshot, security)
    record["status"] = "error" if error else "interrupted" if record["interrupts"] else "idle"
    record["error"] = error
    record["updated_at"] = record["state_updated_at"] = now()


@router.post("/threads")
async def create_thread(
    state: State, store: Store, tenant: CurrentTenant, body: ThreadCreate | None = None
) -> dict[str, Any]:
    body = body or ThreadCreate()
    thread_id = body.thread_id or str(uuid.uuid4())
    stored = tenant.stored(thread_id)
    existing = await store.get(stored)
    if existing is None:
        try:
            checkpointed = (await state.graph.aget_state(thread_config(stored))).created_at
        except Exception as error:
            raise classify(error, state.settings) from error
        if checkpointed is not None:
            existing = await load_thread(state, store, tenant, thread_id)
    if existing is not None:
        if body.if_exists == "do_nothing":
            return existing
        raise ApiError(409, f"Thread {thread_id!r} already exists.", code="thread_exists")
    record = new_record(thread_id, body.metadata)
    await store.put(stored, tenant.owner, record)
    return record


async def _search(store: Records, tenant: Tenant, body: ThreadSearch | ThreadCount) -> list[Any]:
    found = []
    async for record in store.newest(tenant.owner):
        if matches(
            record,
            metadata=body.metadata,
            values=body.values,
            status=body.status,
            ids=getattr(body, "ids", None),
        ):
            found.append(record)
    return found


@router.post("/threads/search")
async def search_threads(
    store: Store, tenant: CurrentTenant, body: ThreadSearch | None = None
) -> list[dict[str, Any]]:
    body = body or ThreadSearch()
    found = await _search(store, tenant, body)
    if (body.sort_by is not None and body.sort_by != "updated_at") or body.sort_order == "asc":
        key = body.sort_by or "updated_at"
        found.sort(key=lambda r: str(r.get(key) or ""), reverse=body.sort_order != "asc")
    return found[body.offset : body.offset + body.limit]


@router.post("/threads/count")
async def count_threads(
    store: Store, tenant: CurrentTenant, body: ThreadCount | None = None
) -> int:
    return len(await _search(store, tenant, body or ThreadCount()))


@router.get("/threads/{thread_id}")
async def get_thread(
    thread_id: str, state: State, store: Store, tenant: CurrentTenant
) -> dict[str, Any]:
    return await load_thread(state, store, tenant, thread_id)


@router.patch("/threads/{thread_id}")
async def patch_thread(
    thread_id: str, body: ThreadPatch, state: State, store: Store, tenant: CurrentTenant
) -> dict[str, Any]:
    record = await load_thread(state, store, tenant, thread_id)
    record["metadata"] = {**(record.get("metadata") or {}), **(body.metadata or {})}
    record["updated_at"] = now()
    await store.put(tenant.stored(thread_id), tenant.owner, record)
    return record


@router.delete("/threads/{thread_id}", status_code=204, response_class=Response)
async def delete_thread(
    thread_id: str, state: State, store: Store, tenant: CurrentTenant
) -> Response:
    await load_thread(state, store, tenant, thread_id)
    stored = tenant.stored(thread_id)
    if await state.locks.busy(stored):
        raise ApiError(409, f"A run is in progress on thread {thread_id}.", code="busy")
    try:
        await state.checkpointer.adelete_thread(stored)
    except Exception as error:
        raise classify(error, state.settings) from error
    await store.delete(stored, tenant.owner)
    return Response(status_code=204)


async def _state(state: ServerState, tenant: Tenant, thread_id: str, config: Any) -> Any:
    try:
        snapshot = await state.graph.aget_state(config)
    except Exception as error:
        raise classify(error, state.settings) from error
    return thread_state(snapshot, tenant.stored(thread_id), thread_id, state.services.security)


@router.get("/threads/{thread_id}/state")
async def get_state(
    thread_id: str,
    state: State,
    store: Store,
    tenant: CurrentTenant,
    subgraphs: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    await load_thread(state, store, tenant, thread_id)
    return await _state(state, tenant, thread_id, _config(tenant, thread_id))  # type: ignore[no-any-return]


@router.post("/threads/{thread_id}/state/checkpoint")
async def get_state_at_checkpoint(
    thread_id: str,
    state: State,
    store: Store,
    tenant: CurrentTenant,
    body: StateCheckpoint | None = None,
) -> dict[str, Any]:
    await load_thread(state, store, tenant, thread_id)
    config = _config(tenant, thread_id, body.checkpoint if body else None)
    return await _state(state, tenant, thread_id, config)  # type: ignore[no-any-return]


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_by_id(
    thread_id: str,
    checkpoint_id: str,
    state: State,
    store: Store,
    tenant: CurrentTenant,
    subgraphs: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    await load_thread(state, store, tenant, thread_id)
    config = _config(tenant, thread_id, {"checkpoint_id": checkpoint_id})
    return await _state(state, tenant, thread_id, config)  # type: ignore[no-any-return]


@router.post("/threads/{thread_id}/state")
async def update_state(
    thread_id: str, body: StateUpdate, state: State, store: Store, tenant: CurrentTenant
) -> dict[str, Any]:
    """LangGraph's ``update_state``, refused (409) while a run holds the thread."""
    record = await load_thread(state, store, tenant, thread_id)
    stored = tenant.stored(thread_id)
    checkpoint = body.checkpoint or (
        {"checkpoint_id": body.checkpoint_id} if body.checkpoint_id else None
    )
    try:
        async with state.locks.hold(stored), state.locks.lease(stored):
            config = _config(tenant, thread_id, checkpoint)
            written = await state.graph.aupdate_state(
                config, without_marks(body.values), as_node=body.as_node
            )
            snapshot = await state.graph.aget_state(thread_config(stored))
    except ApiError:
        raise
    except Exception as error:
        from lmsa.server.locks import ThreadBusy

        if isinstance(error, ThreadBusy):
            raise ApiError(
                409, f"A run is in progress on thread {thread_id}.", code="busy"
            ) from error
        raise classify(error, state.settings) from error
    refresh(record, snapshot, state)
    await store.put(stored, tenant.owner, record)
    return {"checkpoint": checkpoint_ref(written, thread_id)}


@router.post("/threads/{thread_id}/history")
async def post_history(
    thread_id: str,
    state: State,
    store: Store,
    tenant: CurrentTenant,
    body: HistoryQuery | None = None,
) -> list[dict[str, Any]]:
    return await _history(state, store, tenant, thread_id, body or HistoryQuery())


@router.get("/threads/{thread_id}/history")
async def get_history(
    thread_id: str,
    state: State,
    store: Store,
    tenant: CurrentTenant,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: Annotated[str | None, Query()] = None,
) -> list[dict[str, Any]]:
    return await _history(state, store, tenant, thread_id, HistoryQuery(limit=limit, before=before))


async def _history(
    state: ServerState, store: Records, tenant: Tenant, thread_id: str, query: HistoryQuery
) -> list[dict[str, Any]]:
    await load_thread(state, store, tenant, thread_id)
    before = query.before
    if isinstance(before, str):
        before_config: Any = _config(tenant, thread_id, {"checkpoint_id": before})
    else:
        before_config = _config(tenant, thread_id, before) if before else None
    stored = tenant.stored(thread_id)
    rows = []
    try:
        async for snapshot in state.graph.aget_state_history(
            _config(tenant, thread_id, query.checkpoint),
            limit=query.limit,
            before=before_config,
            filter=query.metadata or None,
        ):
            rows.append(thread_state(snapshot, stored, thread_id, state.services.security))
    except Exception as error:
        raise classify(error, state.settings) from error
    return rows
