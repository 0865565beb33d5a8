"""Checkpointer latency: our AsyncRedisSaver beside InMemorySaver and AsyncSqliteSaver.

Every saver gets the same workload, shaped like an agent conversation: each step writes a
new checkpoint whose parent is the previous one, with a rolling window of ten chat messages,
a step counter and a routing channel changing every step, a summary changing every tenth
step, and a system prompt and tool schemas that never change after the first step (so
savers that store channels separately only rewrite three of six).

    python benchmarks/checkpoint.py [--n 2000] [--redis-url redis://127.0.0.1:6379/0]
        [--cluster | --cluster-url redis+cluster://host:port,...]

``--cluster`` adds an AsyncRedisSaver row on a three-master Redis Cluster started on loopback
for the run (redis-server and redis-cli on PATH); ``--cluster-url`` uses a running cluster.

    python benchmarks/checkpoint.py --long-thread [--turns 10,100,400] [--stores redis,sqlite]
                                    [--keep-intermediate 20|all]

``--long-thread`` runs instead the scenario of :mod:`benchmarks.checkpoint_long_thread`: one
conversation through the real compiled graph, the store's size and the time per turn as the
thread grows.

Measures, sequentially on one thread each:
  put        aput of the next checkpoint
  get_tuple  aget_tuple of the thread's latest checkpoint (what every graph run starts with)
  list       alist(thread, limit=10), one page of history
  put+get    aput followed by aget_tuple of the returned config, on a fresh thread
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    empty_checkpoint,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.checkpoint_long_thread import long_thread_main
from lmsa.checkpoint.redis import AsyncRedisSaver
from lmsa.config import Settings

SYSTEM_PROMPT = "You are a careful assistant running on a local model. " * 20
TOOLS = [
    {
        "name": f"tool_{i}",
        "description": "Does one useful thing with the workspace. " * 3,
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    }
    for i in range(6)
]


class Conversation:
    """Generates the checkpoints of one growing thread for a given saver."""

    def __init__(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.step = 0
        self.parent: str | None = None
        self.messages: list[BaseMessage] = []
        self.versions: dict[str, Any] = {}
        self.run_id = str(uuid.uuid4())

    def _bump(self, channel: str) -> Any:
        self.versions[channel] = self.saver.get_next_version(self.versions.get(channel), None)
        return self.versions[channel]

    def next(self) -> tuple[RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions]:
        i = self.step
        cls = HumanMessage if i % 2 == 0 else AIMessage
        text = f"message {i}: " + "lorem ipsum dolor sit amet " * 8
        self.messages = [*self.messages, cls(content=text, id=str(uuid.uuid4()))][-10:]
        changed = ["messages", "step", "branch:to:agent"]
        if i == 0:
            changed += ["system", "tools", "summary"]
        elif i % 10 == 0:
            changed.append("summary")
        new_versions = {ch: self._bump(ch) for ch in changed}
        values = {
            "messages": self.messages,
            "step": i,
            "branch:to:agent": None,
            "summary": f"summary after {i - i % 10} messages " * 10,
            "system": SYSTEM_PROMPT,
            "tools": TOOLS,
        }
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = values
        checkpoint["channel_versions"] = dict(self.versions)
        checkpoint["versions_seen"] = {"agent": {"messages": self.versions["messages"]}}
        conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": ""}
        if self.parent:
            conf["checkpoint_id"] = self.parent
        metadata: CheckpointMetadata = {
            "source": "loop",
            "step": i,
            "parents": {},
            "run_id": self.run_id,
        }
        self.step += 1
        self.parent = checkpoint["id"]
        return {"configurable": conf}, checkpoint, metadata, new_versions


@dataclass
class Result:
    name: str
    put: list[float]
    get: list[float]
    list_: list[float]
    roundtrip: list[float]
    put_total_s: float


async def _timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


async def run_workload(name: str, saver: BaseCheckpointSaver[Any], n: int, n_list: int) -> Result:
    conv = Conversation(saver, f"bench-{uuid.uuid4()}")
    thread: RunnableConfig = {"configurable": {"thread_id": conv.thread_id, "checkpoint_ns": ""}}

    puts: list[float] = []
    for _ in range(n):
        config, cp, md, nv = conv.next()
        puts.append(await _timed(lambda: saver.aput(config, cp, md, nv)))  # noqa: B023

    gets = [await _timed(lambda: saver.aget_tuple(thread)) for _ in range(n)]

    async def page() -> None:
        async for _ in saver.alist(thread, limit=10):
            pass

    lists = [await _timed(page) for _ in range(n_list)]

    fresh = Conversation(saver, f"bench-{uuid.uuid4()}")
    roundtrips: list[float] = []
    for _ in range(n):
        config, cp, md, nv = fresh.next()

        async def put_then_get() -> None:
            stored = await saver.aput(config, cp, md, nv)  # noqa: B023
            assert await saver.aget_tuple(stored) is not None

        roundtrips.append(await _timed(put_then_get))

    for thread_id in (conv.thread_id, fresh.thread_id):
        await saver.adelete_thread(thread_id)
    return Result(name, puts, gets, lists, roundtrips, sum(puts) / 1000)


@asynccontextmanager
async def redis_saver(url: str) -> AsyncIterator[AsyncRedisSaver]:
    prefix = f"lmsa-bench-{uuid.uuid4().hex}"
    async with AsyncRedisSaver.from_conn_string(url, key_prefix=prefix) as saver:
        try:
            yield saver
        finally:
            client = aredis.Redis.from_url(url)
            keys = [k async for k in client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@asynccontextmanager
async def cluster_saver(url: str) -> AsyncIterator[AsyncRedisSaver]:
    """AsyncRedisSaver on the cluster client lmsa builds from a ``redis+cluster://`` URL."""
    from lmsa.redis_clients import async_client

    prefix = f"lmsa-bench-{uuid.uuid4().hex}"
    async with AsyncRedisSaver.from_conn_string(url, key_prefix=prefix) as saver:
        try:
            yield saver
        finally:
            client = async_client(url)
            async for key in client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000):
                await client.delete(key)  # one slot per key: no multi-key DEL
            await client.aclose()


