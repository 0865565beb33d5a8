"""Running one turn to completion for a JSON (non-streaming) response, shared by the OpenAI
endpoint and the threads API so both serialise turns per thread and map failures the same way."""

from __future__ import annotations

from typing import Any

from lmsa.server.app import ServerState
from lmsa.server.errors import ApiError, classify
from lmsa.server.runner import ThreadBusy, TurnResult, run_turn


async def complete_turn(state: ServerState, thread_id: str, payload: Any, kind: str) -> TurnResult:
    results: list[TurnResult] = []
    try:
        async with state.locks.hold(thread_id):
            async for _ in run_turn(
                state.graph,
                thread_id,
                payload,
                kind=kind,
                endpoint=state.endpoint,
                result=results,
                stream_tokens=False,
            ):
                pass
    except ThreadBusy as busy:
        raise ApiError(409, f"A turn is already running on thread {busy}.", code="busy") from busy
    except Exception as error:
        raise classify(error, state.settings) from error
    return results[0]
