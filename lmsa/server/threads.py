"""Threads and runs: create a thread, read its state and checkpoint history, delete it, run a
turn (JSON or Server-Sent Events with tokens and node updates), and resume a pending interrupt.

SSE events of a run: ``metadata`` (thread and run ids), ``token`` (answer text as written),
``node`` (a node finished: name, seconds, state keys it wrote), then ``interrupt`` (a question
waits) and/or ``end`` (the :class:`RunResult`), or ``error`` (same body as an HTTP error).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse

from lmsa.server.errors import (
    ERROR_RESPONSES,
    THREAD_RESPONSES,
    ApiError,
    classify,
    error_payload,
    not_found_thread,
)
from lmsa.server.schemas import (
    SSE_EVENT_SCHEMA,
    THREAD_ID_PATTERN,
    CheckpointInfo,
    InterruptInfo,
    ResumeRequest,
    RunCreate,
    RunResult,
    Thread,
    ThreadCreate,
    ThreadHistory,
    ThreadState,
)
from lmsa.server.state import ServerState, server_state
from lmsa.server.tenancy import CurrentTenant, Tenant
from lmsa.server.turns import complete_turn, turn_events
from lmsa.server.views import message_out, state_values
from lmsa.turns import TurnResult, message_input, resume, thread_config

router = APIRouter(prefix="/v1/threads", tags=["threads"])

State = Annotated[ServerState, Depends(server_state)]
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN, max_length=128)]
RESPONSES = {**ERROR_RESPONSES, **THREAD_RESPONSES}
SSE_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        "description": "RunResult, or Server-Sent Events when `stream` is true.",
    }
}


async def _snapshot(state: ServerState, tenant: Tenant, thread_id: str) -> Any:
    """The caller's thread ``thread_id``; another key's thread is as missing as no thread."""
    try:
        snapshot = await state.graph.aget_state(thread_config(tenant.stored(thread_id)))
    except Exception as error:
        raise classify(error, state.settings) from error
    if snapshot.created_at is None:
        raise not_found_thread(thread_id)
    return snapshot


@router.post("", response_model=Thread, status_code=201, responses=RESPONSES)
async def create_thread(
    state: State, tenant: CurrentTenant, body: ThreadCreate | None = None
) -> Thread:
    """A new, empty thread (a checkpoint with no messages), so runs can target it."""
    thread_id = (body.thread_id if body else None) or str(uuid.uuid4())
    config = thread_config(tenant.stored(thread_id))
    try:
        existing = await state.graph.aget_state(config)
        if existing.created_at is not None:
            raise ApiError(409, f"Thread {thread_id!r} already exists.", code="thread_exists")
        await state.graph.aupdate_state(config, {"messages": []}, as_node="respond")
        created = await state.graph.aget_state(config)
    except ApiError:
        raise
    except Exception as error:
        raise classify(error, state.settings) from error
    return Thread(thread_id=thread_id, created_at=created.created_at)


@router.get("/{thread_id}", response_model=ThreadState, responses=RESPONSES)
async def get_thread(thread_id: ThreadIdPath, state: State, tenant: CurrentTenant) -> ThreadState:
    snapshot = await _snapshot(state, tenant, thread_id)
    values = dict(snapshot.values or {})
    messages = values.pop("messages", [])
    interrupts = [InterruptInfo(id=p.id, value=p.value) for p in snapshot.interrupts]
    security = state.services.security
    return ThreadState(
        thread_id=thread_id,
        status="interrupted" if interrupts else "idle",
        checkpoint_id=(snapshot.config.get("configurable") or {}).get("checkpoint_id"),
        created_at=snapshot.created_at,
        next=list(snapshot.next),
        interrupts=interrupts,
        messages=[message_out(m, security) for m in messages],
        values=state_values(values, security),
    )


@router.get("/{thread_id}/history", response_model=ThreadHistory, responses=RESPONSES)
async def thread_history(
    thread_id: ThreadIdPath,
    state: State,
    tenant: CurrentTenant,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> ThreadHistory:
    """The thread's checkpoints, newest first."""
    await _snapshot(state, tenant, thread_id)
    rows: list[CheckpointInfo] = []
    config = thread_config(tenant.stored(thread_id))
    try:
        async for snap in state.graph.aget_state_history(config, limit=limit):
            configurable = snap.config.get("configurable") or {}
            parent = (snap.parent_config or {}).get("configurable") or {}
            rows.append(
                CheckpointInfo(
                    checkpoint_id=str(configurable.get("checkpoint_id")),
                    parent_checkpoint_id=parent.get("checkpoint_id"),
                    created_at=snap.created_at,
                    step=(snap.metadata or {}).get("step"),
                    next=list(snap.next),
                    messages=len((snap.values or {}).get("messages", [])),
                )
            )
    except Exception as error:
        raise classify(error, state.settings) from error
    return ThreadHistory(thread_id=thread_id, checkpoints=rows)


