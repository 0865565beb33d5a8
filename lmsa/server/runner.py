"""Runs one turn of the graph for the HTTP API and turns its stream into API events.

Both the OpenAI-compatible endpoint and the thread endpoints stream through :func:`run_turn`, so
they time nodes, count turns, log and trace the same way. The graph's ``tasks`` stream gives node
timings (see :mod:`lmsa.observability.turns`); ``messages`` gives the answer's tokens.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anyio
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Interrupt, StreamMode

from lmsa.observability.logging import REQUEST_ID
from lmsa.observability.tracing import run_metadata, trace_turn
from lmsa.observability.turns import TurnTimer
from lmsa.server.schemas import InterruptInfo

try:  # LangGraph's reading of a superstep's write log (private module, hence the guard)
    from langgraph.pregel._task_status import read_task_statuses
except ImportError:  # pragma: no cover - older or newer LangGraph: fall back to aget_state
    read_task_statuses = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

RECURSION_LIMIT = 100
INTERRUPT_KEY = "__interrupt__"


@dataclass
class TurnEvent:
    kind: Literal["token", "node"]
    data: dict[str, Any]


@dataclass
class TurnResult:
    thread_id: str
    run_id: str
    status: Literal["completed", "interrupted"]
    answer: str | None
    interrupt: InterruptInfo | None
    intent: str | None
    nodes: dict[str, float]
    usage: dict[str, int] = field(default_factory=dict)
    streamed: bool = False


def thread_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}


class ThreadBusy(RuntimeError):
    """Another request is running a turn on the thread (in this process or, with Redis, in any
    instance sharing it)."""


class ThreadLocks:
    """One turn at a time per thread: two concurrent turns on one thread would fork its history.

    Within a process an ``asyncio.Lock`` per thread. When instances share threads through Redis
    (``LMSA_CHECKPOINTER=redis``) each turn also holds a lease in Redis (redis-py's ``Lock``:
    a token-checked key with an expiry), so a second instance behind the load balancer answers
    409 too instead of forking the thread. The lease is renewed while the turn runs and expires
    on its own if the instance dies mid-turn."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        key_prefix: str = "lmsa",
        lease_seconds: float = 30.0,
        max_connections: int = 32,
        pool_timeout: float = 20.0,
    ) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._redis_url = redis_url
        self._redis: Any = None
        self._prefix = key_prefix
        self._lease = lease_seconds
        self._max_connections = max_connections
        self._pool_timeout = pool_timeout

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[thread_id] = lock
        if lock.locked():
            raise ThreadBusy(thread_id)
        async with lock:
            yield

    @asynccontextmanager
    async def lease(self, thread_id: str) -> AsyncIterator[None]:
        """The cross-instance part, taken once the turn is admitted to run (a request waiting
        for a turn slot forks nothing, and holding no lease keeps Redis traffic bounded by the
        turns that run)."""
        if self._redis_url is None:
            yield
            return
        if self._redis is None:
            from lmsa.redis_clients import async_client

            self._redis = async_client(
                self._redis_url,
                max_connections=self._max_connections,
                pool_timeout=self._pool_timeout,
                socket_timeout=5.0,
            )
        lease = self._redis.lock(
            f"{{{self._prefix}:{thread_id}}}:turn", timeout=self._lease, blocking=False
        )
        if not await lease.acquire():
            raise ThreadBusy(thread_id)
        renewal = asyncio.create_task(self._renew(lease, thread_id))
        try:
            yield
        finally:
            renewal.cancel()
            # Shielded: a streaming client that hangs up cancels this generator through an
            # anyio scope that would cancel the release too, leaving the thread "busy" (409)
            # until the lease expired.
            with anyio.CancelScope(shield=True):
                await asyncio.gather(renewal, return_exceptions=True)
                try:
                    with anyio.fail_after(5):
                        await lease.release()
                except Exception as error:  # expired or Redis gone: the lease times out itself
                    log.warning("could not release the turn lease of %s: %s", thread_id, error)

    async def _renew(self, lease: Any, thread_id: str) -> None:
        from redis.exceptions import LockNotOwnedError

        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await lease.reacquire()
            except LockNotOwnedError:
                log.error(
                    "the turn lease of %s expired while its turn ran (Redis unreachable for %g "
                    "s?); another instance may run a turn on it",
                    thread_id,
                    self._lease,
                )
                return
            except Exception as error:
                log.warning("could not renew the turn lease of %s: %s", thread_id, error)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


@dataclass(frozen=True)
class ThreadStatus:
    exists: bool
    interrupts: tuple[InterruptInfo, ...] = ()


async def thread_status(graph: CompiledStateGraph, thread_id: str) -> ThreadStatus:
    """Whether the thread has a checkpoint, and the interrupts waiting for an answer.

    Read from the checkpointer's latest tuple rather than ``graph.aget_state``: a snapshot also
    prepares the next tasks and searches for subgraphs, which under load cost more event-loop
    time than any other part of a request's bookkeeping, and a turn only needs these two facts.
    Which interrupts are still pending follows LangGraph's own rule (``read_task_statuses``);
    where that is unavailable, or the graph has no saver of its own, the snapshot is used."""
    saver = graph.checkpointer
    if read_task_statuses is None or not isinstance(saver, BaseCheckpointSaver):
        snapshot = await graph.aget_state(thread_config(thread_id))
        return ThreadStatus(
            exists=snapshot.created_at is not None,
            interrupts=tuple(InterruptInfo(id=p.id, value=p.value) for p in snapshot.interrupts),
        )
    saved = await saver.aget_tuple(thread_config(thread_id))
    if saved is None:
        return ThreadStatus(exists=False)
    statuses = read_task_statuses(saved.pending_writes or [])
    return ThreadStatus(
        exists=True,
        interrupts=tuple(
            InterruptInfo(id=pending.id, value=pending.value)
            for status in statuses.values()
            for pending in status.pending_interrupts
        ),
    )


