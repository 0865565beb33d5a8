"""Runs of the LangGraph Server API: ``runs/stream`` (Server-Sent Events) and ``runs/wait``
(the final values), on a thread or thread-less (a thread made for the run and deleted after).

Every run goes through the one turn driver (:func:`lmsa.server.turns.turn_events`), so the
thread lock and cross-instance lease (409 when busy), the turn gate, guards, metrics and
tracing apply as on the ``/v1`` API. The run itself is a task of its own feeding a queue: the
response reads the queue, and with ``on_disconnect: continue`` (what ``stream_resumable``
clients get) a client that hangs up leaves the run going to its end.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from langgraph.types import Command
from sse_starlette import EventSourceResponse

from lmsa.server.errors import ApiError, classify
from lmsa.server.lgapi.assistants import ASSISTANT_ID, resolve
from lmsa.server.lgapi.interrupts import ResumeError, named_interrupts, translate_resume
from lmsa.server.lgapi.records import Records
from lmsa.server.lgapi.schemas import GRAPH_ID, RunCreate
from lmsa.server.lgapi.sse import Framer, frame, graph_modes, requested_modes
from lmsa.server.lgapi.threads import Store, ThreadIdPath, load_thread, refresh
from lmsa.server.lgapi.views import new_record, now, without_marks
from lmsa.server.state import ServerState, server_state
from lmsa.server.tenancy import CurrentTenant, Tenant
from lmsa.server.turns import turn_events
from lmsa.turns import TurnResult, thread_config, thread_status

log = logging.getLogger("lmsa.server")
router = APIRouter(tags=["langgraph runs"])
State = Annotated[ServerState, Depends(server_state)]

# Context fields a caller may only lower: raising them would loosen limits the operator set.
LOWER_ONLY = (
    "max_input_chars",
    "tool_timeout",
    "tool_output_chars",
    "max_iterations",
    "max_plan_attempts",
    "max_clarify_rounds",
)
_RUNNING: set[asyncio.Task[None]] = set()  # runs outliving their response (on_disconnect)


@dataclass
class Run:
    state: ServerState
    store: Records
    tenant: Tenant
    thread_id: str
    payload: Any
    kind: str
    requested: list[str]
    configurable: dict[str, Any] | None
    context: Any
    on_disconnect: str
    temporary: bool
    record: dict[str, Any] | None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    queue: asyncio.Queue[tuple[str, Any] | None] = field(default_factory=asyncio.Queue)
    error: dict[str, Any] | None = None
    answers: str | None = None

    @property
    def stored(self) -> str:
        return self.tenant.stored(self.thread_id)

    @property
    def location(self) -> dict[str, str]:
        return {"Content-Location": f"/threads/{self.thread_id}/runs/{self.run_id}"}


def run_context(state: ServerState, context: dict[str, Any] | None) -> Any:
    """The graph's Context: the server's defaults with the caller's fields applied (unknown
    fields ignored, limits only lowered); None when nothing changes."""
    base = state.services.default_context
    known = {f.name for f in fields(base)}
    changes: dict[str, Any] = {}
    for name, value in (context or {}).items():
        if name not in known or value is None:
            continue
        current = getattr(base, name)
        if name in LOWER_ONLY:
            try:
                value = min(type(current)(value), current)
            except (TypeError, ValueError):
                raise ApiError(
                    422, f"context.{name} must be a number.", code="invalid_request"
                ) from None
        changes[name] = value
    return replace(base, **changes) if changes else None


def _checkpoint(body: RunCreate) -> dict[str, Any] | None:
    wanted = body.checkpoint.model_dump() if body.checkpoint else {}
    configurable = (body.config or {}).get("configurable") or {}
    checkpoint_id = wanted.get("checkpoint_id") or body.checkpoint_id
    checkpoint_id = checkpoint_id or configurable.get("checkpoint_id")
    if not checkpoint_id:
        return None
    return {"checkpoint_id": checkpoint_id, "checkpoint_ns": wanted.get("checkpoint_ns") or ""}


async def prepare(
    state: ServerState, store: Records, tenant: Tenant, thread_id: str | None, body: RunCreate
) -> Run:
    """Everything refused before the response starts: unknown assistant or thread (404), busy
    thread (409), a resume that answers nothing asked (422)."""
    resolve(body.assistant_id)
    temporary = thread_id is None
    thread_id = thread_id or str(uuid.uuid4())
    stored = tenant.stored(thread_id)
    record: dict[str, Any] | None = None
    if not temporary:
        try:
            record = await load_thread(state, store, tenant, thread_id)
        except ApiError as missing:
            if missing.status != 404 or body.if_not_exists != "create":
                raise
            record = new_record(thread_id, {})
    if await state.locks.busy(stored):
        raise ApiError(409, f"Thread {thread_id} is busy with another run.", code="busy")
    named: list[str] = []
    if body.command is not None:
        command: dict[str, Any] = {}
        if body.command.resume is not None:
            try:
                pending = (await thread_status(state.graph, stored)).interrupts
                answers = {str(p.id): p.value for p in pending}
                named = named_interrupts(body.command.resume)
                if named and not set(named) <= set(answers):
                    raise ApiError(
                        409,
                        f"Thread {thread_id} no longer waits for interrupt "
                        f"{', '.join(sorted(set(named) - set(answers)))}; read the thread and "
                        "answer what it asks now.",
                        code="stale_interrupt",
                    )
                command["resume"] = translate_resume(body.command.resume, answers)
            except ResumeError as error:
                raise ApiError(422, str(error), code="invalid_resume") from error
            except ApiError:
                raise
            except Exception as error:
                raise classify(error, state.settings) from error
        if body.command.goto:
            command["goto"] = body.command.goto
        if body.command.update is not None:
            command["update"] = without_marks(body.command.update)
        payload: Any = Command(**command)
    else:
        payload = without_marks(body.input)
    requested = requested_modes(body.stream_mode)
    on_disconnect = body.on_disconnect or ("continue" if body.stream_resumable else "cancel")
    return Run(
        state=state,
        store=store,
        tenant=tenant,
        thread_id=thread_id,
        payload=payload,
        kind="resume" if body.command is not None else "message",
        requested=requested,
        configurable=_checkpoint(body),
        context=run_context(state, body.context),
        on_disconnect=on_disconnect,
        temporary=temporary,
        record=record,
        # Checked again once the run holds the thread: a decision replayed meanwhile is 409.
        answers=named[0] if len(named) == 1 else None,
    )


async def execute(run: Run, framer: Framer, stream_tokens: bool) -> None:
    """The run, its frames put on ``run.queue`` and ``None`` at the end; the thread record
    says ``busy`` meanwhile and the outcome afterwards."""
    await _save(run, status="busy")
    results: list[TurnResult] = []
    try:
        async for event in turn_events(
            run.state,
            run.stored,
            run.payload,
            run.kind,
            results,
            run_id=run.run_id,
            stream_tokens=stream_tokens,
            shown=run.thread_id,
            answers=run.answers,
            stream=graph_modes(run.requested),  # type: ignore[arg-type]
            configurable=run.configurable,
            context=run.context,
        ):
            if event.kind == "stream":
                for item in framer.frames(event.data["mode"], event.data["chunk"]):
                    await run.queue.put(item)
    except ApiError as error:
        run.error = {"error": error.code or error.type, "message": error.message}
        await run.queue.put(("error", run.error))
    except asyncio.CancelledError:
        raise
    except Exception as error:  # turn_events maps failures to ApiError; this is a bug here
        log.exception("LangGraph API run failed", exc_info=error)
        run.error = {"error": type(error).__name__, "message": "Internal error."}
        await run.queue.put(("error", run.error))
    finally:
        await asyncio.shield(_finish(run))
        run.queue.put_nowait(None)


async def _save(run: Run, *, status: str) -> None:
    if run.temporary or run.record is None:
        return
    metadata = run.record.setdefault("metadata", {})
    metadata.setdefault("graph_id", GRAPH_ID)
    metadata.setdefault("assistant_id", ASSISTANT_ID)
    run.record["status"] = status
    run.record["updated_at"] = now()
    await run.store.put(run.stored, run.tenant.owner, run.record)


async def _finish(run: Run) -> None:
    try:
        if run.temporary:
            await run.state.checkpointer.adelete_thread(run.stored)
            return
        if run.record is None:
            return
        snapshot = await run.state.graph.aget_state(thread_config(run.stored))
        # Re-read: the metadata may have been patched while the run went on.
        record = await run.store.get(run.stored) or run.record
        refresh(record, snapshot, run.state, error=run.error)
        await run.store.put(run.stored, run.tenant.owner, record)
    except Exception as error:
        log.warning("could not record the end of run %s: %s", run.run_id, error)


def _framer(run: Run) -> Framer:
    output = run.state.graph.output_channels
    keys = [output] if isinstance(output, str) else list(output)
    return Framer(run.requested, run.state.services.security, run.stored, run.thread_id, keys)


def _start(run: Run, framer: Framer, stream_tokens: bool) -> asyncio.Task[None]:
    task = asyncio.create_task(execute(run, framer, stream_tokens))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


async def _events(run: Run, task: asyncio.Task[None]) -> AsyncIterator[dict[str, str]]:
    yield frame("metadata", {"run_id": run.run_id, "attempt": 1})
    try:
        while (item := await run.queue.get()) is not None:
            yield frame(*item)
    finally:
        if not task.done() and run.on_disconnect == "cancel":
            task.cancel()


async def stream_run(
    state: ServerState, store: Records, tenant: Tenant, thread_id: str | None, body: RunCreate
) -> EventSourceResponse:
    run = await prepare(state, store, tenant, thread_id, body)
    framer = _framer(run)
    streams_messages = bool({"messages", "messages-tuple"} & set(run.requested))
    task = _start(run, framer, streams_messages)
    return EventSourceResponse(_events(run, task), ping=15, headers=run.location)


async def wait_run(
    state: ServerState, store: Records, tenant: Tenant, thread_id: str | None, body: RunCreate
) -> JSONResponse:
    run = await prepare(state, store, tenant, thread_id, body)
    run.requested = ["values"]
    framer = _framer(run)
    task = _start(run, framer, False)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if run.on_disconnect != "continue":
            task.cancel()
        raise
    return JSONResponse(framer.wait_result(run.error), headers=run.location)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_thread_run(
    thread_id: ThreadIdPath, body: RunCreate, state: State, store: Store, tenant: CurrentTenant
) -> EventSourceResponse:
    return await stream_run(state, store, tenant, thread_id, body)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_thread_run(
    thread_id: ThreadIdPath, body: RunCreate, state: State, store: Store, tenant: CurrentTenant
) -> JSONResponse:
    return await wait_run(state, store, tenant, thread_id, body)


@router.post("/runs/stream")
async def stream_stateless_run(
    body: RunCreate, state: State, store: Store, tenant: CurrentTenant
) -> EventSourceResponse:
    return await stream_run(state, store, tenant, None, body)


@router.post("/runs/wait")
async def wait_stateless_run(
    body: RunCreate, state: State, store: Store, tenant: CurrentTenant
) -> JSONResponse:
    return await wait_run(state, store, tenant, None, body)
