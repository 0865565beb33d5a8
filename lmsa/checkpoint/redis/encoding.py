"""Storage format of the Redis checkpointers: netstrings, field names, and decoding rows.

Values are framed as netstrings (``<len>:<bytes>``) so the Lua scripts can parse headers
without knowing the serializer. Namespaces, checkpoint ids, channels, task ids and run ids
must not contain NUL, which separates the parts of field names.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    writes_sort_key,
)

# The value of a channel that a checkpoint names in ``new_versions`` but does not carry.
EMPTY_BLOB = b"5:empty"


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


def _loads(serde: SerializerProtocol, type_: bytes, raw: bytes) -> Any:
    return serde.loads_typed((type_.decode(), raw))


def decode_metadata(serde: SerializerProtocol, payload: bytes) -> CheckpointMetadata:
    (_, _, _, md_type, md_raw), _ = read_netstrings(payload, 5)
    metadata: CheckpointMetadata = _loads(serde, md_type, md_raw)
    return metadata


def decode_rows(
    serde: SerializerProtocol, thread_id: str, ns: str, reply: list[Any]
) -> list[CheckpointTuple]:
    """The tuples in a reply of the GET script: (cid, payload, header, blobs, writes)*."""
    rows: list[CheckpointTuple] = []
    for i in range(0, len(reply), 5):
        cid_b, payload, header, blobs, writes = reply[i : i + 5]
        rows.append(decode_row(serde, thread_id, ns, cid_b, payload, header, blobs, writes))
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
) -> CheckpointTuple:
    (parent_b, cp_type, cp_raw, md_type, md_raw), _ = read_netstrings(payload, 5)
    checkpoint: Checkpoint = _loads(serde, cp_type, cp_raw)
    head, _ = read_netstrings(header)
    values: dict[str, Any] = {}
    for channel, blob in zip(head[1::2], blobs, strict=True):
        if blob is None or blob == EMPTY_BLOB:
            continue
        (blob_type,), offset = read_netstrings(blob, 1)
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
