"""Running one turn for an API request, shared by the OpenAI endpoint and the threads API so
both serialise turns per thread and map failures to the same API errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from langgraph.types import StreamMode

from lmsa.server.admission import TurnQueueTimeout
from lmsa.server.errors import ApiError, classify
from lmsa.server.locks import ThreadBusy
from lmsa.server.state import ServerState
from lmsa.turns import TurnEvent, TurnResult, run_turn, thread_status


async def turn_events(
    state: ServerState,
    thread_id: str,
    payload: Any,
    kind: str,
    results: list[TurnResult],
    *,
    run_id: str | None = None,
    stream_tokens: bool = True,
    shown: str | None = None,
    answers: str | None = None,
    stream: Sequence[StreamMode] = (),
    configurable: dict[str, Any] | None = None,
    context: Any = None,
) -> AsyncIterator[TurnEvent]:
    """The turn's events while holding the thread and one of the process's turn slots (see
    :mod:`lmsa.server.admission`); any failure surfaces as an :class:`ApiError` and the
    finished turn is appended to ``results``. ``shown`` is the id the caller knows the thread
    by (see :mod:`lmsa.server.tenancy`), for messages. ``answers`` is the id of the interrupt a
    resume answers: checked once the thread is held, so a decision replayed after the thread
    moved on to another question is refused (409) instead of answering that one. ``stream``,
    ``configurable`` and ``context`` go to :func:`lmsa.turns.run_turn`."""
    try:
        async with (
            state.locks.hold(thread_id),
            state.gate.admit(),
            state.locks.lease(thread_id),
        ):
            if answers is not None:
                pending = (await thread_status(state.graph, thread_id)).interrupts
                if not pending or pending[0].id != answers:
                    raise ApiError(
                        409,
                        f"Thread {shown or thread_id} no longer waits for interrupt {answers}; "
                        "read the thread and answer what it asks now.",
                        code="stale_interrupt",
                    )
            async for event in run_turn(
                state.graph,
                thread_id,
                payload,
                kind=kind,
                endpoint=state.endpoint,
                result=results,
                run_id=run_id,
                stream_tokens=stream_tokens,
                stream=stream,
                configurable=configurable,
                context=context,
            ):
                yield event
    except ThreadBusy as busy:
        raise ApiError(
            409, f"A turn is already running on thread {shown or busy}.", code="busy"
        ) from busy
    except TurnQueueTimeout as busy:
        raise ApiError(
            503,
            str(busy),
            type="service_unavailable",
            code="overloaded",
            headers={"Retry-After": str(busy.retry_after)},
        ) from busy
    except ApiError:
        raise
    except Exception as error:
        raise classify(error, state.settings) from error


async def complete_turn(
    state: ServerState,
    thread_id: str,
    payload: Any,
    kind: str,
    *,
    shown: str | None = None,
    answers: str | None = None,
) -> TurnResult:
    """The whole turn at once, for JSON responses (no token streaming upstream either)."""
    results: list[TurnResult] = []
    async for _ in turn_events(
        state,
        thread_id,
        payload,
        kind,
        results,
        stream_tokens=False,
        shown=shown,
        answers=answers,
    ):
        pass
    return results[0]
