"""Large list channel values of the SQLite saver stored by reference, in a table of their own.

Without this every kept checkpoint would hold the whole ``messages`` list: storage quadratic in
the length of a conversation. A list of at least :data:`MIN_LIST` items leaves the checkpoint's
``channel_values``; the checkpoint gets instead, under :data:`LISTS_KEY`, the channel's *leaf
references*: the 16-byte content hashes of its leaves, concatenated. A leaf (a row of
``lmsa_checkpoint_items``) holds the hashes of up to :data:`LEAF` elements; an element row holds
one serialized item. Rows are keyed by content hash per thread and namespace, so a new version
of a list writes only the leaves whose items changed (for an append, the last one) and the
items not stored before.

Every row counts its references (a leaf: the checkpoints naming it; an element: the leaves
naming it). Writing a checkpoint adds its references, deleting one (retention) releases them
and deletes the rows nobody names any more; deleting a thread deletes its rows. A count can
only be too high (a crash between the side table's commit and the checkpoint's), which keeps a
row too long, never deletes one still named.

A checkpoint without :data:`LISTS_KEY` (written before this existed, or without large lists)
decodes as it always did.
"""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import SerializerProtocol

from lmsa.checkpoint.lists import LEAF, MIN_LIST, ListCache
from lmsa.checkpoint.packing import loads, pack

# The checkpoint key that maps a channel to its leaf references.
LISTS_KEY = "lmsa_lists"
HASH = 16
# SQLite's smallest limit on bound parameters is 999; rows are asked for in chunks below it.
_CHUNK = 900
SETUP = """
CREATE TABLE IF NOT EXISTS lmsa_checkpoint_items (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    hash BLOB NOT NULL,
    refs INTEGER NOT NULL DEFAULT 0,
    value BLOB NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, hash)
) WITHOUT ROWID
"""


