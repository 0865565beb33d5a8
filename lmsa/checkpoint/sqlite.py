"""The SQLite saver with retention inside a thread (``LMSA_CHECKPOINT_KEEP_INTERMEDIATE``).

LangGraph writes a checkpoint after every step, several per turn, and the SQLite saver stores
the whole state in each. This subclass of ``AsyncSqliteSaver`` keeps, per thread and
namespace, every turn's final checkpoint (the parent of the next turn's ``input`` checkpoint),
every edit or fork (sources ``update`` and ``fork``), the newest checkpoint and the newest
``keep_intermediate`` of the rest; when a turn starts it deletes the others with their writes
and points each survivor at its nearest surviving ancestor, so history, time travel and forks
work on what is kept. The turn ends are recorded in a table of its own
(``lmsa_checkpoint_keep``); checkpoints older than a thread's first record are never trimmed,
so a store written before retention existed keeps its history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    SerializerProtocol,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

_KEPT_SOURCES = ("update", "fork")
_SETUP = """
CREATE TABLE IF NOT EXISTS lmsa_checkpoint_keep (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
)
"""


class RetainingSqliteSaver(AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that trims each thread's in-turn checkpoints (see the module)."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        serde: SerializerProtocol | None = None,
        keep_intermediate: int | None = None,
    ) -> None:
        super().__init__(conn, serde=serde)
        if keep_intermediate is not None and keep_intermediate < 0:
            raise ValueError(f"keep_intermediate must be >= 0, got {keep_intermediate!r}")
        self.keep_intermediate = keep_intermediate
        self._keep_table = False

    @classmethod
    @asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls, conn_string: str, *, keep_intermediate: int | None = None
    ) -> AsyncIterator[RetainingSqliteSaver]:
        async with aiosqlite.connect(conn_string) as conn:
            yield cls(conn, keep_intermediate=keep_intermediate)

    async def _setup_keep(self) -> None:
        if not self._keep_table:
            await self.setup()
            async with self.lock:
                await self.conn.execute(_SETUP)
                await self.conn.commit()
            self._keep_table = True

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = await super().aput(config, checkpoint, metadata, new_versions)
        source = get_checkpoint_metadata(config, metadata).get("source")
        conf = config["configurable"]
        parent = conf.get("checkpoint_id")
        if source == "input" and parent:
            mark = str(parent)  # the previous turn's final checkpoint
        elif source in _KEPT_SOURCES:
            mark = checkpoint["id"]
        else:
            return stored
        await self._setup_keep()
        thread_id = str(conf["thread_id"])
        ns = str(conf.get("checkpoint_ns") or "")
        async with self.lock:
            await self.conn.execute(
                "INSERT OR IGNORE INTO lmsa_checkpoint_keep VALUES (?, ?, ?)",
                (thread_id, ns, mark),
            )
            if source == "input" and self.keep_intermediate is not None:
                await self._trim(thread_id, ns, checkpoint["id"], self.keep_intermediate)
            await self.conn.commit()
        return stored

    async def _trim(self, thread_id: str, ns: str, newest: str, keep: int) -> None:
        key = (thread_id, ns)
        async with self.conn.execute(
            "SELECT checkpoint_id FROM lmsa_checkpoint_keep "
            "WHERE thread_id = ? AND checkpoint_ns = ?",
            key,
        ) as cursor:
            keepers = {str(row[0]) for row in await cursor.fetchall()}
        if not keepers:
            return
        floor = min(keepers)
        async with self.conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id > ? "
            "ORDER BY checkpoint_id DESC",
            (*key, floor),
        ) as cursor:
            rows: list[tuple[str, Any]] = [(str(c), p) for c, p in await cursor.fetchall()]
        parent_of = dict(rows)
        doomed: list[str] = []
        kept = 0
        for cid, _ in rows:
            if cid in keepers or cid == newest:
                continue
            if kept < keep:
                kept += 1
            else:
                doomed.append(cid)
        if not doomed:
            return
        gone = set(doomed)
        for cid, parent in rows:
            if cid in gone or parent not in gone:
                continue
            while parent in gone:
                parent = parent_of.get(parent)
            await self.conn.execute(
                "UPDATE checkpoints SET parent_checkpoint_id = ? "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                (parent, *key, cid),
            )
        for table in ("checkpoints", "writes"):
            await self.conn.executemany(
                f"DELETE FROM {table} "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                [(*key, cid) for cid in doomed],
            )

    async def adelete_thread(self, thread_id: str) -> None:
        await super().adelete_thread(thread_id)
        await self._setup_keep()
        async with self.lock:
            await self.conn.execute(
                "DELETE FROM lmsa_checkpoint_keep WHERE thread_id = ?", (str(thread_id),)
            )
            await self.conn.commit()
