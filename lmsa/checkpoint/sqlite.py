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

Large lists (the conversation's ``messages``) are stored by reference in a side table
(:mod:`lmsa.checkpoint.sqlite_lists`), and every stored value of 96 bytes or more is deflated
against a preset dictionary (:mod:`lmsa.checkpoint.packing`), so a thread's file grows with the
conversation's length. Rows written before either existed read as they always did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from lmsa.checkpoint import sqlite_lists as lists
from lmsa.checkpoint.lists import ListCache, ListCaches
from lmsa.checkpoint.packing import loads, pack

_KEPT_SOURCES = ("update", "fork")
_SETUP = """
CREATE TABLE IF NOT EXISTS lmsa_checkpoint_keep (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
)
"""


class PackingSerde:
    """A serializer whose values are deflated (see :mod:`lmsa.checkpoint.packing`)."""

    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, raw = pack(*self.inner.dumps_typed(obj))
        return type_.decode(), raw

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, raw = data
        return loads(self.inner, type_.encode(), raw)


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
        self._items_serde = self.serde
        self.serde = PackingSerde(self.serde)
        self._lists = ListCaches()

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
                await self.conn.execute(lists.SETUP)
                await self.conn.commit()
            self._keep_table = True

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        values = checkpoint["channel_values"]
        large = {ch: v for ch, v in values.items() if lists.is_large(v)}
        if large:
            key = (str(conf["thread_id"]), str(conf.get("checkpoint_ns") or ""))
            refs = await self._store_lists(key, large)
            stripped: dict[str, Any] = {
                **checkpoint,
                "channel_values": {ch: v for ch, v in values.items() if ch not in large},
                lists.LISTS_KEY: refs,
            }
            checkpoint = cast(Checkpoint, stripped)
        stored = await super().aput(config, checkpoint, metadata, new_versions)
        source = get_checkpoint_metadata(config, metadata).get("source")
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

    async def _store_lists(self, key: tuple[str, str], large: dict[str, Any]) -> dict[str, bytes]:
        """Store the large lists of a checkpoint; their leaf references by channel."""
        await self._setup_keep()
        cache = self._lists.get(key[0], key[1].encode())
        async with self.lock:
            encoded = self._encode(cache, large)
            shared = [h for e in encoded.values() for h in e.shared]
            if shared and await lists.missing(self.conn, key, shared):
                # Another connection deleted what this process remembers: store it again.
                self._lists.forget(key[0])
                cache = self._lists.get(key[0], key[1].encode())
                encoded = self._encode(None, large)
            # Committed with the checkpoint, by the parent's aput: one commit per checkpoint.
            for item in encoded.values():
                await lists.store(self.conn, key, item)
        for ch, item in encoded.items():
            lists.commit(cache, ch.encode(), item)
        return {ch: item.refs for ch, item in encoded.items()}

    def _encode(
        self, cache: ListCache | None, large: dict[str, Any]
    ) -> dict[str, lists.EncodedList]:
        return {
            ch: lists.encode_list(self._items_serde, cache, ch.encode(), value)
            for ch, value in large.items()
        }

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        found = await super().aget_tuple(config)
        if found is None or lists.LISTS_KEY not in found.checkpoint:
            return found
        key = _key(found)
        cache = self._lists.get(key[0], key[1].encode())
        async with self.lock:
            resolver = lists.Resolver(self.conn, self._items_serde, key, cache, share=True)
            await _resolve(found, resolver, cache)
        return found

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        # The parent holds the lock while it iterates, so the lists are read afterwards.
        found = [
            item async for item in super().alist(config, filter=filter, before=before, limit=limit)
        ]
        resolvers: dict[tuple[str, str], lists.Resolver] = {}
        for item in found:
            if lists.LISTS_KEY in item.checkpoint:
                key = _key(item)
                if key not in resolvers:
                    cache = self._lists.get(key[0], key[1].encode())
                    resolvers[key] = lists.Resolver(
                        self.conn, self._items_serde, key, cache, share=False
                    )
                async with self.lock:
                    await _resolve(item, resolvers[key], None)
            yield item

    async def _trim(self, thread_id: str, ns: str, newest: str, keep: int) -> None:
        key = (thread_id, ns)
        async with self.conn.execute(
            "SELECT MIN(checkpoint_id) FROM lmsa_checkpoint_keep "
            "WHERE thread_id = ? AND checkpoint_ns = ?",
            key,
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] is None:
            return
        # Only the checkpoints not marked as kept, so that a turn's work does not grow with
        # the number of turn ends the thread has.
        async with self.conn.execute(
            "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints AS c "
            "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id > ? AND NOT EXISTS "
            "(SELECT 1 FROM lmsa_checkpoint_keep AS k WHERE k.thread_id = c.thread_id "
            "AND k.checkpoint_ns = c.checkpoint_ns AND k.checkpoint_id = c.checkpoint_id) "
            "ORDER BY checkpoint_id DESC",
            (*key, row[0]),
        ) as cursor:
            rows: list[tuple[str, Any]] = [(str(c), p) for c, p in await cursor.fetchall()]
        parent_of = dict(rows)
        doomed: list[str] = []
        kept = 0
        for cid, _ in rows:
            if cid == newest:
                continue
            if kept < keep:
                kept += 1
            else:
                doomed.append(cid)
        if not doomed:
            return
        gone = set(doomed)
        children: list[tuple[str, Any]] = []
        for start in range(0, len(doomed), 500):
            part = doomed[start : start + 500]
            async with self.conn.execute(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints WHERE thread_id = ? "
                f"AND checkpoint_ns = ? AND parent_checkpoint_id IN ({','.join('?' * len(part))})",
                (*key, *part),
            ) as cursor:
                children += [(str(c), p) for c, p in await cursor.fetchall()]
        for cid, parent in children:
            if cid in gone:
                continue
            while parent in gone:
                parent = parent_of.get(parent)
            await self.conn.execute(
                "UPDATE checkpoints SET parent_checkpoint_id = ? "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                (parent, *key, cid),
            )
        await self._release(key, doomed)
        for table in ("checkpoints", "writes"):
            await self.conn.executemany(
                f"DELETE FROM {table} "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                [(*key, cid) for cid in doomed],
            )

    async def _release(self, key: tuple[str, str], doomed: list[str]) -> None:
        """Release the list references of checkpoints about to be deleted."""
        refs: list[bytes] = []
        for start in range(0, len(doomed), 500):
            part = doomed[start : start + 500]
            async with self.conn.execute(
                "SELECT type, checkpoint FROM checkpoints WHERE thread_id = ? "
                f"AND checkpoint_ns = ? AND checkpoint_id IN ({','.join('?' * len(part))})",
                (*key, *part),
            ) as cursor:
                rows = await cursor.fetchall()
            for type_, blob in rows:
                stored = self.serde.loads_typed((type_, blob))
                refs += stored.get(lists.LISTS_KEY, {}).values()
        await lists.release(self.conn, key, refs)

    async def adelete_thread(self, thread_id: str) -> None:
        await super().adelete_thread(thread_id)
        await self._setup_keep()
        self._lists.forget(str(thread_id))
        async with self.lock:
            for table in ("lmsa_checkpoint_keep", "lmsa_checkpoint_items"):
                await self.conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ?", (str(thread_id),)
                )
            await self.conn.commit()