def _digest(kind: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(kind + data, digest_size=HASH).digest()


def split(refs: bytes) -> list[bytes]:
    return [refs[i : i + HASH] for i in range(0, len(refs), HASH)]


@dataclass
class EncodedList:
    refs: bytes
    leaves: list[tuple[bytes, tuple[Any, ...]]]
    # element rows: (hash, stored value)
    elements: list[tuple[bytes, bytes]] = field(default_factory=list)
    # leaf rows not known to be stored: (hash, value)
    new_leaves: list[tuple[bytes, bytes]] = field(default_factory=list)
    # rows the cache says exist and this list names
    shared: list[bytes] = field(default_factory=list)
    new_items: list[tuple[Any, bytes]] = field(default_factory=list)


def is_large(value: Any) -> bool:
    return type(value) is list and len(value) >= MIN_LIST


def encode_list(
    serde: SerializerProtocol, cache: ListCache | None, channel_b: bytes, items: Sequence[Any]
) -> EncodedList:
    """The leaf references of ``items``, reusing what ``cache`` says is stored (nothing if
    None)."""
    previous = cache.leaves.get(channel_b, []) if cache is not None else []
    out = EncodedList(b"", [])
    for j, start in enumerate(range(0, len(items), LEAF)):
        chunk = tuple(items[start : start + LEAF])
        if j < len(previous):
            leaf, old = previous[j]
            if len(old) == len(chunk) and all(map(operator.is_, old, chunk)):
                out.leaves.append((leaf, chunk))
                out.shared.append(leaf)
                continue
        refs: list[bytes] = []
        for item in chunk:
            hit = cache.fields.get(id(item)) if cache is not None else None
            if hit is not None and hit[0] is item:
                refs.append(hit[1])
                out.shared.append(hit[1])
                continue
            type_, raw = serde.dumps_typed(item)
            element = _digest(b"e" + type_.encode() + b"\0", raw)
            stored_type, stored = pack(type_, raw)
            out.elements.append((element, b"%d:%s" % (len(stored_type), stored_type) + stored))
            out.new_items.append((item, element))
            refs.append(element)
        value = b"".join(refs)
        leaf = _digest(b"l", value)
        out.new_leaves.append((leaf, value))
        out.leaves.append((leaf, chunk))
    out.refs = b"".join(leaf for leaf, _ in out.leaves)
    return out


def commit(cache: ListCache, channel_b: bytes, encoded: EncodedList) -> None:
    """Record a list that the store accepted."""
    for item, element in encoded.new_items:
        cache.remember(item, element)
    cache.leaves[channel_b] = encoded.leaves
    cache.keep_latest()


def _chunks(hashes: Sequence[bytes]) -> Iterable[Sequence[bytes]]:
    for start in range(0, len(hashes), _CHUNK):
        yield hashes[start : start + _CHUNK]


async def fetch(
    conn: aiosqlite.Connection, key: tuple[str, str], hashes: Iterable[bytes]
) -> dict[bytes, bytes]:
    """The values of the rows of ``hashes`` that exist."""
    out: dict[bytes, bytes] = {}
    for part in _chunks(list(set(hashes))):
        marks = ",".join("?" * len(part))
        async with conn.execute(
            "SELECT hash, value FROM lmsa_checkpoint_items "
            f"WHERE thread_id = ? AND checkpoint_ns = ? AND hash IN ({marks})",
            (*key, *part),
        ) as cursor:
            out.update({bytes(h): bytes(v) for h, v in await cursor.fetchall()})
    return out


async def missing(
    conn: aiosqlite.Connection, key: tuple[str, str], hashes: Iterable[bytes]
) -> bool:
    wanted = list(set(hashes))
    found = 0
    for part in _chunks(wanted):
        marks = ",".join("?" * len(part))
        async with conn.execute(
            "SELECT COUNT(*) FROM lmsa_checkpoint_items "
            f"WHERE thread_id = ? AND checkpoint_ns = ? AND hash IN ({marks})",
            (*key, *part),
        ) as cursor:
            row = await cursor.fetchone()
        found += int(row[0]) if row else 0
    return found < len(wanted)


async def _add(conn: aiosqlite.Connection, key: tuple[str, str], counts: Counter[bytes]) -> None:
    await conn.executemany(
        "UPDATE lmsa_checkpoint_items SET refs = refs + ? "
        "WHERE thread_id = ? AND checkpoint_ns = ? AND hash = ?",
        [(n, *key, h) for h, n in counts.items()],
    )


async def store(conn: aiosqlite.Connection, key: tuple[str, str], encoded: EncodedList) -> None:
    """Write the rows of a list and count one checkpoint's references to its leaves (in the
    caller's transaction)."""
    await conn.executemany(
        "INSERT OR IGNORE INTO lmsa_checkpoint_items (thread_id, checkpoint_ns, hash, value) "
        "VALUES (?, ?, ?, ?)",
        [(*key, h, v) for h, v in encoded.elements],
    )
    named: Counter[bytes] = Counter()
    for leaf, value in encoded.new_leaves:
        cursor = await conn.execute(
            "INSERT OR IGNORE INTO lmsa_checkpoint_items (thread_id, checkpoint_ns, hash, value) "
            "VALUES (?, ?, ?, ?)",
            (*key, leaf, value),
        )
        if cursor.rowcount == 1:
            named.update(split(value))
        await cursor.close()
    await _add(conn, key, named)
    await _add(conn, key, Counter(split(encoded.refs)))


async def release(conn: aiosqlite.Connection, key: tuple[str, str], lists: Iterable[bytes]) -> None:
    """Drop the references of deleted checkpoints (their leaf references) and the rows no
    longer named (in the caller's transaction)."""
    leaves: Counter[bytes] = Counter()
    for refs in lists:
        leaves.update(split(refs))
    if not leaves:
        return
    await _add(conn, key, Counter({h: -n for h, n in leaves.items()}))
    unnamed = await _unnamed(conn, key, list(leaves))
    if not unnamed:
        return
    elements: Counter[bytes] = Counter()
    for value in (await fetch(conn, key, unnamed)).values():
        elements.update(split(value))
    await _add(conn, key, Counter({h: -n for h, n in elements.items()}))
    await _delete(conn, key, unnamed + await _unnamed(conn, key, list(elements)))


async def _unnamed(
    conn: aiosqlite.Connection, key: tuple[str, str], hashes: list[bytes]
) -> list[bytes]:
    out: list[bytes] = []
    for part in _chunks(hashes):
        marks = ",".join("?" * len(part))
        async with conn.execute(
            "SELECT hash FROM lmsa_checkpoint_items WHERE thread_id = ? AND checkpoint_ns = ? "
            f"AND refs <= 0 AND hash IN ({marks})",
            (*key, *part),
        ) as cursor:
            out += [bytes(row[0]) for row in await cursor.fetchall()]
    return out


async def _delete(conn: aiosqlite.Connection, key: tuple[str, str], hashes: list[bytes]) -> None:
    await conn.executemany(
        "DELETE FROM lmsa_checkpoint_items WHERE thread_id = ? AND checkpoint_ns = ? AND hash = ?",
        [(*key, h) for h in hashes],
    )


class Resolver:
    """Turns leaf references back into lists, remembering the rows it decoded."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        serde: SerializerProtocol,
        key: tuple[str, str],
        cache: ListCache,
        *,
        share: bool,
    ) -> None:
        """Starts from what ``cache`` knows (when first asked); with ``share`` the items it
        decodes go into the cache's map, otherwise into a copy of it."""
        self.conn, self.serde, self.key = conn, serde, key
        self.cache, self.share = cache, share
        self.items: dict[bytes, Any] = {}
        self.leaves: dict[bytes, bytes] = {}
        self.started = False

    def _start(self) -> None:
        self.started = True
        cache = self.cache
        self.items = cache.items if self.share else dict(cache.items)
        for layout in cache.leaves.values():
            for leaf, chunk in layout:
                hits = [cache.fields.get(id(item)) for item in chunk]
                if all(
                    hit is not None and hit[0] is item
                    for hit, item in zip(hits, chunk, strict=True)
                ):
                    self.leaves[leaf] = b"".join(hit[1] for hit in hits if hit is not None)

    def elements(self, leaf: bytes) -> list[bytes]:
        return split(self.leaves[leaf])

    async def resolve(self, refs: bytes) -> list[tuple[bytes, tuple[Any, ...]]]:
        """(leaf, items) per leaf reference."""
        if not self.started:
            self._start()
        leaves = split(refs)
        unknown = [h for h in leaves if h not in self.leaves]
        if unknown:
            self.leaves.update(await fetch(self.conn, self.key, unknown))
        try:
            elements = {e for h in leaves for e in split(self.leaves[h])}
        except KeyError as error:
            raise LookupError(f"checkpoint list leaf missing from {self.key}") from error
        unknown = [e for e in elements if e not in self.items]
        if unknown:
            rows = await fetch(self.conn, self.key, unknown)
            if len(rows) < len(set(unknown)):
                raise LookupError(f"checkpoint list items missing from {self.key}")
            for element, value in rows.items():
                colon = value.index(b":")
                end = colon + 1 + int(value[:colon])
                self.items[element] = loads(self.serde, value[colon + 1 : end], value[end:])
        return [(h, tuple(self.items[e] for e in split(self.leaves[h]))) for h in leaves]
