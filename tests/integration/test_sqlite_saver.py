"""The SQLite saver's storage of long threads: messages stored once by reference in a side
table, rows released with the checkpoints that named them and with the thread, files written
before this storage still read, and the official conformance suite. A small chat graph with
two steps per turn stands in for the assistant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from lmsa.checkpoint.lists import MIN_LIST
from lmsa.checkpoint.sqlite import RetainingSqliteSaver
from lmsa.checkpoint.sqlite_lists import LISTS_KEY, split

pytestmark = pytest.mark.integration

KEEP = 2


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    step: int


def _think(state: Chat) -> dict[str, Any]:
    return {"step": 1}


def _answer(state: Chat) -> dict[str, Any]:
    turn = len(state["messages"]) // 2 + 1
    return {"messages": [AIMessage(content=f"answer {turn}")], "step": 2}


def _graph(saver: BaseCheckpointSaver) -> CompiledStateGraph:
    builder = StateGraph(Chat)
    builder.add_node("think", _think)
    builder.add_node("answer", _answer)
    builder.add_edge(START, "think")
    builder.add_edge("think", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


def _texts(values: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in values["messages"]]


def _expected(turns: int) -> list[str]:
    return [text for t in range(1, turns + 1) for text in (f"question {t}", f"answer {t}")]


async def _chat(graph: CompiledStateGraph, config: RunnableConfig, turns: range) -> None:
    for turn in turns:
        await graph.ainvoke({"messages": [HumanMessage(content=f"question {turn}")]}, config)


async def _rows(saver: AsyncSqliteSaver, table: str, thread_id: str) -> int:
    async with saver.conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?", (thread_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def test_each_message_is_stored_once_and_released_with_its_checkpoints(
    tmp_path: Path,
) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "once"}}
    async with RetainingSqliteSaver.from_conn_string(
        str(tmp_path / "t.db"), keep_intermediate=KEEP
    ) as saver:
        graph = _graph(saver)
        await _chat(graph, config, range(1, 41))
        leaves = set()
        async with saver.conn.execute(
            "SELECT type, checkpoint FROM checkpoints WHERE thread_id = 'once'"
        ) as cursor:
            for type_, blob in await cursor.fetchall():
                stored = saver.serde.loads_typed((type_, blob))
                # No checkpoint carries the message list itself any more.
                assert "messages" not in stored["channel_values"] or len(blob) < 1000
                for refs in stored.get(LISTS_KEY, {}).values():
                    leaves.update(split(refs))
        async with saver.conn.execute(
            "SELECT hash, refs FROM lmsa_checkpoint_items WHERE thread_id = 'once'"
        ) as cursor:
            rows = {bytes(h): refs for h, refs in await cursor.fetchall()}
        # Every leaf a kept checkpoint names is there, and besides them only the eighty
        # messages, each once: the leaves of trimmed checkpoints went with them.
        assert leaves <= set(rows)
        assert len(rows) - len(leaves) == 80
        assert min(rows.values()) >= 1

    # A saver with nothing cached reads every kept state whole.
    async with RetainingSqliteSaver.from_conn_string(
        str(tmp_path / "t.db"), keep_intermediate=KEEP
    ) as saver:
        graph = _graph(saver)
        history = [s async for s in graph.aget_state_history(config)]
        ends = [s for s in history if not s.next and s.values.get("step") == 2]
        assert sorted(len(s.values["messages"]) for s in ends) == [2 * t for t in range(1, 41)]
        for snapshot in ends:
            assert _texts(snapshot.values) == _expected(len(snapshot.values["messages"]) // 2)
        await _chat(graph, config, range(41, 43))
        assert _texts((await graph.aget_state(config)).values) == _expected(42)

        await saver.adelete_thread("once")
        assert await _rows(saver, "lmsa_checkpoint_items", "once") == 0
        assert await _rows(saver, "checkpoints", "once") == 0


async def test_a_file_written_before_lists_by_reference_still_reads(tmp_path: Path) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "old"}}
    path = str(tmp_path / "old.db")
    async with AsyncSqliteSaver.from_conn_string(path) as plain:
        await _chat(_graph(plain), config, range(1, 16))
    async with RetainingSqliteSaver.from_conn_string(path, keep_intermediate=KEEP) as saver:
        graph = _graph(saver)
        assert _texts((await graph.aget_state(config)).values) == _expected(15)
        await _chat(graph, config, range(16, 21))
        assert _texts((await graph.aget_state(config)).values) == _expected(20)
        history = [s async for s in graph.aget_state_history(config)]
        # Written before: every checkpoint, the whole list in each; all still read.
        old_ends = [s for s in history if not s.next and len(s.values["messages"]) <= 30]
        assert len(old_ends) == 15
        for snapshot in old_ends:
            assert _texts(snapshot.values) == _expected(len(snapshot.values["messages"]) // 2)


async def test_rows_deleted_by_another_connection_are_stored_again(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    config: RunnableConfig = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    messages = [HumanMessage(content=f"m{i}", id=f"m{i}") for i in range(2 * MIN_LIST)]
    async with (
        RetainingSqliteSaver.from_conn_string(path) as writer,
        RetainingSqliteSaver.from_conn_string(path) as other,
    ):
        first = empty_checkpoint()
        first["channel_values"] = {"messages": messages}
        await writer.aput(config, first, {"source": "loop", "step": 0}, {})
        # Another process deletes the thread; this one still remembers the rows it wrote.
        await other.adelete_thread("t")
        second = empty_checkpoint()
        second["channel_values"] = {"messages": [*messages, AIMessage(content="x", id="x")]}
        await writer.aput(config, second, {"source": "loop", "step": 1}, {})

        found = await other.aget_tuple(config)
        assert found is not None
        assert [m.content for m in found.checkpoint["channel_values"]["messages"]] == [
            *(f"m{i}" for i in range(2 * MIN_LIST)),
            "x",
        ]


async def test_conformance(tmp_path: Path) -> None:
    @checkpointer_test(name=f"RetainingSqliteSaver-{uuid.uuid4().hex[:8]}")
    async def factory() -> AsyncIterator[BaseCheckpointSaver]:
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        async with RetainingSqliteSaver.from_conn_string(str(path), keep_intermediate=20) as s:
            yield s

    report = await validate(factory)
    if not report.passed_all_base():
        report.print_report()
    passed = sum(r.tests_passed for r in report.results.values())
    failed = sum(r.tests_failed for r in report.results.values())
    print(f"RetainingSqliteSaver: {passed}/{passed + failed} tests")
    assert report.passed_all_base()
