"""Deleting threads: one by id, or every thread not updated for a while (``lmsa threads
prune``, ``LMSA_THREAD_RETENTION``). Works on any LangGraph saver through ``alist`` and
``adelete_thread``; SQLite gets a query that reads only ids, because retention runs each time
the store is opened and must not deserialize every checkpoint to do it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

# uuid6 counts 100 ns ticks from 1582-10-15; this is that count at the Unix epoch.
_UUID_EPOCH_TICKS = 0x01B21DD213814000


async def thread_exists(saver: BaseCheckpointSaver, thread_id: str) -> bool:
    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    return await saver.aget_tuple(config) is not None


async def last_updates(saver: BaseCheckpointSaver) -> dict[str, datetime]:
    """Every thread's id and the time of its newest checkpoint (UTC)."""
    connection = _sqlite_connection(saver)
    if connection is not None:
        return await _sqlite_last_updates(connection)
    latest: dict[str, datetime] = {}
    async for item in saver.alist(None):
        configurable = item.config["configurable"]
        if configurable.get("checkpoint_ns"):
            continue
        thread_id = str(configurable["thread_id"])
        when = _parse_ts(str(item.checkpoint.get("ts", "")))
        if when is not None and (thread_id not in latest or when > latest[thread_id]):
            latest[thread_id] = when
    return latest


async def prune_threads(
    saver: BaseCheckpointSaver, older_than: timedelta, *, now: datetime | None = None
) -> list[str]:
    """Deletes the threads whose newest checkpoint is older than ``older_than``; their ids."""
    cutoff = (now or datetime.now(UTC)) - older_than
    stale = sorted(t for t, when in (await last_updates(saver)).items() if when < cutoff)
    for thread_id in stale:
        await saver.adelete_thread(thread_id)
    return stale


def _parse_ts(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _sqlite_connection(saver: BaseCheckpointSaver) -> Any:
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        return None
    return saver.conn if isinstance(saver, AsyncSqliteSaver) else None


async def _sqlite_last_updates(connection: Any) -> dict[str, datetime]:
    # Checkpoint ids are uuid6, whose leading bits are the creation time: the largest id per
    # thread is its newest checkpoint, and its time is in the id itself.
    query = (
        "SELECT thread_id, MAX(checkpoint_id) FROM checkpoints "
        "WHERE checkpoint_ns = '' GROUP BY thread_id"
    )
    async with connection.execute(query) as cursor:
        rows = await cursor.fetchall()
    latest = {}
    for thread_id, checkpoint_id in rows:
        when = uuid6_time(str(checkpoint_id))
        if when is not None:
            latest[str(thread_id)] = when
    return latest


def uuid6_time(value: str) -> datetime | None:
    """The creation time encoded in a version-6 UUID, or None for another kind of id."""
    digits = value.replace("-", "")
    if len(digits) != 32 or digits[12] != "6":
        return None
    try:
        number = int(digits, 16)
    except ValueError:
        return None
    high = number >> 96
    mid = (number >> 80) & 0xFFFF
    low = (number >> 64) & 0x0FFF
    ticks = (high << 28) | (mid << 12) | low
    return datetime.fromtimestamp((ticks - _UUID_EPOCH_TICKS) / 10_000_000, UTC)
