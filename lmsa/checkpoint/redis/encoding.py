"""Storage format of the Redis checkpointers: netstrings, field names, and decoding rows.

Values are framed as netstrings (``<len>:<bytes>``) so the Lua scripts can parse headers
without knowing the serializer. Namespaces, checkpoint ids, channels, task ids and run ids
must not contain NUL, which separates the parts of field names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    writes_sort_key,
)

from lmsa.checkpoint.packing import loads, pack

__all__ = ["loads", "pack"]

# The value of a channel that a checkpoint names in ``new_versions`` but does not carry.
EMPTY_BLOB = b"5:empty"
# The serializer-type netstring of a list blob (:mod:`lmsa.checkpoint.redis.lists`).
LIST_TYPE = b"lmsa.list"


def netstrings(*parts: bytes) -> bytes:
    return b"".join(b"%d:%s" % (len(p), p) for p in parts)


def read_netstrings(buf: bytes, count: int | None = None) -> tuple[list[bytes], int]:
    """Parse ``count`` netstrings (all if None); return them and the offset after the last."""
    out: list[bytes] = []
    pos, end = 0, len(buf)
    while pos < end and (count is None or len(out) < count):
        colon = buf.index(b":", pos)
        start = colon + 1
        stop = start + int(buf[pos:colon])
        out.append(buf[start:stop])
        pos = stop
    return out, pos


def enc(value: Any, what: str) -> bytes:
    raw = str(value).encode()
    if b"\0" in raw:
        raise ValueError(f"{what} must not contain NUL bytes: {value!r}")
    return raw


def version_bytes(version: str | int | float) -> bytes:
    return str(version).encode()


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """Normalise ZRANGE ... WITHSCORES across RESP2 (flat) and RESP3 (pairs)."""
    if not reply:
        return []
    if isinstance(reply[0], list | tuple):
        return [(m, s) for m, s in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))


_loads = loads


def decode_metadata(serde: SerializerProtocol, payload: bytes) -> CheckpointMetadata:
    (_, _, _, md_type, md_raw), _ = read_netstrings(payload, 5)
    metadata: CheckpointMetadata = _loads(serde, md_type, md_raw)
    return metadata


# Resolves a list blob (see :mod:`lmsa.checkpoint.redis.lists`): (channel, blob, leaf values).
ListResolver = Callable[[bytes, bytes, list[bytes | None]], list[Any]]
GET_ROW = 6


def header_entries(header: bytes, ns_b: bytes) -> list[tuple[bytes, bytes, bool]]:
    """(channel, blob field, created) per channel of a header (see ``entries`` in the Lua
    scripts): x is the channel's version, or the version, NUL and the version of an equal older
    blob of the channel that this checkpoint shares, or (older data) the field itself; a NUL
    before the channel marks a blob that this checkpoint created (channel names cannot contain
    NUL)."""
    head, _ = read_netstrings(header)
    out: list[tuple[bytes, bytes, bool]] = []
    for ch, x in zip(head[1::2], head[2::2], strict=True):
        created = ch.startswith(b"\0")
        ch = ch.removeprefix(b"\0")
        if x.startswith(b"b\0"):
            field = x
        else:
            version, nul, shared = x.partition(b"\0")
            field = b"b\0" + ns_b + b"\0" + ch + b"\0" + (shared if nul else version)
        out.append((ch, field, created))
    return out


def decode_rows(
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    reply: list[Any],
    resolve: ListResolver,
) -> list[CheckpointTuple]:
    """The tuples in a reply of the GET script: (cid, payload, header, blobs, writes, leaves)*."""
    rows: list[CheckpointTuple] = []
    for i in range(0, len(reply), GET_ROW):
        cid_b, payload, header, blobs, writes, leaves = reply[i : i + GET_ROW]
        rows.append(
            decode_row(serde, thread_id, ns, cid_b, payload, header, blobs, writes, leaves, resolve)
        )
    return rows


def decode_row(
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    cid_b: bytes,
    payload: bytes,
    header: bytes,
    blobs: list[bytes | None],
    writes: list[bytes | None],
    leaves: list[bytes | None],
    resolve: ListResolver,
) -> CheckpointTuple:
    (parent_b, cp_type, cp_raw, md_type, md_raw), _ = read_netstrings(payload, 5)
    checkpoint: Checkpoint = _loads(serde, cp_type, cp_raw)
    values: dict[str, Any] = {}
    used = 0
    for (channel, _, _), blob in zip(header_entries(header, ns.encode()), blobs, strict=True):
        if blob is None or blob == EMPTY_BLOB:
            continue
        (blob_type,), offset = read_netstrings(blob, 1)
        if blob_type == LIST_TYPE:
            count = len(read_netstrings(blob[offset:])[0])
            values[channel.decode()] = resolve(channel, blob, leaves[used : used + count])
            used += count
            continue
        values[channel.decode()] = _loads(serde, blob_type, blob[offset:])
    checkpoint["channel_values"] = values

    decoded: list[tuple[tuple[str, str, int], tuple[str, str, Any]]] = []
    for write in writes:
        if write is None:
            continue
        (task_b, idx_b, channel_b, path_b, w_type), offset = read_netstrings(write, 5)
        task_id = task_b.decode()
        value = _loads(serde, w_type, write[offset:])
        decoded.append(
            (
                writes_sort_key(path_b.decode(), task_id, int(idx_b)),
                (task_id, channel_b.decode(), value),
            )
        )
    decoded.sort(key=lambda item: item[0])

    cid = cid_b.decode()
    parent = parent_b.decode()
    return CheckpointTuple(
        config={
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
        },
        checkpoint=checkpoint,
        metadata=_loads(serde, md_type, md_raw),
        parent_config=(
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": parent,
                }
            }
            if parent
            else None
        ),
        pending_writes=[w for _, w in decoded],
    )
