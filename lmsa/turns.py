"""Running one turn of a compiled assistant, for every interface (CLI, HTTP API, benchmarks).

One driver, so each interface streams, times, counts, logs and traces a turn the same way and
only renders it: the thread's config, the input for a new message or a reply to a pending
interrupt, the cheap read of a thread's status, the event stream of a turn (the answer's tokens
and node updates; node timings come from the graph's ``tasks`` stream, see
:mod:`lmsa.observability.turns`), and the one-sentence description of a failure that is not a
bug in lmsa (the CLI prints it, the API returns it with a 503).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Interrupt, StreamMode
from pydantic import BaseModel

from lmsa.observability.logging import CALLER, REQUEST_ID
from lmsa.observability.tracing import run_metadata, trace_turn
from lmsa.observability.turns import TurnTimer
from lmsa.security.stream import SLOT_KEY, StreamGuardSlot
from lmsa.tools.approval import approval_text, parse_reply

if TYPE_CHECKING:
    from lmsa.config import Settings

try:  # LangGraph's reading of a superstep's write log (private module, hence the guard)
    from langgraph.pregel._task_status import read_task_statuses
except ImportError:  # pragma: no cover - older or newer LangGraph: fall back to aget_state
    read_task_statuses = None  # type: ignore[assignment]

RECURSION_LIMIT = 100
INTERRUPT_KEY = "__interrupt__"


class InterruptInfo(BaseModel):
    """A question (or approval request) the thread waits on; answer it with ``/resume``."""

    id: str | None = None
    value: Any = None


@dataclass
class TurnEvent:
    """``token`` (answer text) and ``node`` (a finished node: name, seconds, keys) always;
    with ``progress=True`` also ``start`` (a node began: name) and ``tool`` (a finished tool
    step: tool, args, ok, seconds, error, output), for a terminal's live status line; and
    ``stream`` (``mode``, ``chunk``: LangGraph's own stream item) for each mode in ``stream``."""

    kind: Literal["token", "node", "start", "tool", "stream"]
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


def message_input(text: str) -> dict[str, Any]:
    """The graph input for a new user message."""
    return {"messages": [HumanMessage(content=text)]}


def resume(value: Any) -> Command:
    """The graph input that answers the pending interrupt with ``value``."""
    return Command(resume=value)


def answer_resume(text: str) -> Command:
    """A typed answer to a clarifying question."""
    return resume({"answer": text})


def is_approval(question: dict[str, Any] | None) -> bool:
    return bool(question) and question.get("kind") == "approval"  # type: ignore[union-attr]


def reply_input(text: str, pending: dict[str, Any] | None) -> Any | None:
    """The graph input for what a person typed: a new message, the answer to a pending
    question, or a decision on a pending approval (``None`` when it cannot be read as one)."""
    if pending is None:
        return message_input(text)
    if is_approval(pending):
        decision = parse_reply(text)
        return None if decision is None else resume(decision.model_dump(exclude_none=True))
    return answer_resume(text)


def first_question(interrupts: Iterable[InterruptInfo]) -> dict[str, Any] | None:
    """The first pending interrupt as a question dict (a bare value becomes a question)."""
    for pending in interrupts:
        if isinstance(pending.value, dict):
            return pending.value
        return {"kind": "question", "question": str(pending.value)}
    return None


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
    progress: bool = False,
    stream: Sequence[StreamMode] = (),
    configurable: dict[str, Any] | None = None,
    context: Any = None,
) -> AsyncIterator[TurnEvent]:
    """Yields token and node events; on success appends the :class:`TurnResult` to ``result``
    (an async generator cannot return a value).

    ``stream_tokens=False`` (a client that wants the whole answer at once) leaves out the
    ``messages`` stream mode: with it LangGraph makes every LLM call stream, and parsing a
    stream chunk by chunk costs several times the CPU of one response body. ``progress=True``
    adds the ``start`` and ``tool`` events (off by default: the HTTP API forwards every event
    to its clients, whose event vocabulary stays as documented). ``stream`` passes LangGraph's
    items of those modes through as they are (the LangGraph API serves them); ``configurable``
    (e.g. a ``checkpoint_id`` to run from) and ``context`` go to the graph."""
    run_id = run_id or str(uuid.uuid4())
    timer = TurnTimer(thread_id=thread_id, kind=kind)
    config = thread_config(thread_id)
    if configurable:
        config["configurable"] = {**configurable, "thread_id": thread_id}
    config["run_id"] = uuid.UUID(run_id)
    config["run_name"] = "lmsa"
    # The answer's tokens pass the output guard before they are shown; the respond node arms
    # the redactor with this turn's canary and secrets (see lmsa.security.stream).
    guard = StreamGuardSlot()
    config["configurable"][SLOT_KEY] = guard
    config["metadata"] = run_metadata(
        thread_id=thread_id,
        endpoint=endpoint,
        request_id=REQUEST_ID.get(),
        run_kind=kind,
        caller=CALLER.get(),
    )
    intent: str | None = None
    final: dict[str, Any] = {}
    interrupt: InterruptInfo | None = None
    streamed = False
    # The answer's last chunk and its metadata: clients of the ``messages`` stream get the
    # guarded text in chunks shaped like it.
    answer_chunk: tuple[AIMessageChunk, dict[str, Any]] | None = None
    results_before = 0  # the execute node returns the turn's whole results list
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    try:
        async with trace_turn("lmsa turn", metadata=dict(config["metadata"])) as trace:
            # "values" carries the final state and any interrupt, so the turn's outcome needs no
            # aget_state afterwards (see thread_status for why that matters).
            modes: list[StreamMode] = ["values", "tasks"]
            if stream_tokens or "messages" in stream:
                modes.append("messages")
            modes += [mode for mode in stream if mode not in modes]
            async for mode, chunk in graph.astream(
                payload, config, stream_mode=modes, context=context
            ):
                if mode in stream and not (mode == "messages" and _answer_chunk(chunk)):
                    yield TurnEvent("stream", {"mode": mode, "chunk": chunk})
                if mode not in ("values", "tasks", "messages"):
                    continue
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
                    if progress and isinstance(chunk, dict) and "result" not in chunk:
                        name = str(chunk.get("name"))
                        started: dict[str, Any] = {"node": name}
                        if name == "execute" and isinstance(chunk.get("input"), dict):
                            results_before = len(chunk["input"].get("results") or [])
                            started["steps"] = _planned_steps(chunk["input"])
                        yield TurnEvent("start", started)
                    if isinstance(chunk, dict) and "result" in chunk:
                        name = str(chunk.get("name"))
                        if name == "respond" and (tail := guard.flush()):
                            yield TurnEvent("token", {"text": tail})
                            if answer_chunk is not None and "messages" in stream:
                                yield _guarded(answer_chunk, tail)
                        update = chunk.get("result") or {}
                        if not stream_tokens and isinstance(update, dict):
                            _add_usage(usage, update.get("messages") or [])
                        if name == "classify_intent" and isinstance(update, dict):
                            intent = (update.get("intent") or {}).get("intent") or intent
                            trace.set_intent(intent)
                        if progress and name == "execute" and isinstance(update, dict):
                            for step in (update.get("results") or [])[results_before:]:
                                yield TurnEvent("tool", _tool_step(step))
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
                if _answer_chunk(chunk):
                    streamed = True
                    answer_chunk = (message, metadata)
                    if shown := guard.feed(cast(str, message.content)):
                        yield TurnEvent("token", {"text": shown})
                        if "messages" in stream:
                            yield _guarded(answer_chunk, shown)
            if tail := guard.flush():
                yield TurnEvent("token", {"text": tail})
                if answer_chunk is not None and "messages" in stream:
                    yield _guarded(answer_chunk, tail)
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