def _key(found: CheckpointTuple) -> tuple[str, str]:
    conf = found.config["configurable"]
    return str(conf["thread_id"]), str(conf.get("checkpoint_ns") or "")


async def _resolve(
    found: CheckpointTuple, resolver: lists.Resolver, cache: ListCache | None
) -> None:
    """Put the lists a checkpoint names back in its values; ``cache`` learns them as the
    thread's newest. A list the cache holds as it is (the thread's newest, read again when
    the next turn starts) is taken from it without a query."""
    checkpoint: dict[str, Any] = cast(dict[str, Any], found.checkpoint)
    refs: dict[str, bytes] = checkpoint.pop(lists.LISTS_KEY)
    for channel, leaf_refs in refs.items():
        channel_b = channel.encode()
        known = cache.leaves.get(channel_b) if cache is not None else None
        if known is not None and [leaf for leaf, _ in known] == lists.split(leaf_refs):
            checkpoint["channel_values"][channel] = [i for _, chunk in known for i in chunk]
            continue
        layout = await resolver.resolve(leaf_refs)
        checkpoint["channel_values"][channel] = [i for _, chunk in layout for i in chunk]
        if cache is not None:
            for leaf, chunk in layout:
                for item, element in zip(chunk, resolver.elements(leaf), strict=True):
                    cache.remember(item, element)
            cache.leaves[channel_b] = layout
            cache.keep_latest()
