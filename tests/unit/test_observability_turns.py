"""Turn and node metrics come from the graph's ``tasks`` stream (no node is instrumented), and
each turn writes one log line with its timings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from langgraph.types import Command

from lmsa.observability.metrics import REGISTRY
from lmsa.observability.turns import TurnTimer
from tests.unit.helpers import ask, intent, make_graph, thread, unsure


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _run(graph, payload, config, timer: TurnTimer) -> None:  # type: ignore[no-untyped-def]
    async for mode, chunk in graph.astream(payload, config, stream_mode=["tasks", "updates"]):
        if mode == "tasks":
            timer.on_task(chunk)


async def test_node_and_turn_metrics_follow_the_path_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    graph, _ = make_graph(tmp_path, {"IntentResult": [intent("conversation")], "text": ["Hello!"]})
    before = {
        node: _sample("lmsa_node_seconds_count", node=node)
        for node in ("guard", "classify_intent", "respond", "plan")
    }
    completed = _sample("lmsa_graph_turns_total", outcome="completed")
    timer = TurnTimer(thread_id="t-metrics")

    with caplog.at_level(logging.INFO, logger="lmsa.turn"):
        await _run(graph, ask("hi"), thread("t-metrics"), timer)
        timer.finish("completed", intent="conversation")
        timer.finish("completed")  # a second call records nothing more

    for node in ("guard", "classify_intent", "respond"):
        assert _sample("lmsa_node_seconds_count", node=node) == before[node] + 1
    assert _sample("lmsa_node_seconds_count", node="plan") == before["plan"]
    assert _sample("lmsa_graph_turns_total", outcome="completed") == completed + 1
    assert timer.path == ["guard", "classify_intent", "respond"]
    assert all(seconds >= 0 for seconds in timer.nodes.values())
    [record] = [r for r in caplog.records if r.name == "lmsa.turn"]
    assert record.thread_id == "t-metrics"  # type: ignore[attr-defined]
    assert record.outcome == "completed"  # type: ignore[attr-defined]
    assert set(record.nodes) == {"guard", "classify_intent", "respond"}  # type: ignore[attr-defined]


async def test_an_interrupted_node_is_still_timed(tmp_path: Path) -> None:
    graph, _ = make_graph(
        tmp_path,
        {"IntentResult": [unsure(), intent("conversation")], "text": ["Done."]},
    )
    config = thread("t-interrupt")
    clarify_before = _sample("lmsa_node_seconds_count", node="clarify")
    interrupted = _sample("lmsa_graph_turns_total", outcome="interrupted")

    first = TurnTimer(thread_id="t-interrupt")
    await _run(graph, ask("do the thing"), config, first)
    first.finish("interrupted")
    second = TurnTimer(thread_id="t-interrupt", kind="resume")
    await _run(graph, Command(resume={"answer": "just chat"}), config, second)
    second.finish("completed")

    assert first.path[-1] == "clarify"
    assert second.path[0] == "clarify"  # the node re-runs from the top on resume
    assert _sample("lmsa_node_seconds_count", node="clarify") == clarify_before + 2
    assert _sample("lmsa_graph_turns_total", outcome="interrupted") == interrupted + 1
