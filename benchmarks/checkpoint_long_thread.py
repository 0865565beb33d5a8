"""Long-thread scenario of ``benchmarks/checkpoint.py`` (``--long-thread``): what one
conversation costs the store as it grows.

One thread, scripted tool turns through the real compiled lmsa graph: per turn four model
calls (intent, plan, self-check, answer) via ``lmsa.testing.ScriptedChatModel``, one
``read_file`` and a ~220-character answer. At each mark (10/100/400 turns by default) it prints
the thread's size in the store (Redis: ``MEMORY USAGE ... SAMPLES 0`` summed over the thread's
keys, exact; SQLite: database file plus WAL, after a
WAL checkpoint), bytes per turn, the size against the raw text of
the conversation, and the median wall and CPU time (this process) of the last ten turns.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from lmsa.config import Settings
from lmsa.graphs.builder import create_assistant
from lmsa.testing import ScriptedChatModel

FILE_TEXT = "The greeting file says hello to everyone who reads it.\n" * 4
ANSWER = (
    "Turn {n}: the greeting file says hello to everyone who reads it, four times over. "
    "Nothing else is in it; no other file was opened and nothing was changed. "
    "Ask again if you want me to look at another file in the workspace."
)


def _script() -> dict[str, list[Any]]:
    """Replies that differ every turn, as a real conversation's do, so that no store gets to
    share one turn's intent, plan or answer with the next."""
    turns = {key: iter(range(1, 1 << 30)) for key in ("IntentResult", "Plan", "text")}

    def intent(_messages: Any, _kwargs: Any) -> dict[str, Any]:
        return {
            "reasoning": f"Turn {next(turns['IntentResult'])}: the user asks what a file says.",
            "intent": "information_request",
            "confidence": 0.9,
            "entities": [],
            "language": "en",
            "needs_clarification": False,
            "clarifying_question": "",
        }

    def plan(_messages: Any, _kwargs: Any) -> dict[str, Any]:
        return {
            "reasoning": f"Turn {next(turns['Plan'])}: read the file.",
            "answer_directly": False,
            "steps": [
                {
                    "id": "s1",
                    "tool": "read_file",
                    "args": {"path": "greeting.txt"},
                    "purpose": "read the greeting",
                    "depends_on": [],
                }
            ],
        }

    return {
        "IntentResult": [intent],
        "Plan": [plan],
        "Validation": [{"complete": True, "missing": "", "retry_with": ""}],
        "text": [lambda _messages, _kwargs: ANSWER.format(n=next(turns["text"]))],
    }


@dataclass
class Mark:
    turns: int
    size: int
    raw_text: int
    median_ms: float
    # CPU time of this process (graph, saver, client): steadier than wall time on a busy machine
    median_cpu_ms: float


def _text_chars(messages: Sequence[BaseMessage]) -> int:
    return sum(
        len(m.content) if isinstance(m.content, str) else len(str(m.content)) for m in messages
    )


async def run_long_thread(
    saver: BaseCheckpointSaver[Any],
    size_of: Callable[[str], Awaitable[int]],
    marks: Sequence[int],
    workspace: Path,
    settings_overrides: dict[str, Any] | None = None,
) -> list[Mark]:
    (workspace / "greeting.txt").write_text(FILE_TEXT)
    settings = Settings(
        workspace=workspace,
        data_dir=workspace / ".data",
        validate_reads=True,
        **(settings_overrides or {}),
    )
    graph = create_assistant(settings, checkpointer=saver, llm=ScriptedChatModel(script=_script()))
    thread_id = f"long-{uuid.uuid4().hex}"
    config: Any = {"configurable": {"thread_id": thread_id}}
    times: list[float] = []
    cpu_times: list[float] = []
    out: list[Mark] = []
    state: dict[str, Any] = {}
    for n in range(1, max(marks) + 1):
        question = f"Question {n}: what does the greeting file say today?"
        start, cpu = time.perf_counter(), time.process_time()
        state = await graph.ainvoke({"messages": [HumanMessage(content=question)]}, config)
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu) * 1000)
        if n in marks:
            out.append(
                Mark(
                    turns=n,
                    size=await size_of(thread_id),
                    raw_text=_text_chars(state["messages"]),
                    median_ms=statistics.median(times[-10:]),
                    median_cpu_ms=statistics.median(cpu_times[-10:]),
                )
            )
    return out