@router.delete(
    "/{thread_id}",
    status_code=204,
    response_class=Response,
    responses=RESPONSES,
)
async def delete_thread(thread_id: ThreadIdPath, state: State, tenant: CurrentTenant) -> Response:
    await _snapshot(state, tenant, thread_id)
    try:
        await state.checkpointer.adelete_thread(tenant.stored(thread_id))
    except Exception as error:
        raise classify(error, state.settings) from error
    return Response(status_code=204)


@router.post(
    "/{thread_id}/runs",
    response_model=RunResult,
    responses={**RESPONSES, **SSE_OR_JSON},
)
async def create_run(
    thread_id: ThreadIdPath, body: RunCreate, state: State, tenant: CurrentTenant
) -> Any:
    """A new user message: one assistant turn. 409 while a question waits (use ``/resume``)."""
    snapshot = await _snapshot(state, tenant, thread_id)
    if snapshot.interrupts:
        raise ApiError(
            409,
            f"Thread {thread_id} waits for an answer to its question; "
            f"POST /v1/threads/{thread_id}/resume.",
            code="interrupt_pending",
        )
    payload = message_input(body.message)
    return await _run(state, tenant, thread_id, payload, "message", body.stream)


@router.post(
    "/{thread_id}/resume",
    response_model=RunResult,
    responses={**RESPONSES, **SSE_OR_JSON},
)
async def resume_run(
    thread_id: ThreadIdPath, body: ResumeRequest, state: State, tenant: CurrentTenant
) -> Any:
    """Answer the pending interrupt: ``answer`` for a clarification, ``decision`` for an
    approval. 409 when nothing is pending."""
    snapshot = await _snapshot(state, tenant, thread_id)
    if not snapshot.interrupts:
        raise ApiError(409, f"Thread {thread_id} waits for nothing.", code="no_interrupt")
    if body.interrupt_id is not None and body.interrupt_id != snapshot.interrupts[0].id:
        raise ApiError(
            409,
            f"Thread {thread_id} no longer waits for interrupt {body.interrupt_id}; read the "
            "thread and answer what it asks now.",
            code="stale_interrupt",
        )
    value = snapshot.interrupts[0].value
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind == "approval" and body.decision is None:
        raise ApiError(
            422,
            "The thread waits for an approval; give a 'decision' (approve, reject with an "
            "optional 'reason', or edit with 'args').",
            code="decision_required",
        )
    if kind != "approval" and body.answer is None:
        raise ApiError(
            422, "The thread asked a question; give an 'answer'.", code="answer_required"
        )
    value = resume(body.resume_value())
    return await _run(
        state, tenant, thread_id, value, "resume", body.stream, answers=body.interrupt_id
    )


async def _run(
    state: ServerState,
    tenant: Tenant,
    thread_id: str,
    payload: Any,
    kind: str,
    stream: bool,
    *,
    answers: str | None = None,
) -> Any:
    if stream:
        events = _events(state, tenant, thread_id, payload, kind, answers=answers)
        return EventSourceResponse(events, ping=15)
    result = await complete_turn(
        state, tenant.stored(thread_id), payload, kind, shown=thread_id, answers=answers
    )
    return JSONResponse(_result(result, thread_id).model_dump())


def _result(result: TurnResult, thread_id: str) -> RunResult:
    return RunResult(
        thread_id=thread_id,
        run_id=result.run_id,
        status=result.status,
        answer=result.answer,
        interrupt=result.interrupt,
        intent=result.intent,
        nodes=result.nodes,
    )


def _event(name: str, data: Any) -> dict[str, str]:
    return {"event": name, "data": json.dumps(data, ensure_ascii=False, default=str)}


async def _events(
    state: ServerState,
    tenant: Tenant,
    thread_id: str,
    payload: Any,
    kind: str,
    *,
    answers: str | None = None,
) -> AsyncIterator[dict[str, str]]:
    run_id = str(uuid.uuid4())
    yield _event("metadata", {"thread_id": thread_id, "run_id": run_id, "kind": kind})
    results: list[TurnResult] = []
    stored = tenant.stored(thread_id)
    try:
        async for event in turn_events(
            state, stored, payload, kind, results, run_id=run_id, shown=thread_id, answers=answers
        ):
            yield _event(event.kind, event.data)
    except ApiError as error:
        yield _event("error", error_payload(error.message, type=error.type, code=error.code))
        return
    result = _result(results[0], thread_id)
    if result.interrupt is not None:
        yield _event("interrupt", result.interrupt.model_dump())
    yield _event("end", result.model_dump())
