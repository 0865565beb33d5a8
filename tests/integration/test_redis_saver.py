"""Properties of the Redis savers that the conformance suite does not cover: TTL, cluster
slot layout, atomicity, connection errors, and real graphs surviving a restart."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict, cast

import pytest
import redis
import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, empty_checkpoint
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from lmsa.checkpoint.redis import (
    AsyncRedisSaver,
    CheckpointerUnavailable,
    RedisSaver,
    async_redis_checkpointer,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis

require_redis()

pytestmark = pytest.mark.integration


def _keys_of(client: redis.Redis, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000))


async def _fields(client: aredis.Redis, key: str) -> list[bytes]:
    return cast(list[bytes], await client.hkeys(key))


@pytest.fixture
def sync_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from fresh_key_prefix("saver")


@pytest.fixture
async def aclient() -> AsyncIterator[aredis.Redis]:
    client = aredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def _checkpoint(values: dict[str, Any], versions: ChannelVersions) -> Checkpoint:
    cp = empty_checkpoint()
    cp["channel_values"] = values
    cp["channel_versions"] = dict(versions)
    return cp


def _config(thread_id: str, ns: str = "", parent: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if parent:
        conf["checkpoint_id"] = parent
    return {"configurable": conf}


# -- TTL -------------------------------------------------------------------------------


def test_ttl_is_set_on_every_key_and_refreshed_by_writes(
    sync_client: redis.Redis, prefix: str
) -> None:
    saver = RedisSaver(sync_client, ttl=600, key_prefix=prefix)
    stored = saver.put(
        _config("t1"), _checkpoint({"a": 1}, {"a": 1}), {"run_id": "run-1"}, {"a": 1}
    )
    thread_keys = [
        k for k in _keys_of(sync_client, prefix) if k.startswith(b"{%s:" % prefix.encode())
    ]
    assert len(thread_keys) == 2
    run_key = f"{{{prefix}}}:run:run-1"
    for key in [*thread_keys, run_key.encode()]:
        assert 590 < sync_client.ttl(key) <= 600, key

    # Pretend most of the TTL elapsed; each kind of write must extend the whole thread.
    for write in (
        lambda: saver.put_writes(stored, [("ch", "v")], "task-1"),
        lambda: saver.put(
            _config("t1", parent=stored["configurable"]["checkpoint_id"]),
            _checkpoint({"a": 2}, {"a": 2}),
            {},
            {"a": 2},
        ),
    ):
        for key in thread_keys:
            sync_client.expire(key, 5)
        write()
        for key in thread_keys:
            assert sync_client.ttl(key) > 590, key

    # Without a TTL nothing expires.
    forever = RedisSaver(sync_client, key_prefix=prefix)
    forever.put(_config("t2"), _checkpoint({}, {}), {}, {})
    t2_keys = [k for k in _keys_of(sync_client, prefix) if b":t2}" in k]
    assert sorted(t2_keys) == [f"{{{prefix}:t2}}:{s}".encode() for s in ("data", "idx")]
    for key in t2_keys:
        assert sync_client.ttl(key) == -1, key  # -1: exists, no TTL (-2 would be missing)


async def test_ttl_applies_to_copied_threads(aclient: aredis.Redis, prefix: str) -> None:
    saver = AsyncRedisSaver(aclient, ttl=300, key_prefix=prefix)
    await saver.aput(_config("src"), _checkpoint({"a": 1}, {"a": 1}), {}, {"a": 1})
    await saver.acopy_thread("src", "dst")
    for suffix in ("idx", "data"):
        assert 290 < await aclient.ttl(f"{{{prefix}:dst}}:{suffix}") <= 300


def test_rejects_non_positive_ttl(sync_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="ttl"):
        RedisSaver(sync_client, ttl=0)


# -- cluster layout ----------------------------------------------------------------------


@pytest.mark.parametrize("thread_id", ["plain", "with:colons", "brace}in{it", "ünïcode"])
async def test_all_keys_of_a_thread_share_one_hash_slot(
    aclient: aredis.Redis, sync_client: redis.Redis, prefix: str, thread_id: str
) -> None:
    saver = AsyncRedisSaver(aclient, ttl=60, key_prefix=prefix)
    for ns in ("", "child:1", "child:1|grandchild:2"):
        parent = None
        for step in range(3):
            stored = await saver.aput(
                _config(thread_id, ns, parent),
                _checkpoint({"msgs": [step], "n": step}, {"msgs": step + 1, "n": step + 1}),
                {"run_id": f"run-{step}"},
                {"msgs": step + 1, "n": step + 1},
            )
            await saver.aput_writes(stored, [("msgs", "w"), (ERROR, "boom")], f"task-{step}")
            parent = stored["configurable"]["checkpoint_id"]

    tag = f"{{{prefix}:{thread_id}}}".encode()
    thread_keys = [k for k in _keys_of(sync_client, prefix) if k.startswith(tag)]
    assert sorted(thread_keys) == [tag + b":data", tag + b":idx"]
    assert len({key_slot(k) for k in thread_keys}) == 1

    # The global directory keys share their own slot, separate from any thread.
    global_keys = [k for k in _keys_of(sync_client, prefix) if not k.startswith(tag)]
    assert global_keys and len({key_slot(k) for k in global_keys}) == 1


# -- atomicity ---------------------------------------------------------------------------


def test_failed_put_leaves_nothing_behind(sync_client: redis.Redis, prefix: str) -> None:
    """The saver's real connection is killed by a second client (CLIENT KILL) after the put
    has taken it from the pool and before the put's commands are sent: the error reaches the
    caller and Redis holds nothing of the new checkpoint."""
    # No retries: redis-py's default retry would reconnect and send the whole put again.
    writer = redis.Redis.from_url(REDIS_URL, retry=Retry(NoBackoff(), 0))
    saver = RedisSaver(writer, key_prefix=prefix)
    first = saver.put(_config("t"), _checkpoint({"a": "v1"}, {"a": 1}), {}, {"a": 1})

    killed: list[int] = []
    sent: list[tuple[Any, ...]] = []
    real_pipeline = writer.pipeline

    def pipeline_killed_before_sending(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute_pipeline = pipe._execute_pipeline

        def execute_on_a_killed_connection(connection: Any, commands: Any, *rest: Any) -> Any:
            connection.send_command("CLIENT", "ID")
            client_id = connection.read_response()
            killed.append(sync_client.client_kill_filter(_id=client_id))
            sent.extend(args for args, _options in commands)
            return real_execute_pipeline(connection, commands, *rest)

        pipe._execute_pipeline = execute_on_a_killed_connection  # type: ignore[method-assign]
        return pipe

    writer.pipeline = pipeline_killed_before_sending  # type: ignore[method-assign]
    cp2 = _checkpoint({"a": "v2", "b": "new"}, {"a": 2, "b": 1})
    try:
        with pytest.raises(redis.ConnectionError):
            saver.put(
                _config("t", parent=first["configurable"]["checkpoint_id"]),
                cp2,
                {},
                {"a": 2, "b": 1},
            )
    finally:
        writer.close()
    assert killed == [1], "the saver's connection was killed exactly once"

    # The checkpoint, its header, its blobs and its index entry travel as ONE command, so
    # there is no point at which part of them can have been applied.
    thread_writes = [c for c in sent if c[0] != "ZINCRBY"]
    assert [c[0] for c in thread_writes] == ["EVALSHA"]

    reader = RedisSaver(sync_client, key_prefix=prefix)
    latest = reader.get_tuple(_config("t"))
    assert latest is not None
    assert latest.checkpoint["id"] == first["configurable"]["checkpoint_id"]
    assert reader.get_tuple(_config("t", parent=cp2["id"])) is None
    blob_of_b = b"b\0\0b\x001"
    assert not sync_client.hexists(f"{{{prefix}:t}}:data", blob_of_b)
    assert [t.checkpoint["id"] for t in reader.list(_config("t"))] == [
        first["configurable"]["checkpoint_id"]
    ]
    # Nothing of the put was applied, not even the directory counter sent with it.
    assert sync_client.zscore(f"{{{prefix}}}:threads", "t") == 1


async def test_put_checks_key_types_before_writing_anything(
    aclient: aredis.Redis, prefix: str
) -> None:
    """Redis does not roll back a script that fails half-way, so the script validates first."""
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    await aclient.set(f"{{{prefix}:t}}:idx", "not a sorted set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await saver.aput(_config("t"), _checkpoint({"a": 1}, {"a": 1}), {}, {"a": 1})
    assert await aclient.exists(f"{{{prefix}:t}}:data") == 0


async def test_put_writes_checks_key_types_before_writing_anything(
    aclient: aredis.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    stored = await saver.aput(_config("t"), _checkpoint({}, {}), {}, {})
    idx_key, data_key = f"{{{prefix}:t}}:idx", f"{{{prefix}:t}}:data"
    saved_index = await aclient.dump(idx_key)
    assert isinstance(saved_index, bytes)
    await aclient.set(idx_key, "clobbered")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await saver.aput_writes(stored, [("a", 1), ("b", 2)], "task")
    assert not [f for f in await _fields(aclient, data_key) if f.startswith(b"w\0")]
    await aclient.restore(idx_key, 0, saved_index, replace=True)
    tup = await saver.aget_tuple(stored)
    assert tup is not None and tup.pending_writes == []


def test_write_semantics_match_in_memory_saver(sync_client: redis.Redis, prefix: str) -> None:
    saver = RedisSaver(sync_client, key_prefix=prefix)
    stored = saver.put(_config("t"), _checkpoint({}, {}), {}, {})
    saver.put_writes(stored, [("ch", "first"), (ERROR, "e1"), (INTERRUPT, "i1")], "task")
    saver.put_writes(stored, [("ch", "second"), (ERROR, "e2")], "task")
    saver.put_writes(stored, [("ch", "other task")], "task-2", task_path="~a")
    tup = saver.get_tuple(stored)
    assert tup is not None
    by_key = {(w[0], w[1]): w[2] for w in tup.pending_writes or []}
    assert by_key == {
        ("task", "ch"): "first",  # regular writes are first-writer-wins
        ("task", ERROR): "e2",  # special writes overwrite
        ("task", INTERRUPT): "i1",
        ("task-2", "ch"): "other task",
    }
    # writes_sort_key order: (task_path, task_id, idx); "" sorts before "~a".
    assert [w[0] for w in tup.pending_writes or []][-1] == "task-2"


# -- connection errors ---------------------------------------------------------------------


def test_unreachable_redis_names_the_url_without_password() -> None:
    url = "redis://:hunter2@127.0.0.1:1/0"
    with (
        pytest.raises(CheckpointerUnavailable) as err,
        RedisSaver.from_conn_string(url),
    ):
        pass
    message = str(err.value)
    assert "redis://:***@127.0.0.1:1/0" in message
    assert "hunter2" not in message
    assert "LMSA_REDIS_URL" in message


async def test_unreachable_redis_async_and_env_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "redis://127.0.0.1:1/0"
    with pytest.raises(
        CheckpointerUnavailable, match=r"Cannot reach Redis at redis://127\.0\.0\.1:1/0"
    ):
        async with AsyncRedisSaver.from_conn_string(url):
            pass
    monkeypatch.setenv("LMSA_REDIS_URL", url)
    with pytest.raises(CheckpointerUnavailable, match=r"127\.0\.0\.1:1"):
        async with async_redis_checkpointer():
            pass


async def test_env_factory_configures_the_saver(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("LMSA_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("LMSA_REDIS_TTL", "120")
    monkeypatch.setenv("LMSA_REDIS_KEY_PREFIX", prefix)
    async with async_redis_checkpointer() as saver:
        assert isinstance(saver, AsyncRedisSaver)
        assert (saver.ttl, saver.key_prefix) == (120, prefix)
        stored = await saver.aput(_config("t"), _checkpoint({}, {}), {}, {})
        assert await saver.aget_tuple(stored) is not None
    monkeypatch.setenv("LMSA_REDIS_TTL", "soon")
    with pytest.raises(ValueError, match="LMSA_REDIS_TTL"):
        async with async_redis_checkpointer():
            pass


def test_decoding_clients_are_rejected() -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisSaver(client)
    client.close()


# -- resilience and bridges ------------------------------------------------------------------


async def test_recovers_when_redis_forgets_its_scripts(aclient: aredis.Redis, prefix: str) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    await saver.aput(_config("t"), _checkpoint({"a": 1}, {"a": 1}), {}, {"a": 1})
    await aclient.script_flush()  # what a Redis restart or failover does to the cache
    stored = await saver.aput(_config("t"), _checkpoint({"a": 2}, {"a": 2}), {}, {"a": 2})
    tup = await saver.aget_tuple(stored)
    assert tup is not None and tup.checkpoint["channel_values"] == {"a": 2}


async def test_async_saver_sync_methods_work_off_the_loop_only(
    aclient: aredis.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    stored = await saver.aput(_config("t"), _checkpoint({"a": 1}, {"a": 1}), {}, {"a": 1})
    with pytest.raises(asyncio.InvalidStateError):
        saver.get_tuple(stored)
    tup = await asyncio.to_thread(saver.get_tuple, stored)
    assert tup is not None and tup.checkpoint["channel_values"] == {"a": 1}
    listed = await asyncio.to_thread(lambda: list(saver.list(None)))
    assert [t.checkpoint["id"] for t in listed] == [stored["configurable"]["checkpoint_id"]]


async def test_list_all_threads_and_forget_vanished_ones(
    aclient: aredis.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    ids = []
    for thread in ("a", "b", "c"):
        stored = await saver.aput(_config(thread), _checkpoint({}, {}), {"step": 1}, {})
        ids.append(stored["configurable"]["checkpoint_id"])
    everything = [t.checkpoint["id"] async for t in saver.alist(None)]
    assert everything == sorted(ids, reverse=True)
    assert [t.checkpoint["id"] async for t in saver.alist(None, limit=2)] == everything[:2]

    # Simulate TTL expiry of thread "b": its keys vanish, its directory entry goes lazily.
    await aclient.delete(f"{{{prefix}:b}}:idx", f"{{{prefix}:b}}:data")
    assert len([t async for t in saver.alist(None)]) == 2
    assert await aclient.zscore(f"{{{prefix}}}:threads", "b") is None
    assert await aclient.zscore(f"{{{prefix}}}:threads", "a") is not None


async def test_pruning_removes_unreferenced_blobs(aclient: aredis.Redis, prefix: str) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    parent = None
    for step in range(4):
        versions: ChannelVersions = {"static": 1, "moving": step + 1}
        new: ChannelVersions = versions if step == 0 else {"moving": step + 1}
        stored = await saver.aput(
            _config("t", parent=parent),
            _checkpoint({"static": "s", "moving": step}, versions),
            {"step": step},
            new,
        )
        parent = stored["configurable"]["checkpoint_id"]
    data_key = f"{{{prefix}:t}}:data"
    assert len([f for f in await _fields(aclient, data_key) if f.startswith(b"b\0")]) == 5
    await saver.aprune(["t"])
    blobs = sorted(f for f in await _fields(aclient, data_key) if f.startswith(b"b\0"))
    assert blobs == [b"b\0\0moving\x004", b"b\0\0static\x001"]
    tup = await saver.aget_tuple(_config("t"))
    assert tup is not None and tup.checkpoint["channel_values"] == {"static": "s", "moving": 3}


# -- real graphs -----------------------------------------------------------------------------


class _CounterState(TypedDict):
    count: int
    answer: str


def _counter_graph(saver: AsyncRedisSaver) -> Any:
    def bump(state: _CounterState) -> dict[str, Any]:
        return {"count": state["count"] + 1}

    def ask(state: _CounterState) -> dict[str, Any]:
        answer = interrupt({"question": "go on?", "count": state["count"]})
        return {"answer": answer, "count": state["count"] + 1}

    builder = StateGraph(_CounterState)
    builder.add_node("bump", bump)
    builder.add_node("ask", ask)
    builder.add_edge(START, "bump")
    builder.add_edge("bump", "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=saver)


class _RepeatState(TypedDict, total=False):
    step: str
    feedback: list[str]


async def test_a_value_shared_with_an_earlier_equal_one_survives_later_checkpoints(
    prefix: str,
) -> None:
    """Each turn writes the same small value again (stored once, shared), then a step that
    leaves it alone: the thread's latest state, and every checkpoint's, still holds it."""

    def reset(state: _RepeatState) -> dict[str, Any]:
        return {"step": "reset", "feedback": []}

    def other(state: _RepeatState) -> dict[str, Any]:
        return {"step": "other"}

    builder = StateGraph(_RepeatState)
    builder.add_node("reset", reset)
    builder.add_node("other", other)
    builder.add_edge(START, "reset")
    builder.add_edge("reset", "other")
    builder.add_edge("other", END)
    config: RunnableConfig = {"configurable": {"thread_id": "repeat-1"}}
    async with AsyncRedisSaver.from_conn_string(REDIS_URL, key_prefix=prefix) as saver:
        graph = builder.compile(checkpointer=saver)
        for turn in range(3):
            await graph.ainvoke({"step": f"turn {turn}"}, config)
            assert (await graph.aget_state(config)).values == {"step": "other", "feedback": []}
        async for snapshot in graph.aget_state_history(config):
            if snapshot.metadata and snapshot.metadata.get("step", -1) >= 1:
                assert snapshot.values.get("feedback") == [], snapshot


async def test_interrupted_graph_resumes_after_restart(prefix: str) -> None:
    config: RunnableConfig = {"configurable": {"thread_id": "conversation-1"}}

    async with AsyncRedisSaver.from_conn_string(REDIS_URL, key_prefix=prefix, ttl=600) as first:
        result = await _counter_graph(first).ainvoke({"count": 0, "answer": ""}, config)
        assert result["count"] == 1
        assert result["__interrupt__"][0].value == {"question": "go on?", "count": 1}

    # A new process: new client, new saver, same Redis.
    async with AsyncRedisSaver.from_conn_string(REDIS_URL, key_prefix=prefix, ttl=600) as second:
        graph = _counter_graph(second)
        state = await graph.aget_state(config)
        assert state.next == ("ask",)
        assert state.values == {"count": 1, "answer": ""}
        assert state.tasks[0].interrupts[0].value["count"] == 1

        final = await graph.ainvoke(Command(resume="yes"), config)
        assert final == {"count": 2, "answer": "yes"}
        history = [s async for s in graph.aget_state_history(config)]
        assert len(history) >= 4
        assert (await graph.aget_state(config)).next == ()


def _extend(state: list[str], writes: list[list[str]]) -> list[str]:
    return [*state, *[item for batch in writes for item in batch]]


class _DeltaState(TypedDict):
    items: Annotated[list[str], DeltaChannel(_extend, snapshot_frequency=3)]
    total: Annotated[int, operator.add]


async def test_keep_latest_prune_keeps_delta_channel_history(
    aclient: aredis.Redis, prefix: str
) -> None:
    """DeltaChannel stores only a sentinel at most steps; pruning to the latest checkpoint
    alone would silently empty it, so prune keeps the chain back to a snapshot."""
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)

    def node(state: _DeltaState) -> dict[str, Any]:
        return {"items": [f"node-{len(state['items'])}"], "total": 1}

    graph = (
        StateGraph(_DeltaState)
        .add_node("node", node)
        .add_edge(START, "node")
        .add_edge("node", END)
        .compile(checkpointer=saver)
    )
    config: RunnableConfig = {"configurable": {"thread_id": "delta"}}
    for turn in range(5):
        expected = await graph.ainvoke({"items": [f"in-{turn}"], "total": 0}, config)
    before = len([t async for t in saver.alist(config)])

    await saver.aprune(["delta"], strategy="keep_latest")

    kept = len([t async for t in saver.alist(config)])
    assert 1 < kept < before
    assert (await graph.aget_state(config)).values == expected
    after = await graph.ainvoke({"items": ["more"], "total": 0}, config)
    assert after["items"] == [*expected["items"], "more", f"node-{len(expected['items']) + 1}"]


def test_sync_graph_with_subgraph_round_trips(sync_client: redis.Redis, prefix: str) -> None:
    class Inner(TypedDict):
        count: int

    def inner_step(state: Inner) -> dict[str, Any]:
        return {"count": state["count"] + 10}

    inner = StateGraph(Inner).add_node("inner_step", inner_step)
    inner = inner.add_edge(START, "inner_step").add_edge("inner_step", END)

    def outer_step(state: Inner) -> dict[str, Any]:
        answer = interrupt("ok?")
        return {"count": state["count"] + (1 if answer == "yes" else 0)}

    saver = RedisSaver(sync_client, key_prefix=prefix)
    graph = (
        StateGraph(Inner)
        .add_node("sub", inner.compile())
        .add_node("outer_step", outer_step)
        .add_edge(START, "sub")
        .add_edge("sub", "outer_step")
        .add_edge("outer_step", END)
        .compile(checkpointer=saver)
    )
    config: RunnableConfig = {"configurable": {"thread_id": "sync"}}
    graph.invoke({"count": 0}, config)
    assert graph.get_state(config).next == ("outer_step",)
    assert graph.invoke(Command(resume="yes"), config) == {"count": 11}
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)}
    assert "" in namespaces and any(ns.startswith("sub:") for ns in namespaces)
    root: RunnableConfig = {"configurable": {"thread_id": "sync", "checkpoint_ns": ""}}
    page = list(saver.list(root, limit=2))
    older = list(saver.list(root, before=page[-1].config, limit=2))
    everything = [t.checkpoint["id"] for t in saver.list(root)]
    assert [t.checkpoint["id"] for t in page + older] == everything[:4]
    # Without a namespace, list covers the subgraph's checkpoints too, newest first.
    all_ns = [t.checkpoint["id"] for t in saver.list(config)]
    assert len(all_ns) > len(everything) and all_ns == sorted(all_ns, reverse=True)


async def test_a_burst_beyond_the_pool_waits_for_connections(prefix: str) -> None:
    """More concurrent reads and writes than the pool has connections: they queue for one
    (redis-py's default pool raised MaxConnectionsError here and the turns failed)."""
    async with AsyncRedisSaver.from_conn_string(
        REDIS_URL, key_prefix=prefix, ttl=600, max_connections=3
    ) as saver:

        async def put_and_read(index: int) -> Any:
            stored = await saver.aput(
                _config(f"t{index}"), _checkpoint({"n": index}, {"n": 1}), {}, {"n": 1}
            )
            return await saver.aget_tuple(stored)

        tuples = await asyncio.gather(*(put_and_read(i) for i in range(60)))
        pool = saver.client.connection_pool
    assert [t.checkpoint["channel_values"]["n"] for t in tuples] == list(range(60))
    assert pool.max_connections == 3


def test_the_sync_saver_pool_is_bounded_and_blocking(prefix: str) -> None:
    with RedisSaver.from_conn_string(REDIS_URL, key_prefix=prefix, max_connections=2) as saver:
        assert isinstance(saver.client.connection_pool, redis.BlockingConnectionPool)
        assert saver.client.connection_pool.max_connections == 2
        saver.put(_config("t"), _checkpoint({"a": 1}, {"a": 1}), {}, {"a": 1})
        assert saver.get_tuple(_config("t")) is not None
