"""Long threads on the Redis and SQLite savers: each message stored once, retention inside a
thread (turn ends kept, in-turn checkpoints trimmed), and history, resume and forks working on
what is kept. A small chat graph with three steps per turn stands in for the assistant: a
guard that replaces the user's message by a marked copy with the same id, a step that changes
a counter and an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
import redis
import redis.asyncio as aredis
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from lmsa.checkpoint.redis import AsyncRedisSaver, RedisSaver
from lmsa.checkpoint.sqlite import RetainingSqliteSaver
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis

require_redis()

pytestmark = pytest.mark.integration

KEEP = 2


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    step: int


def _guard(state: Chat) -> dict[str, Any]:
    last = state["messages"][-1]
    marked = last.model_copy(update={"additional_kwargs": {"screened": True}})
    return {"messages": [marked], "step": 0}


def _think(state: Chat) -> dict[str, Any]:
    return {"step": 1}


def _answer(state: Chat) -> dict[str, Any]:
    turn = len(state["messages"]) // 2 + 1
    return {"messages": [AIMessage(content=f"answer {turn}")], "step": 2}


def _graph(saver: BaseCheckpointSaver) -> CompiledStateGraph:
    builder = StateGraph(Chat)
    builder.add_node("guard", _guard)
    builder.add_node("think", _think)
    builder.add_node("answer", _answer)
    builder.add_edge(START, "guard")
    builder.add_edge("guard", "think")
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


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from fresh_key_prefix("retention")


def _redis_opener(prefix: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def open_saver() -> AsyncIterator[AsyncRedisSaver]:
        async with AsyncRedisSaver.from_conn_string(
            REDIS_URL, key_prefix=prefix, keep_intermediate=KEEP
        ) as saver:
            yield saver

    return open_saver


def _sqlite_opener(path: Path) -> Callable[[], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def open_saver() -> AsyncIterator[RetainingSqliteSaver]:
        async with RetainingSqliteSaver.from_conn_string(
            str(path), keep_intermediate=KEEP
        ) as saver:
            yield saver

    return open_saver


@pytest.fixture(params=["redis", "sqlite"])
def opener(
    request: pytest.FixtureRequest, prefix: str, tmp_path: Path
) -> Callable[[], AbstractAsyncContextManager[Any]]:
    if request.param == "redis":
        return _redis_opener(prefix)
    return _sqlite_opener(tmp_path / "threads.db")


async def test_history_keeps_every_turn_end_and_the_newest_steps(
    opener: Callable[[], AbstractAsyncContextManager[Any]],
) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "long"}}
    async with opener() as saver:
        graph = _graph(saver)
        await _chat(graph, config, range(1, 21))
        history = [snapshot async for snapshot in graph.aget_state_history(config)]

    # Every turn's final state is still there, whole.
    ends = [s for s in history if not s.next and s.values.get("step") == 2]
    assert sorted(len(s.values["messages"]) for s in ends) == [2 * t for t in range(1, 21)]
    for snapshot in ends:
        assert _texts(snapshot.values) == _expected(len(snapshot.values["messages"]) // 2)
    # A turn writes five checkpoints, twenty turns a hundred. Besides the turn ends, what is
    # left: the first turn's four in-turn ones (written before any turn end was marked), the
    # last turn's four (trimmed when the next turn starts) and the KEEP newest before those.
    assert len(history) == 20 + 4 + 4 + KEEP
    # The history is one chain: each kept checkpoint's parent is the one listed after it.
    ids = [s.config["configurable"]["checkpoint_id"] for s in history]
    parents = [s.parent_config["configurable"]["checkpoint_id"] for s in history[:-1]]
    assert parents == ids[1:]
    assert history[-1].parent_config is None


async def test_resume_and_fork_work_on_what_is_kept(
    opener: Callable[[], AbstractAsyncContextManager[Any]],
) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "fork"}}
    async with opener() as saver:
        await _chat(_graph(saver), config, range(1, 13))

    # A new saver (another process: nothing cached) continues the thread.
    async with opener() as saver:
        graph = _graph(saver)
        await _chat(graph, config, range(13, 15))
        assert _texts((await graph.aget_state(config)).values) == _expected(14)

        # Edit the end of turn 9 (a fork in Studio) and ask something else from there.
        history = [s async for s in graph.aget_state_history(config)]
        (end_9,) = [s for s in history if len(s.values["messages"]) == 18 and not s.next]
        edited = await graph.aupdate_state(end_9.config, {"step": 5})
        await graph.ainvoke({"messages": [HumanMessage(content="question 10")]}, edited)
        assert _texts((await graph.aget_state(config)).values) == _expected(10)

        # Later turns trim the in-turn checkpoints, never the fork point or the edit.
        await _chat(graph, config, range(11, 16))
        kept = {s.config["configurable"]["checkpoint_id"] async for s in saver.alist(config)}
        assert end_9.config["configurable"]["checkpoint_id"] in kept
        assert edited["configurable"]["checkpoint_id"] in kept
        assert _texts((await graph.aget_state(end_9.config)).values) == _expected(9)
        assert (await graph.aget_state(edited)).values["step"] == 5
        assert _texts((await graph.aget_state(config)).values) == _expected(15)


async def test_each_message_is_stored_once_and_trimmed_copies_are_deleted(
    prefix: str,
) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "once"}}
    async with _redis_opener(prefix)() as saver:
        await _chat(_graph(saver), config, range(1, 31))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        fields = client.hkeys(f"{{{prefix}:once}}:data")
    finally:
        client.close()
    elements = [f for f in fields if f.startswith(b"e\0")]
    # Sixty messages; the guard's marked copy replaces each question, and the unmarked
    # original goes with the in-turn checkpoints that held it, except in the newest turns and
    # in the first lists stored whole (lists shorter than MIN_LIST are not split).
    assert 60 <= len(elements) <= 60 + 3
    blobs = [f for f in fields if f.startswith(b"b\0\0messages\0")]
    assert len(blobs) <= 30 + 5 + KEEP + 1


def test_sync_saver_reads_what_the_async_one_wrote(prefix: str) -> None:
    import asyncio

    config: RunnableConfig = {"configurable": {"thread_id": "both"}}

    async def write() -> None:
        async with _redis_opener(prefix)() as saver:
            await _chat(_graph(saver), config, range(1, 21))

    asyncio.run(write())
    client = redis.Redis.from_url(REDIS_URL)
    try:
        saver = RedisSaver(client, key_prefix=prefix, keep_intermediate=KEEP)
        graph = _graph(saver)
        assert _texts(graph.get_state(config).values) == _expected(20)
        graph.invoke({"messages": [HumanMessage(content="question 21")]}, config)
        assert _texts(graph.get_state(config).values) == _expected(21)
    finally:
        client.close()


async def test_without_retention_every_checkpoint_stays(prefix: str) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "all"}}
    client = aredis.Redis.from_url(REDIS_URL)
    try:
        saver = AsyncRedisSaver(client, key_prefix=prefix)
        graph = _graph(saver)
        await _chat(graph, config, range(1, 21))
        history = [s async for s in graph.aget_state_history(config)]
        assert len(history) == 20 * 5
        assert _texts(history[0].values) == _expected(20)
    finally:
        await client.aclose()


async def test_prune_to_the_latest_keeps_its_list_and_drops_the_rest(prefix: str) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "pruned"}}
    client = aredis.Redis.from_url(REDIS_URL)
    try:
        saver = AsyncRedisSaver(client, key_prefix=prefix)
        graph = _graph(saver)
        await _chat(graph, config, range(1, 21))
        await saver.aprune(["pruned"], strategy="keep_latest")
        assert len([s async for s in saver.alist(config)]) == 1
        # A new saver reads everything from Redis, nothing from a cache.
        fresh = _graph(AsyncRedisSaver(client, key_prefix=prefix))
        assert _texts((await fresh.aget_state(config)).values) == _expected(20)
        fields = await client.hkeys(f"{{{prefix}:pruned}}:data")
        # The latest list's 40 items; the unmarked originals of the questions are gone.
        assert len([f for f in fields if f.startswith(b"e\0")]) <= 40
    finally:
        await client.aclose()