async def redis_thread_bytes(client: aredis.Redis, prefix: str, thread_id: str) -> int:
    total = 0
    async for key in client.scan_iter(match=f"{{{prefix}:{thread_id}}}:*", count=1000):
        total += int(await client.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0") or 0)
    return total


@asynccontextmanager
async def _redis(
    url: str, keep_intermediate: int | None
) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], Any]]:
    from lmsa.checkpoint.redis import AsyncRedisSaver

    prefix = f"lmsa-bench-long-{uuid.uuid4().hex}"
    client = aredis.Redis.from_url(url)
    try:
        # Without retention the saver is opened as earlier releases open it, so this scenario
        # also runs against them (the "before" figures).
        extra: dict[str, Any] = (
            {} if keep_intermediate is None else {"keep_intermediate": keep_intermediate}
        )
        async with AsyncRedisSaver.from_conn_string(url, key_prefix=prefix, **extra) as saver:

            async def size_of(thread_id: str) -> int:
                return await redis_thread_bytes(client, prefix, thread_id)

            yield saver, size_of
    finally:
        keys = [k async for k in client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        await client.aclose()


@asynccontextmanager
async def _sqlite(
    folder: Path, keep_intermediate: int | None
) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], Any]]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = str(folder / "long.db")
    opened: Any
    if keep_intermediate is None:
        opened = AsyncSqliteSaver.from_conn_string(path)
    else:
        from lmsa.checkpoint.sqlite import RetainingSqliteSaver

        opened = RetainingSqliteSaver.from_conn_string(path, keep_intermediate=keep_intermediate)
    async with opened as saver:

        async def size_of(_thread_id: str) -> int:
            # The WAL is copied into the database file and truncated first, so the figure is
            # what the data takes, not how far the WAL happened to grow.
            async with saver.lock:
                await saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return sum(p.stat().st_size for p in folder.glob("long.db*"))

        yield saver, size_of


def print_marks(name: str, marks: list[Mark]) -> None:
    print(f"\n{name}: one thread, 4 model calls + read_file + ~220-char answer per turn")
    header = (
        f"{'turns':>6}{'store MB':>10}{'bytes/turn':>12}{'x raw text':>12}"
        f"{'raw KB':>9}{'ms/turn p50':>13}{'cpu ms p50':>12}"
    )
    print(header)
    print("-" * len(header))
    for m in marks:
        print(
            f"{m.turns:>6}{m.size / 1e6:>10.2f}{m.size / m.turns:>12.0f}"
            f"{m.size / max(m.raw_text, 1):>12.1f}{m.raw_text / 1e3:>9.1f}{m.median_ms:>13.1f}"
            f"{m.median_cpu_ms:>12.1f}"
        )
    if len(marks) >= 2:
        first, last = marks[0], marks[-1]
        growth = last.size / max(marks[-2].size, 1)
        print(
            f"growth {marks[-2].turns}->{last.turns} turns: {growth:.2f}x; "
            f"ms/turn at {last.turns} vs {first.turns}: {last.median_ms / first.median_ms:.2f}x "
            f"(cpu {last.median_cpu_ms / first.median_cpu_ms:.2f}x)"
        )


async def long_thread_main(
    redis_url: str,
    marks: Sequence[int],
    stores: Sequence[str],
    keep_intermediate: int | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for store in stores:
            workspace = root / store
            workspace.mkdir()
            opener = (
                _redis(redis_url, keep_intermediate)
                if store == "redis"
                else _sqlite(workspace, keep_intermediate)
            )
            async with opener as (saver, size_of):
                result = await run_long_thread(saver, size_of, marks, workspace)
            name = "AsyncRedisSaver" if store == "redis" else "AsyncSqliteSaver"
            kept = "all checkpoints" if keep_intermediate is None else f"keep {keep_intermediate}"
            print_marks(f"{name} ({kept})", result)
