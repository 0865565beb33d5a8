"""The API's turn bookkeeping: the cheap thread status read and the outcome taken from the
stream must say exactly what ``graph.aget_state`` says, in every state a thread can be in; the
turn gate must bound and order turns."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from pydantic import ValidationError

from lmsa.observability.metrics import TURNS_ADMITTED, TURNS_WAITING
from lmsa.server.admission import TurnGate, TurnQueueTimeout
from lmsa.server.app import tune_gc
from lmsa.server.schemas import InterruptInfo
from lmsa.turns import ThreadStatus, TurnResult, run_turn, thread_config, thread_status
from tests.unit.helpers import ask, intent, make_graph, read_plan, unsure, validation

SCRIPT: dict[str, list[Any]] = {
    "IntentResult": [unsure("Which file?"), unsure("Which one, really?"), intent()],
    "Plan": [read_plan("a.txt")],
    "Validation": [validation(True)],
    "text": ["The file says hello world."],
}


async def _snapshot_status(graph: Any, thread_id: str) -> ThreadStatus:
    snapshot = await graph.aget_state(thread_config(thread_id))
    return ThreadStatus(
        exists=snapshot.created_at is not None,
        interrupts=tuple(InterruptInfo(id=p.id, value=p.value) for p in snapshot.interrupts),
    )


async def _turn(graph: Any, thread_id: str, payload: Any) -> TurnResult:
    results: list[TurnResult] = []
    async for _ in run_turn(
        graph, thread_id, payload, kind="message", endpoint=None, result=results
    ):
        pass
    return results[0]


async def _agrees(graph: Any, thread_id: str) -> ThreadStatus:
    cheap = await thread_status(graph, thread_id)
    assert cheap == await _snapshot_status(graph, thread_id)
    return cheap


async def test_thread_status_and_turn_outcome_match_the_snapshot(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello world\n")
    graph, _ = make_graph(tmp_path, SCRIPT)
    assert await _agrees(graph, "t") == ThreadStatus(exists=False)

    first = await _turn(graph, "t", ask("read the file"))
    status = await _agrees(graph, "t")
    assert status.exists and [i.value["question"] for i in status.interrupts] == ["Which file?"]
    assert first.status == "interrupted" and first.answer is None
    assert first.interrupt == status.interrupts[0]

    # A rejected resume leaves the question pending.
    with pytest.raises(ValidationError):
        await graph.ainvoke(Command(resume={"answer": ""}), thread_config("t"))
    assert (await _agrees(graph, "t")).interrupts == status.interrupts

    # The same node asks again after an answer: the new question is the pending one.
    second = await _turn(graph, "t", Command(resume={"answer": "that one"}))
    status = await _agrees(graph, "t")
    assert [i.value["question"] for i in status.interrupts] == ["Which one, really?"]
    assert second.interrupt == status.interrupts[0]

    done = await _turn(graph, "t", Command(resume={"answer": "a.txt"}))
    assert await _agrees(graph, "t") == ThreadStatus(exists=True)
    values = (await graph.aget_state(thread_config("t"))).values
    assert done.status == "completed" and done.interrupt is None
    assert done.answer == values["answer"] == "The file says hello world."
    assert done.intent == values["intent"]["intent"]


async def test_the_gate_bounds_and_orders_turns() -> None:
    gate = TurnGate(2, timeout=5.0)
    inside = peak = 0
    order: list[int] = []
    release = asyncio.Event()

    async def turn(index: int) -> None:
        nonlocal inside, peak
        async with gate.admit():
            order.append(index)
            inside += 1
            peak = max(peak, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(turn(i)) for i in range(5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 1] and TURNS_WAITING._value.get() == 3
    assert TURNS_ADMITTED._value.get() == 2
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 2 and order == [0, 1, 2, 3, 4]
    assert TURNS_WAITING._value.get() == 0 and TURNS_ADMITTED._value.get() == 0


async def test_the_gate_times_out_with_a_retry_hint() -> None:
    gate = TurnGate(1, timeout=0.05)
    async with gate.admit():
        with pytest.raises(TurnQueueTimeout) as refused:
            async with gate.admit():
                pass
    assert refused.value.retry_after >= 1 and "LMSA_SERVER_MAX_CONCURRENT_TURNS" in str(
        refused.value
    )
    async with gate.admit():  # the slot came back
        pass


async def test_no_limit_admits_everything() -> None:
    gate = TurnGate(0, timeout=0.01)
    async with gate.admit(), gate.admit(), gate.admit():
        assert TURNS_ADMITTED._value.get() == 0


def test_tune_gc_freezes_start_up_objects_and_raises_the_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(12_345)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == 12_345
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