def _planned_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    steps = (state.get("plan") or {}).get("steps") or []
    return [{"tool": str(s.get("tool")), "args": s.get("args") or {}} for s in steps]


def _tool_step(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "tool": str(result.get("tool")),
        "args": result.get("args") or {},
        "ok": bool(result.get("ok")),
        "seconds": round(float(result.get("duration_ms") or 0.0) / 1000, 3),
        "error": result.get("error"),
        "output": result.get("output"),
    }


def _add_usage(usage: dict[str, int], messages: list[Any]) -> None:
    for message in messages:
        metadata = getattr(message, "usage_metadata", None)
        if metadata:
            usage["prompt_tokens"] += metadata.get("input_tokens", 0)
            usage["completion_tokens"] += metadata.get("output_tokens", 0)


def question_text(interrupt: InterruptInfo) -> str:
    """What a chat UI shows for an interrupt: the approval request or question, else the
    value as text."""
    value = interrupt.value
    if isinstance(value, dict) and is_approval(value):
        return approval_text(value)
    if isinstance(value, dict):
        for key in ("question", "message", "prompt", "description"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return str(value)


def describe_failure(
    error: BaseException, settings: Settings, *, remote: bool = False
) -> str | None:
    """One sentence for a failure outside lmsa's control (the LLM endpoint, the conversation
    store); ``None`` for a bug. ``remote`` (an API client) leaves out where the store is and
    how to fix the server: that is the operator's business, not the caller's."""
    from lmsa.checkpoint.factory import CheckpointerError, describe_checkpointer
    from lmsa.llm.errors import describe_llm_error

    if isinstance(error, CheckpointerError):
        return str(error)
    message = describe_llm_error(error, settings.base_url)
    if message:
        return message
    module = type(error).__module__
    if remote and module.startswith(("redis", "sqlite3", "aiosqlite")):
        return f"The conversation store failed ({type(error).__name__}); retry later."
    if module.startswith("redis"):
        return (
            f"The conversation store {describe_checkpointer(settings)} failed during the turn "
            f"({type(error).__name__}: {error}); what was saved before this turn is kept. "
            "Check that Redis is running, then retry."
        )
    if module.startswith(("sqlite3", "aiosqlite")):
        return (
            f"The conversation store {describe_checkpointer(settings)} failed: {error}. "
            "Check the file is writable (LMSA_DATA_DIR) and not locked by another program."
        )
    return None


def _answer_chunk(chunk: Any) -> bool:
    """Whether a ``messages`` item is a piece of the answer (text the output guard holds)."""
    if not (isinstance(chunk, tuple) and len(chunk) == 2):
        return False
    message, metadata = chunk
    return (
        isinstance(message, AIMessageChunk)
        and isinstance(metadata, dict)
        and metadata.get("langgraph_node") == "respond"
        and isinstance(message.content, str)
        and bool(message.content)
    )


def _guarded(answer_chunk: tuple[AIMessageChunk, dict[str, Any]], text: str) -> TurnEvent:
    """A ``messages`` stream item carrying the guard's output instead of the model's raw text."""
    message, metadata = answer_chunk
    guarded = message.model_copy(update={"content": text, "usage_metadata": None})
    return TurnEvent("stream", {"mode": "messages", "chunk": (guarded, metadata)})