async def run_turn(
    graph: CompiledStateGraph,
    thread_id: str,
    payload: Any,
    *,
    kind: str,
    endpoint: str | None,
    result: list[TurnResult],
    run_id: str | None = None,
    stream_tokens: bool = True,
) -> AsyncIterator[TurnEvent]:
    """Yields token and node events; on success appends the :class:`TurnResult` to ``result``
    (an async generator cannot return a value).

    ``stream_tokens=False`` (a client that wants the whole answer at once) leaves out the
    ``messages`` stream mode: with it LangGraph makes every LLM call stream, and parsing a
    stream chunk by chunk costs several times the CPU of one response body."""
    run_id = run_id or str(uuid.uuid4())
    timer = TurnTimer(thread_id=thread_id, kind=kind)
    config = thread_config(thread_id)
    config["run_id"] = uuid.UUID(run_id)
    config["run_name"] = "lmsa"
    config["metadata"] = run_metadata(
        thread_id=thread_id, endpoint=endpoint, request_id=REQUEST_ID.get(), run_kind=kind
    )
    intent: str | None = None
    final: dict[str, Any] = {}
    interrupt: InterruptInfo | None = None
    streamed = False
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    try:
        async with trace_turn("lmsa turn", metadata=dict(config["metadata"])) as trace:
            # "values" carries the final state and any interrupt, so the turn's outcome needs no
            # aget_state afterwards (see thread_status for why that matters).
            modes: list[StreamMode] = ["values", "tasks"]
            if stream_tokens:
                modes.append("messages")
            async for mode, chunk in graph.astream(payload, config, stream_mode=modes):
                if mode == "values":
                    if isinstance(chunk, dict):
                        pending = chunk.get(INTERRUPT_KEY)
                        if pending:
                            interrupt = _interrupt_info(pending)
                        else:
                            final = chunk
                    continue
                if mode == "tasks":
                    timer.on_task(chunk)
                    if isinstance(chunk, dict) and "result" in chunk:
                        name = str(chunk.get("name"))
                        update = chunk.get("result") or {}
                        if not stream_tokens and isinstance(update, dict):
                            _add_usage(usage, update.get("messages") or [])
                        if name == "classify_intent" and isinstance(update, dict):
                            intent = (update.get("intent") or {}).get("intent") or intent
                            trace.set_intent(intent)
                        yield TurnEvent(
                            "node",
                            {
                                "node": name,
                                "seconds": round(timer.nodes.get(name, 0.0), 6),
                                "keys": sorted(update) if isinstance(update, dict) else [],
                                "interrupted": bool(chunk.get("interrupts")),
                            },
                        )
                    continue
                message, metadata = cast(tuple[BaseMessage, dict[str, Any]], chunk)
                if not isinstance(message, AIMessageChunk):
                    continue
                if message.usage_metadata:
                    usage["prompt_tokens"] += message.usage_metadata.get("input_tokens", 0)
                    usage["completion_tokens"] += message.usage_metadata.get("output_tokens", 0)
                if (
                    metadata.get("langgraph_node") == "respond"
                    and isinstance(message.content, str)
                    and message.content
                ):
                    streamed = True
                    yield TurnEvent("token", {"text": message.content})
            if intent is None:
                intent = ((final.get("intent") or {}) or {}).get("intent")
            answer = None if interrupt else str(final.get("answer") or "")
            trace.set_outputs({"answer": answer, "interrupt": interrupt and interrupt.value})
    except (asyncio.CancelledError, GeneratorExit):
        timer.finish("cancelled", intent=intent)
        raise
    except Exception as error:
        timer.finish("error", intent=intent, error=f"{type(error).__name__}: {error}")
        raise
    status: Literal["completed", "interrupted"] = "interrupted" if interrupt else "completed"
    timer.finish(status, intent=intent)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    result.append(
        TurnResult(
            thread_id=thread_id,
            run_id=run_id,
            status=status,
            answer=answer,
            interrupt=interrupt,
            intent=intent,
            nodes={name: round(value, 6) for name, value in timer.nodes.items()},
            usage=usage,
            streamed=streamed,
        )
    )


def _interrupt_info(pending: Any) -> InterruptInfo | None:
    for item in pending if isinstance(pending, list | tuple) else [pending]:
        if isinstance(item, Interrupt):
            return InterruptInfo(id=item.id, value=item.value)
    return None


def _add_usage(usage: dict[str, int], messages: list[Any]) -> None:
    for message in messages:
        metadata = getattr(message, "usage_metadata", None)
        if metadata:
            usage["prompt_tokens"] += metadata.get("input_tokens", 0)
            usage["completion_tokens"] += metadata.get("output_tokens", 0)


def question_text(interrupt: InterruptInfo) -> str:
    """What a chat UI shows for an interrupt: its question, else the value as text."""
    value = interrupt.value
    if isinstance(value, dict):
        for key in ("question", "message", "prompt", "description"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return str(value)