def add_cluster_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--cluster", action="store_true", help="also run on a local 3-master Redis Cluster"
    )
    group.add_argument("--cluster-url", help="also run on this redis+cluster:// URL")


async def cluster_results(args: argparse.Namespace) -> list[Result]:
    """The cluster row, when ``--cluster`` or ``--cluster-url`` asks for one."""
    if args.cluster_url:
        async with cluster_saver(args.cluster_url) as saver:
            return [await run_workload("AsyncRedisSaver/C", saver, args.n, args.list_n)]
    if not args.cluster:
        return []
    import shutil

    from tests.redis_support import local_cluster

    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        raise SystemExit("--cluster needs redis-server and redis-cli on PATH")
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
        async with cluster_saver(cluster.url) as saver:
            return [await run_workload("AsyncRedisSaver/C", saver, args.n, args.list_n)]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_table(results: list[Result], n: int, n_list: int) -> None:
    header = (
        f"{'saver':<18}{'put p50':>9}{'put p95':>9}{'get p50':>9}{'get p95':>9}"
        f"{'list p50':>10}{'list p95':>10}{'put+get p50':>13}{'ckpt/s':>9}"
    )
    print(f"\n{n} checkpoints per thread, {n_list} list pages of 10; latencies in ms")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<18}"
            f"{statistics.median(r.put):>9.3f}{_pct(r.put, 0.95):>9.3f}"
            f"{statistics.median(r.get):>9.3f}{_pct(r.get, 0.95):>9.3f}"
            f"{statistics.median(r.list_):>10.3f}{_pct(r.list_, 0.95):>10.3f}"
            f"{statistics.median(r.roundtrip):>13.3f}"
            f"{len(r.put) / r.put_total_s:>9.0f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="checkpoints per measured thread")
    parser.add_argument("--list-n", type=int, default=200, help="list calls to time")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    add_cluster_args(parser)
    parser.add_argument("--long-thread", action="store_true", help="run the long-thread scenario")
    parser.add_argument("--turns", default="10,100,400", help="long thread: marks, in turns")
    parser.add_argument("--stores", default="redis,sqlite", help="long thread: redis, sqlite")
    parser.add_argument(
        "--keep-intermediate",
        default=str(Settings().checkpoint_keep_intermediate),
        help="long thread: in-turn checkpoints kept (LMSA_CHECKPOINT_KEEP_INTERMEDIATE); 'all'",
    )
    args = parser.parse_args()
    if args.long_thread:
        keep = None if args.keep_intermediate == "all" else int(args.keep_intermediate)
        marks = [int(m) for m in args.turns.split(",")]
        await long_thread_main(args.redis_url, marks, args.stores.split(","), keep)
        return

    results = [await run_workload("InMemorySaver", InMemorySaver(), args.n, args.list_n)]
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "bench.db")) as sqlite:
            results.append(await run_workload("AsyncSqliteSaver", sqlite, args.n, args.list_n))
    async with redis_saver(args.redis_url) as saver:
        results.append(await run_workload("AsyncRedisSaver", saver, args.n, args.list_n))
    results += await cluster_results(args)
    print_table(results, args.n, args.list_n)


if __name__ == "__main__":
    asyncio.run(main())
