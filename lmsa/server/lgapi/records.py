"""Thread records of the LangGraph Server API: what ``threads/search`` lists and ``GET
/threads/{id}`` returns beside the checkpoint (created and updated times, metadata, status, the
latest values and interrupts).

The checkpointer knows a thread's state but not its metadata or status, and cannot list a
caller's threads cheaply, so records live in the configured store next to the checkpoints:
Redis (one JSON string per thread and a sorted set per owner, newest first; no key scans),
SQLite (one table in the conversation file) or process memory. Records are keyed by the stored
thread id (see :mod:`lmsa.server.tenancy`), so one key's records never show up for another.
Filtering (metadata, status, values) is shared and done on the owner's own records.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from lmsa.config import Settings

PAGE = 200


class Records(Protocol):
    """The store of thread records; ``owner`` is the tenant (None with auth off)."""

    async def get(self, stored_id: str) -> dict[str, Any] | None: ...

    async def put(self, stored_id: str, owner: str | None, record: dict[str, Any]) -> None: ...

    async def delete(self, stored_id: str, owner: str | None) -> None: ...

    def newest(self, owner: str | None) -> AsyncIterator[dict[str, Any]]:
        """The owner's records, most recently updated first."""
        ...


def _score(record: dict[str, Any]) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(record.get("updated_at"))).timestamp()
    except ValueError:
        return 0.0


class MemoryRecords:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[str | None, dict[str, Any]]] = {}

    async def get(self, stored_id: str) -> dict[str, Any] | None:
        row = self._rows.get(stored_id)
        return json.loads(json.dumps(row[1])) if row else None

    async def put(self, stored_id: str, owner: str | None, record: dict[str, Any]) -> None:
        self._rows[stored_id] = (owner, json.loads(json.dumps(record, default=str)))

    async def delete(self, stored_id: str, owner: str | None) -> None:
        self._rows.pop(stored_id, None)

    async def newest(self, owner: str | None) -> AsyncIterator[dict[str, Any]]:
        rows = [r for o, r in list(self._rows.values()) if o == owner]
        for record in sorted(rows, key=_score, reverse=True):
            yield json.loads(json.dumps(record))


class SqliteRecords:
    """One table in the conversation file; a connection of its own (aiosqlite)."""

    def __init__(self, connection: Any) -> None:
        self._db = connection
        self._lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str) -> AsyncIterator[SqliteRecords]:
        import aiosqlite

        async with aiosqlite.connect(path, timeout=30) as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS lgapi_threads (stored_id TEXT PRIMARY KEY, "
                "owner TEXT NOT NULL, updated REAL NOT NULL, record TEXT NOT NULL)"
            )
            await db.execute(
                "CREATE INDEX IF NOT EXISTS lgapi_threads_owner ON lgapi_threads(owner, updated)"
            )
            await db.commit()
            yield cls(db)

    async def get(self, stored_id: str) -> dict[str, Any] | None:
        async with self._db.execute(
            "SELECT record FROM lgapi_threads WHERE stored_id = ?", (stored_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def put(self, stored_id: str, owner: str | None, record: dict[str, Any]) -> None:
        async with self._lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO lgapi_threads VALUES (?, ?, ?, ?)",
                (stored_id, owner or "", _score(record), json.dumps(record, default=str)),
            )
            await self._db.commit()

    async def delete(self, stored_id: str, owner: str | None) -> None:
        async with self._lock:
            await self._db.execute("DELETE FROM lgapi_threads WHERE stored_id = ?", (stored_id,))
            await self._db.commit()

    async def newest(self, owner: str | None) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            async with self._db.execute(
                "SELECT record FROM lgapi_threads WHERE owner = ? "
                "ORDER BY updated DESC LIMIT ? OFFSET ?",
                (owner or "", PAGE, offset),
            ) as cursor:
                rows = await cursor.fetchall()
            for row in rows:
                yield json.loads(row[0])
            if len(rows) < PAGE:
                return
            offset += PAGE


class RedisRecords:
    """``<prefix>:lgapi:thread:<stored id>`` holds the JSON record and
    ``<prefix>:lgapi:threads:<owner>`` indexes the owner's ids by update time. Pipelines are not
    transactions: the two keys may sit in different Redis Cluster slots, and a record whose
    index entry is missing or stale is repaired by the next write or read."""

    def __init__(self, client: Any, prefix: str, ttl: int | None = None) -> None:
        self._redis = client
        self._prefix = f"{prefix}:lgapi"
        self._ttl = ttl

    def _key(self, stored_id: str) -> str:
        return f"{self._prefix}:thread:{stored_id}"

    def _index(self, owner: str | None) -> str:
        return f"{self._prefix}:threads:{owner or '_'}"

    async def get(self, stored_id: str) -> dict[str, Any] | None:
        raw = await self._redis.get(self._key(stored_id))
        return json.loads(raw) if raw else None

    async def put(self, stored_id: str, owner: str | None, record: dict[str, Any]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._key(stored_id), json.dumps(record, default=str), ex=self._ttl)
            pipe.zadd(self._index(owner), {stored_id: _score(record)})
            await pipe.execute()

    async def delete(self, stored_id: str, owner: str | None) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self._key(stored_id))
            pipe.zrem(self._index(owner), stored_id)
            await pipe.execute()

    async def newest(self, owner: str | None) -> AsyncIterator[dict[str, Any]]:
        start = 0
        while True:
            ids = await self._redis.zrevrange(self._index(owner), start, start + PAGE - 1)
            if not ids:
                return
            raws = await self._redis.mget([self._key(_text(i)) for i in ids])
            gone = []
            for stored_id, raw in zip(ids, raws, strict=True):
                if raw is None:  # expired with its thread (redis_ttl)
                    gone.append(stored_id)
                    continue
                yield json.loads(raw)
            if gone:
                await self._redis.zrem(self._index(owner), *gone)
            if len(ids) < PAGE:
                return
            start += PAGE - len(gone)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@asynccontextmanager
async def open_records(settings: Settings) -> AsyncIterator[Records]:
    """The records store matching the configured checkpointer."""
    if settings.checkpointer == "redis":
        from lmsa.redis_clients import async_client_for

        client = async_client_for(settings)
        try:
            yield RedisRecords(client, settings.redis_key_prefix, settings.redis_ttl)
        finally:
            await client.aclose()
    elif settings.checkpointer == "sqlite":
        settings.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        async with SqliteRecords.open(str(settings.sqlite_file)) as records:
            yield records
    else:
        yield MemoryRecords()


def matches(
    record: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status: str | None = None,
    ids: list[str] | None = None,
) -> bool:
    """langgraph-api's search filter: every given metadata/values key equal, status equal."""
    if status is not None and record.get("status") != status:
        return False
    if ids is not None and record.get("thread_id") not in ids:
        return False
    for wanted, have in ((metadata, record.get("metadata")), (values, record.get("values"))):
        if wanted and not _contains(have or {}, wanted):
            return False
    return True


def _contains(have: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(have, dict) and all(
            key in have and _contains(have[key], item) for key, item in wanted.items()
        )
    return bool(have == wanted)
