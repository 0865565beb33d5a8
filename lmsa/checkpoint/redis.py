"""LangGraph checkpointers on plain Redis (core commands only, no modules).

Why hand-written
----------------
The official ``langgraph-checkpoint-redis`` stores checkpoints as RedisJSON documents and
queries them through RediSearch, so it cannot run on a stock Redis or a managed Redis
without modules.  This module needs nothing but hashes, sorted sets, sets and Lua (tested
on Redis 7.0), and passes the full ``langgraph-checkpoint-conformance`` suite, base and
extended capabilities.

Key layout
----------
With ``P`` = ``key_prefix`` and ``T`` = ``thread_id``, a thread owns exactly two keys::

    {P:T}:data   HASH  every byte of the thread:
                       c\\0<ns>\\0<checkpoint_id>            checkpoint payload (no channel values)
                       h\\0<ns>\\0<checkpoint_id>            header: run_id + (channel, blob field)*
                       b\\0<ns>\\0<channel>\\0<version>        one channel value (a "blob")
                       w\\0<ns>\\0<cid>\\0<task_id>\\0<idx>      one pending write
    {P:T}:idx    ZSET  all scores 0, so members sort bytewise and ZRANGEBYLEX is a prefix query:
                       c\\0<ns>\\0<cid>                      checkpoints, newest = lexically last id
                       w\\0<ns>\\0<cid>\\0<task_id>\\0<idx>      writes of one checkpoint
                       r\\0<run_id>\\0<ns>\\0<cid>            checkpoints of one run

Channel values are stored once per (channel, version), like the Postgres saver does, so a
step that changes two channels of twenty rewrites two blobs; the checkpoint payload carries
only versions and is reassembled with the blobs on read.  Values are framed as netstrings
(``<len>:<bytes>``) so Lua can parse headers without knowing the serializer.  Namespaces,
checkpoint ids, channels, task ids and run ids must not contain NUL (the Postgres saver has
the same restriction, its text columns reject NUL).

Cross-thread state lives in two global keys, used only by ``list(None)``,
``delete_for_runs`` and thread cleanup::

    {P}:threads       ZSET  thread ids; the score is a write counter (see below)
    {P}:run:<run_id>  SET   thread ids that hold checkpoints of that run

Why hash tags
-------------
Everything a single operation touches on a thread carries the tag ``{P:T}``, so in Redis
Cluster the whole thread sits in one slot: the Lua scripts and MULTI/EXEC blocks that write it
are legal (no CROSSSLOT) and atomic.  Global keys live in other slots and are written with
separate commands in the same pipeline (one round trip, not atomic with the thread write).
The per-thread keys are the source of truth; the global index is an advisory directory.
``put`` registers the thread right after its data (same round trip), readers skip threads
whose keys are gone (expired or deleted), and ``list(None)`` drops such entries with a
compare-and-delete on the counter score, so a thread being written concurrently is never
dropped.  It can miss a thread only if the directory write itself fails after the thread
write, which ``put`` reports as an error.

Atomicity
---------
``put`` is one Lua script (checkpoint, header, blobs and index in one step), so a crash or a
lost connection never leaves a checkpoint without its blobs; the script checks key types
before its first write because Redis does not roll back a script that fails half-way.
``put_writes`` is one script as well.  Deletions that must also garbage-collect blobs run
as one script per thread; ``copy_thread`` writes the target in one MULTI/EXEC block.

TTL
---
With ``ttl`` set, every write to a thread (``put``, ``put_writes``, ``copy_thread`` into it)
resets EXPIRE on both of its keys, so a thread lives ``ttl`` seconds after its last write;
reads do not extend it.  Run sets get the same TTL.  Expired threads vanish whole because
both keys always carry the same expiry.

Costs
-----
``put``, ``put_writes`` and ``get_tuple`` are one round trip each.  ``list`` on one thread
is one round trip for the ids plus one per page of checkpoints; a metadata ``filter`` is
applied client-side after decoding and costs one more round trip per page.  ``list(None)``
and ``delete_for_runs`` touch every thread in the directory or in the run set, pipelined.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from redis.exceptions import NoScriptError, RedisError

__all__ = [
    "DEFAULT_REDIS_URL",
    "AsyncRedisSaver",
    "CheckpointerUnavailable",
    "RedisSaver",
    "async_redis_checkpointer",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_POOL_TIMEOUT = 20.0


def _pool_options(max_connections: int, pool_timeout: float) -> dict[str, Any]:
    """One bounded, blocking pool configuration for the sync and async savers."""
    return {
        "max_connections": max_connections,
        "timeout": pool_timeout,
        "socket_connect_timeout": 5,
    }


T = TypeVar("T")

# Commands per pipeline when fanning out over many threads or checkpoints: large enough to
# amortise round trips, small enough that one reply stays a few MB.
_FANOUT = 256
# Checkpoints fetched per page in ``list``.
_PAGE = 64
# Field/value arguments per HSET or ZADD; keeps single commands (and Lua's unpack) bounded.
_ARGS_PER_CMD = 1000
_EMPTY_BLOB = b"5:empty"


class CheckpointerUnavailable(RuntimeError):
    """Redis could not be reached when opening a checkpointer.

    Raised at start-up rather than on the first graph step, so a missing Redis is reported
    once, with the URL (password redacted) and what to do about it.
    """


# --------------------------------------------------------------------------------------
# Lua scripts.  Each one touches exactly the two keys of one thread, declared in KEYS,
# so it is valid in Redis Cluster.
# --------------------------------------------------------------------------------------

_LUA_COMMON = r"""
local function nstrings(s)
  local out, pos, n = {}, 1, #s
  while pos <= n do
    local colon = string.find(s, ':', pos, true)
    local len = tonumber(string.sub(s, pos, colon - 1))
    out[#out + 1] = string.sub(s, colon + 1, colon + len)
    pos = colon + len + 1
  end
  return out
end
local function chunked(cmd, key, items, step)
  for i = 1, #items, step do
    redis.call(cmd, key, unpack(items, i, math.min(i + step - 1, #items)))
  end
end
local function hmget(key, fields)
  local out = {}
  for i = 1, #fields, 500 do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + 499, #fields)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
local function prefixed(idx, p)
  return redis.call('ZRANGEBYLEX', idx, '[' .. p, '(' .. p .. '\255')
end
"""

# KEYS: idx, data.  ARGV: ttl, ns\0cid, run_id, payload, header, (blob field, blob value)*
_PUT_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local ti = redis.call('TYPE', idx)['ok']
local td = redis.call('TYPE', data)['ok']
if (ti ~= 'zset' and ti ~= 'none') or (td ~= 'hash' and td ~= 'none') then
  return redis.error_reply('WRONGTYPE checkpoint keys of this thread hold foreign data')
end
local m, run = ARGV[2], ARGV[3]
local old = redis.call('HGET', data, 'h\0' .. m)
if old then
  local prev = nstrings(old)[1]
  if prev ~= '' and prev ~= run then
    redis.call('ZREM', idx, 'r\0' .. prev .. '\0' .. m)
  end
end
local args = {'c\0' .. m, ARGV[4], 'h\0' .. m, ARGV[5]}
for i = 6, #ARGV do args[#args + 1] = ARGV[i] end
chunked('HSET', data, args, 1000)
if run ~= '' then
  redis.call('ZADD', idx, 0, 'c\0' .. m, 0, 'r\0' .. run .. '\0' .. m)
else
  redis.call('ZADD', idx, 0, 'c\0' .. m)
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', idx, ttl)
  redis.call('EXPIRE', data, ttl)
end
return 1
"""
)

# KEYS: idx, data.  ARGV: ttl, ('set' | 'nx', field, value)*
_PUT_WRITES_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local ti = redis.call('TYPE', idx)['ok']
local td = redis.call('TYPE', data)['ok']
if (ti ~= 'zset' and ti ~= 'none') or (td ~= 'hash' and td ~= 'none') then
  return redis.error_reply('WRONGTYPE checkpoint keys of this thread hold foreign data')
end
local members = {}
for i = 2, #ARGV, 3 do
  if ARGV[i] == 'set' then
    redis.call('HSET', data, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HSETNX', data, ARGV[i + 1], ARGV[i + 2])
  end
  members[#members + 1] = 0
  members[#members + 1] = ARGV[i + 1]
end
chunked('ZADD', idx, members, 1000)
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', idx, ttl)
  redis.call('EXPIRE', data, ttl)
end
return 1
"""
)

# KEYS: idx, data.  ARGV: ns, checkpoint_id* (none: the latest in ns).
# Returns a flat list of (cid, payload, header, {blob values}, {write values}) per hit.
_GET_LUA = (
    _LUA_COMMON
    + r"""
local idx, data, ns = KEYS[1], KEYS[2], ARGV[1]
local cids = {}
if #ARGV == 1 then
  local p = 'c\0' .. ns .. '\0'
  local top = redis.call('ZREVRANGEBYLEX', idx, '(' .. p .. '\255', '[' .. p, 'LIMIT', 0, 1)
  if #top == 0 then return {} end
  cids[1] = string.sub(top[1], #p + 1)
else
  for i = 2, #ARGV do cids[#cids + 1] = ARGV[i] end
end
local out = {}
for _, cid in ipairs(cids) do
  local m = ns .. '\0' .. cid
  local rec = redis.call('HMGET', data, 'c\0' .. m, 'h\0' .. m)
  if rec[1] and rec[2] then
    local parts = nstrings(rec[2])
    local fields = {}
    for j = 3, #parts, 2 do fields[#fields + 1] = parts[j] end
    out[#out + 1] = cid
    out[#out + 1] = rec[1]
    out[#out + 1] = rec[2]
    out[#out + 1] = hmget(data, fields)
    out[#out + 1] = hmget(data, prefixed(idx, 'w\0' .. m .. '\0'))
  end
end
return out
"""
)

# KEYS: idx, data.  ARGV: mode ('runs' | 'members'), then run ids or ns\0cid members.
# Deletes the checkpoints with their writes and run entries, then the blobs that no
# surviving checkpoint of the same namespace references.  Returns the run ids that no
# longer have any checkpoint in this thread.
_DELETE_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local targets, zdels, hdels = {}, {}, {}
local runs, doomed, touched = {}, {}, {}
if ARGV[1] == 'runs' then
  for i = 2, #ARGV do
    local p = 'r\0' .. ARGV[i] .. '\0'
    runs[ARGV[i]] = true
    for _, r in ipairs(prefixed(idx, p)) do
      targets[#targets + 1] = string.sub(r, #p + 1)
      zdels[#zdels + 1] = r
    end
  end
else
  for i = 2, #ARGV do targets[#targets + 1] = ARGV[i] end
end
for _, m in ipairs(targets) do
  local header = redis.call('HGET', data, 'h\0' .. m)
  if header then
    local parts = nstrings(header)
    if parts[1] ~= '' then
      runs[parts[1]] = true
      zdels[#zdels + 1] = 'r\0' .. parts[1] .. '\0' .. m
    end
    for j = 3, #parts, 2 do doomed[parts[j]] = true end
  end
  hdels[#hdels + 1] = 'c\0' .. m
  hdels[#hdels + 1] = 'h\0' .. m
  zdels[#zdels + 1] = 'c\0' .. m
  for _, w in ipairs(prefixed(idx, 'w\0' .. m .. '\0')) do
    hdels[#hdels + 1] = w
    zdels[#zdels + 1] = w
  end
  touched[string.sub(m, 1, string.find(m, '\0', 1, true) - 1)] = true
end
chunked('HDEL', data, hdels, 500)
chunked('ZREM', idx, zdels, 500)
for ns, _ in pairs(touched) do
  for _, c in ipairs(prefixed(idx, 'c\0' .. ns .. '\0')) do
    local header = redis.call('HGET', data, 'h\0' .. string.sub(c, 3))
    if header then
      local parts = nstrings(header)
      for j = 3, #parts, 2 do doomed[parts[j]] = nil end
    end
  end
end
local blobs = {}
for f, _ in pairs(doomed) do blobs[#blobs + 1] = f end
chunked('HDEL', data, blobs, 500)
local gone = {}
for run, _ in pairs(runs) do
  local p = 'r\0' .. run .. '\0'
  if #redis.call('ZRANGEBYLEX', idx, '[' .. p, '(' .. p .. '\255', 'LIMIT', 0, 1) == 0 then
    gone[#gone + 1] = run
  end
end
return gone
"""
)

# KEYS: threads directory.  ARGV: (thread_id, observed score)*.  Removes an entry only if
# no write bumped its score since it was observed empty, so a thread that is being created
# right now is never dropped.
_FORGET_LUA = r"""
local n = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
"""


@dataclass(frozen=True, slots=True)
class _Script:
    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> _Script:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


_PUT = _Script.of(_PUT_LUA)
_PUT_WRITES = _Script.of(_PUT_WRITES_LUA)
_GET = _Script.of(_GET_LUA)
_DELETE = _Script.of(_DELETE_LUA)
_FORGET = _Script.of(_FORGET_LUA)
_SCRIPTS = (_PUT, _PUT_WRITES, _GET, _DELETE, _FORGET)


# --------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------


def _netstrings(*parts: bytes) -> bytes:
    return b"".join(b"%d:%s" % (len(p), p) for p in parts)


def _read_netstrings(buf: bytes, count: int | None = None) -> tuple[list[bytes], int]:
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


def _enc(value: Any, what: str) -> bytes:
    raw = str(value).encode()
    if b"\0" in raw:
        raise ValueError(f"{what} must not contain NUL bytes: {value!r}")
    return raw


def _version_bytes(version: str | int | float) -> bytes:
    return str(version).encode()


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    """Normalise ZRANGE ... WITHSCORES across RESP2 (flat) and RESP3 (pairs)."""
    if not reply:
        return []
    if isinstance(reply[0], list | tuple):
        return [(m, s) for m, s in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))


def _redact(url: str) -> str:
    """Hide the password of a Redis URL so it can go into logs and error messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "<unparseable Redis URL>"
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def _unavailable(url: str, exc: BaseException) -> CheckpointerUnavailable:
    reason = str(exc) or type(exc).__name__
    return CheckpointerUnavailable(
        f"Cannot reach Redis at {_redact(url)}: {reason}. Start Redis or set LMSA_REDIS_URL."
    )


def _reject_decoded_client(client: Any) -> None:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    if kwargs.get("decode_responses"):
        raise ValueError(
            "The checkpointer stores binary data; create the Redis client with "
            "decode_responses=False."
        )


@dataclass(slots=True)
class _Batch:
    """Commands the I/O driver sends in one round trip (pipelined, or MULTI/EXEC)."""

    cmds: list[tuple[Any, ...]]
    transaction: bool = False


@dataclass(slots=True)
class _Emit:
    """A result that a listing plan hands to its caller before asking for more I/O."""

    item: CheckpointTuple


# A plan is the whole algorithm of one operation written once, without I/O: it yields
# batches, receives their replies and finally returns a value.  The sync and async savers
# only differ in the driver that executes the batches.
_Plan = Generator[_Batch, list[Any], T]
_ListPlan = Generator[_Batch | _Emit, list[Any], None]


def _evalsha(script: _Script, keys: tuple[str, str], *args: Any) -> tuple[Any, ...]:
    return ("EVALSHA", script.sha, len(keys), *keys, *args)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _RedisSaverBase(BaseCheckpointSaver[str]):
    """Storage format and algorithms shared by the sync and async savers."""

    def __init__(
        self,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if not key_prefix or any(ch in key_prefix for ch in "{}\0"):
            raise ValueError(
                f"key_prefix must be non-empty without '{{', '}}' or NUL: {key_prefix!r}"
            )
        self.ttl = ttl
        self.key_prefix = key_prefix
        self._threads_key = f"{{{key_prefix}}}:threads"

    # -- keys -----------------------------------------------------------------------------

    def _thread_keys(self, thread_id: str) -> tuple[str, str]:
        tag = f"{{{self.key_prefix}:{thread_id}}}"
        return f"{tag}:idx", f"{tag}:data"

    def _run_key(self, run_id: str) -> str:
        return f"{{{self.key_prefix}}}:run:{run_id}"

    @property
    def _ttl_arg(self) -> int:
        return self.ttl or 0

    # -- decoding -------------------------------------------------------------------------

    def _loads(self, type_: bytes, raw: bytes) -> Any:
        return self.serde.loads_typed((type_.decode(), raw))

    def _decode_metadata(self, payload: bytes) -> CheckpointMetadata:
        (_, _, _, md_type, md_raw), _ = _read_netstrings(payload, 5)
        metadata: CheckpointMetadata = self._loads(md_type, md_raw)
        return metadata

    def _decode_rows(self, thread_id: str, ns: str, reply: list[Any]) -> list[CheckpointTuple]:
        rows: list[CheckpointTuple] = []
        for i in range(0, len(reply), 5):
            cid_b, payload, header, blobs, writes = reply[i : i + 5]
            rows.append(self._decode_row(thread_id, ns, cid_b, payload, header, blobs, writes))
        return rows

    def _decode_row(
        self,
        thread_id: str,
        ns: str,
        cid_b: bytes,
        payload: bytes,
        header: bytes,
        blobs: list[bytes | None],
        writes: list[bytes | None],
    ) -> CheckpointTuple:
        (parent_b, cp_type, cp_raw, md_type, md_raw), _ = _read_netstrings(payload, 5)
        checkpoint: Checkpoint = self._loads(cp_type, cp_raw)
        head, _ = _read_netstrings(header)
        values: dict[str, Any] = {}
        for channel, blob in zip(head[1::2], blobs, strict=True):
            if blob is None or blob == _EMPTY_BLOB:
                continue
            (blob_type,), offset = _read_netstrings(blob, 1)
            values[channel.decode()] = self._loads(blob_type, blob[offset:])
        checkpoint["channel_values"] = values

        decoded: list[tuple[tuple[str, str, int], tuple[str, str, Any]]] = []
        for write in writes:
            if write is None:
                continue
            (task_b, idx_b, channel_b, path_b, w_type), offset = _read_netstrings(write, 5)
            task_id = task_b.decode()
            value = self._loads(w_type, write[offset:])
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
            metadata=self._loads(md_type, md_raw),
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

    # -- plans ----------------------------------------------------------------------------

    def _get_plan(self, config: RunnableConfig) -> _Plan[CheckpointTuple | None]:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns") or ""
        args = [_enc(ns, "checkpoint_ns")]
        if checkpoint_id := get_checkpoint_id(config):
            args.append(_enc(checkpoint_id, "checkpoint_id"))
        (reply,) = yield _Batch([_evalsha(_GET, self._thread_keys(thread_id), *args)])
        rows = self._decode_rows(thread_id, ns, reply)
        return rows[0] if rows else None

    def _put_plan(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> _Plan[RunnableConfig]:
        conf = config["configurable"]
        thread_id = conf["thread_id"]
        ns: str = conf.get("checkpoint_ns") or ""
        ns_b = _enc(ns, "checkpoint_ns")
        cid_b = _enc(checkpoint["id"], "checkpoint_id")
        parent_b = str(conf.get("checkpoint_id") or "").encode()

        stripped = checkpoint.copy()
        values: dict[str, Any] = stripped.pop("channel_values")  # type: ignore[misc]
        md = get_checkpoint_metadata(config, metadata)
        run_id = md.get("run_id")
        run_b = _enc(run_id, "run_id") if run_id else b""

        cp_type, cp_raw = self.serde.dumps_typed(stripped)
        md_type, md_raw = self.serde.dumps_typed(md)
        payload = _netstrings(parent_b, cp_type.encode(), cp_raw, md_type.encode(), md_raw)

        blob_prefix = b"b\0" + ns_b + b"\0"
        head = [run_b]
        for channel, version in stripped["channel_versions"].items():
            ch_b = _enc(channel, "channel")
            head += (ch_b, blob_prefix + ch_b + b"\0" + _version_bytes(version))
        blob_args: list[bytes] = []
        for channel, version in new_versions.items():
            ch_b = _enc(channel, "channel")
            blob_args.append(blob_prefix + ch_b + b"\0" + _version_bytes(version))
            if channel in values:
                blob_type, blob_raw = self.serde.dumps_typed(values[channel])
                blob_args.append(_netstrings(blob_type.encode()) + blob_raw)
            else:
                blob_args.append(_EMPTY_BLOB)

        tid = str(thread_id)
        cmds: list[tuple[Any, ...]] = [
            _evalsha(
                _PUT,
                self._thread_keys(tid),
                self._ttl_arg,
                ns_b + b"\0" + cid_b,
                run_b,
                payload,
                _netstrings(*head),
                *blob_args,
            ),
            # Bumped only after the data landed: a list(None) cleanup that saw this thread
            # empty then finds a changed counter and leaves the directory entry alone.
            ("ZINCRBY", self._threads_key, 1, tid),
        ]
        if run_b:
            run_key = self._run_key(run_b.decode())
            cmds.append(("SADD", run_key, tid))
            if self.ttl:
                cmds.append(("EXPIRE", run_key, self.ttl))
        yield _Batch(cmds)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _put_writes_plan(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> _Plan[None]:
        if not writes:
            return
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        m = (
            _enc((conf.get("checkpoint_ns") or ""), "checkpoint_ns")
            + b"\0"
            + _enc(conf["checkpoint_id"], "checkpoint_id")
        )
        task_b = _enc(task_id, "task_id")
        path_b = task_path.encode()
        args: list[Any] = [self._ttl_arg]
        for pos, (channel, value) in enumerate(writes):
            # Special channels (errors, interrupts, ...) use fixed negative slots and replace
            # what was there; regular writes are first-writer-wins, like InMemorySaver.
            write_idx = WRITES_IDX_MAP.get(channel, pos)
            idx_b = str(write_idx).encode()
            w_type, w_raw = self.serde.dumps_typed(value)
            framed = _netstrings(task_b, idx_b, _enc(channel, "channel"), path_b, w_type.encode())
            args += (
                b"set" if write_idx < 0 else b"nx",
                b"w\0" + m + b"\0" + task_b + b"\0" + idx_b,
                framed + w_raw,
            )
        yield _Batch([_evalsha(_PUT_WRITES, self._thread_keys(thread_id), *args)])

    def _list_plan(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> _ListPlan:
        if limit is not None and limit <= 0:
            return
        before_id = get_checkpoint_id(before) if before else None
        before_b = _enc(before_id, "checkpoint_id") if before_id else None

        exact_b: bytes | None = None
        ns_b: bytes | None = None
        observed: dict[str, Any] = {}
        if config is None:
            (reply,) = yield _Batch([("ZRANGE", self._threads_key, 0, -1, "WITHSCORES")])
            for member, score in _pairs(reply):
                observed[member.decode()] = score
            thread_ids = list(observed)
        else:
            conf = config["configurable"]
            thread_ids = [str(conf["thread_id"])]
            if (ns := conf.get("checkpoint_ns")) is not None:
                ns_b = _enc(ns, "checkpoint_ns")
            if exact := get_checkpoint_id(config):
                exact_b = _enc(exact, "checkpoint_id")

        # 1. Discover candidate checkpoint ids, then order them newest first across
        #    namespaces and threads (ids are time-ordered uuid6 strings).
        discover: list[tuple[Any, ...]] = []
        for tid in thread_ids:
            idx, _ = self._thread_keys(tid)
            if ns_b is None:
                discover.append(("ZRANGEBYLEX", idx, b"[c\0", b"(c\0\xff"))
                continue
            prefix = b"c\0" + ns_b + b"\0"
            upper = b"(" + prefix + (before_b if before_b is not None else b"\xff")
            cmd: tuple[Any, ...] = ("ZREVRANGEBYLEX", idx, upper, b"[" + prefix)
            if limit is not None and not filter and exact_b is None:
                cmd += ("LIMIT", 0, limit)
            discover.append(cmd)
        found: list[Any] = []
        for chunk in _chunks(discover, _FANOUT):
            found += yield _Batch(list(chunk))

        candidates: list[tuple[bytes, str, bytes]] = []
        empty: list[str] = []
        for tid, members in zip(thread_ids, found, strict=True):
            if not members:
                empty.append(tid)
            for member in members:
                m_ns, _, m_cid = member[2:].partition(b"\0")
                if before_b is not None and m_cid >= before_b:
                    continue
                if exact_b is not None and m_cid != exact_b:
                    continue
                candidates.append((m_cid, tid, m_ns))
        candidates.sort(key=lambda c: c[0], reverse=True)

        if config is None and empty:
            # Threads whose keys expired or were deleted out-of-band: drop them from the
            # directory unless they were written since we read it.
            forget = [arg for tid in empty for arg in (tid, observed[tid])]
            for args_chunk in _chunks(forget, 2 * _FANOUT):
                yield _Batch([("EVALSHA", _FORGET.sha, 1, self._threads_key, *args_chunk)])

        # 2. Load full tuples page by page, filtering metadata client-side.
        remaining = limit
        page_size = _PAGE if filter or limit is None else min(_PAGE, limit)
        for page in _chunks(candidates, page_size):
            if filter:
                page = yield from self._filter_page(page, filter)
            groups: dict[tuple[str, bytes], list[bytes]] = {}
            for cid_b, tid, m_ns in page:
                groups.setdefault((tid, m_ns), []).append(cid_b)
            keys = list(groups)
            replies = yield _Batch(
                [
                    _evalsha(_GET, self._thread_keys(tid), m_ns, *groups[(tid, m_ns)])
                    for tid, m_ns in keys
                ]
            )
            rows: dict[tuple[str, str, str], CheckpointTuple] = {}
            for (tid, m_ns), reply in zip(keys, replies, strict=True):
                for row in self._decode_rows(tid, m_ns.decode(), reply):
                    conf = row.config["configurable"]
                    rows[(tid, conf["checkpoint_ns"], conf["checkpoint_id"])] = row
            for cid_b, tid, m_ns in page:
                hit = rows.get((tid, m_ns.decode(), cid_b.decode()))
                if hit is None:  # deleted since discovery
                    continue
                yield _Emit(hit)
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return

    def _filter_page(
        self, page: Sequence[tuple[bytes, str, bytes]], filter: dict[str, Any]
    ) -> Generator[_Batch, list[Any], list[tuple[bytes, str, bytes]]]:
        replies = yield _Batch(
            [
                ("HGET", self._thread_keys(tid)[1], b"c\0" + m_ns + b"\0" + cid)
                for cid, tid, m_ns in page
            ]
        )
        kept: list[tuple[bytes, str, bytes]] = []
        for cand, payload in zip(page, replies, strict=True):
            if payload is None:
                continue
            md = self._decode_metadata(payload)
            if all(md.get(k) == v for k, v in filter.items()):  # type: ignore[misc]
                kept.append(cand)
        return kept

    def _delete_threads_plan(self, thread_ids: Iterable[str]) -> _Plan[None]:
        threads = list(dict.fromkeys(str(t) for t in thread_ids))
        runs_of: list[Any] = []
        for chunk in _chunks(threads, _FANOUT):
            runs_of += yield _Batch(
                [("ZRANGEBYLEX", self._thread_keys(t)[0], b"[r\0", b"(r\0\xff") for t in chunk]
            )
        cmds: list[tuple[Any, ...]] = []
        for tid, members in zip(threads, runs_of, strict=True):
            cmds.append(("DEL", *self._thread_keys(tid)))
            cmds.append(("ZREM", self._threads_key, tid))
            for run in {member.split(b"\0", 2)[1] for member in members}:
                cmds.append(("SREM", self._run_key(run.decode()), tid))
        for cmd_chunk in _chunks(cmds, _FANOUT):
            yield _Batch(list(cmd_chunk))

    def _delete_for_runs_plan(self, run_ids: Sequence[str]) -> _Plan[None]:
        runs = [str(r) for r in dict.fromkeys(run_ids)]
        if not runs:
            return
        run_args = [_enc(r, "run_id") for r in runs]
        members = yield _Batch([("SMEMBERS", self._run_key(r)) for r in runs])
        threads = sorted({t.decode() for group in members for t in group})
        for chunk in _chunks(threads, _FANOUT):
            yield _Batch(
                [_evalsha(_DELETE, self._thread_keys(t), b"runs", *run_args) for t in chunk]
            )
        yield _Batch([("DEL", self._run_key(r)) for r in runs])

    def _copy_thread_plan(self, source: str, target: str) -> _Plan[None]:
        src_idx, src_data = self._thread_keys(str(source))
        dst_idx, dst_data = self._thread_keys(str(target))
        fields, members = yield _Batch([("HGETALL", src_data), ("ZRANGE", src_idx, 0, -1)])
        if not members:
            return
        flat = [part for pair in dict(fields).items() for part in pair]
        cmds: list[tuple[Any, ...]] = [
            ("HSET", dst_data, *chunk) for chunk in _chunks(flat, _ARGS_PER_CMD)
        ]
        scored = [part for member in members for part in (0, member)]
        cmds += [("ZADD", dst_idx, *chunk) for chunk in _chunks(scored, _ARGS_PER_CMD)]
        if self.ttl:
            cmds += [("EXPIRE", dst_idx, self.ttl), ("EXPIRE", dst_data, self.ttl)]
        # Field names never contain the thread id, so the copy is byte-for-byte.
        yield _Batch(cmds, transaction=True)

        tid = str(target)
        register: list[tuple[Any, ...]] = [("ZINCRBY", self._threads_key, 1, tid)]
        for run in {m.split(b"\0", 2)[1] for m in members if m.startswith(b"r\0")}:
            run_key = self._run_key(run.decode())
            register.append(("SADD", run_key, tid))
            if self.ttl:
                register.append(("EXPIRE", run_key, self.ttl))
        yield _Batch(register)

    def _prune_plan(self, thread_ids: Sequence[str], strategy: str) -> _Plan[None]:
        if strategy == "delete":
            yield from self._delete_threads_plan(thread_ids)
            return
        if strategy != "keep_latest":
            raise ValueError(f"Unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")
        threads = list(dict.fromkeys(str(t) for t in thread_ids))
        listed: list[Any] = []
        for chunk in _chunks(threads, _FANOUT):
            listed += yield _Batch(
                [("ZRANGEBYLEX", self._thread_keys(t)[0], b"[c\0", b"(c\0\xff") for t in chunk]
            )
        groups: list[tuple[str, bytes, list[bytes]]] = []
        for tid, members in zip(threads, listed, strict=True):
            by_ns: dict[bytes, list[bytes]] = {}
            for member in members:
                m_ns, _, m_cid = member[2:].partition(b"\0")
                by_ns.setdefault(m_ns, []).append(m_cid)
            groups += [(tid, m_ns, cids) for m_ns, cids in by_ns.items() if len(cids) > 1]

        latest_payloads: list[Any] = []
        for group_chunk in _chunks(groups, _FANOUT):
            latest_payloads += yield _Batch(
                [
                    ("HGET", self._thread_keys(tid)[1], b"c\0" + m_ns + b"\0" + max(cids))
                    for tid, m_ns, cids in group_chunk
                ]
            )
        doomed: dict[str, list[bytes]] = {}
        for (tid, m_ns, cids), payload in zip(groups, latest_payloads, strict=True):
            keep = {max(cids)}
            if payload is not None:
                md = self._decode_metadata(payload)
                if delta_channels := md.get("counters_since_delta_snapshot"):
                    keep = yield from self._delta_keep(tid, m_ns, cids, delta_channels)
            doomed.setdefault(tid, []).extend(m_ns + b"\0" + c for c in cids if c not in keep)

        todo = [(tid, members) for tid, members in doomed.items() if members]
        untrack: list[tuple[Any, ...]] = []
        for todo_chunk in _chunks(todo, _FANOUT):
            replies = yield _Batch(
                [_evalsha(_DELETE, self._thread_keys(t), b"members", *ms) for t, ms in todo_chunk]
            )
            for (tid, _), gone_runs in zip(todo_chunk, replies, strict=True):
                untrack += [("SREM", self._run_key(r.decode()), tid) for r in gone_runs]
        for cmd_chunk in _chunks(untrack, _FANOUT):
            yield _Batch(list(cmd_chunk))

    def _delta_keep(
        self, thread_id: str, ns_b: bytes, cids: list[bytes], delta_channels: Iterable[str]
    ) -> Generator[_Batch, list[Any], set[bytes]]:
        """Checkpoints that ``keep_latest`` must keep in a namespace that uses DeltaChannel.

        A delta channel stores only a sentinel at most steps and is rebuilt by replaying
        ancestors' writes back to the nearest stored value, so the latest checkpoint alone
        would silently reconstruct those channels as empty.  Keep the parent chain back to
        the nearest ancestor holding a stored value for every delta channel (or to the root).
        """
        _, data = self._thread_keys(thread_id)
        m = ns_b + b"\0"
        fields = [f for c in cids for f in (b"c\0" + m + c, b"h\0" + m + c)]
        (replies,) = yield _Batch([("HMGET", data, *fields)])
        records = {c: (replies[2 * i], replies[2 * i + 1]) for i, c in enumerate(cids)}

        chain: list[tuple[bytes, dict[bytes, bytes]]] = []
        seen: set[bytes] = set()
        cursor: bytes | None = max(cids)
        while cursor is not None and cursor in records and cursor not in seen:
            payload, header = records[cursor]
            if payload is None or header is None:
                break
            seen.add(cursor)
            head, _ = _read_netstrings(header)
            chain.append((cursor, dict(zip(head[1::2], head[2::2], strict=True))))
            cursor = _read_netstrings(payload, 1)[0][0] or None

        pending = {str(ch).encode() for ch in delta_channels}
        lookups = [(c, ch, f[ch]) for c, f in chain for ch in pending if ch in f]
        blobs: list[Any] = []
        if lookups:
            (blobs,) = yield _Batch([("HMGET", data, *[field for _, _, field in lookups])])
        seeded = {
            (c, ch)
            for (c, ch, _), blob in zip(lookups, blobs, strict=True)
            if blob is not None and blob != _EMPTY_BLOB
        }
        keep: set[bytes] = {max(cids)}
        for c, _ in chain:
            keep.add(c)
            pending = {ch for ch in pending if (c, ch) not in seeded}
            if not pending:
                break
        return keep

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Zero-padded counter plus a random fraction, as InMemorySaver does.

        The padding makes versions sort as strings; the fraction keeps two writers that
        branch from the same version from producing the same blob key.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"


class RedisSaver(_RedisSaverBase):
    """Checkpointer on a synchronous ``redis.Redis`` client (``decode_responses=False``).

    The async methods run the sync ones in a worker thread, so this class also works in
    async code, but ``AsyncRedisSaver`` avoids the thread hop.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(ttl=ttl, key_prefix=key_prefix, serde=serde)
        _reject_decoded_client(client)
        self.client = client

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        url: str,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> Iterator[RedisSaver]:
        """Open a client for ``url``, fail fast if Redis is down, close it on exit.

        The pool is bounded and *blocking*: a burst of concurrent turns waits up to
        ``pool_timeout`` for a free connection. redis-py's default pool raises
        ``MaxConnectionsError`` at once when its 100 connections are taken, which under load
        turned busy moments into failed turns."""
        try:
            client = redis.Redis.from_pool(  # the client owns (and closes) the pool
                redis.BlockingConnectionPool.from_url(
                    url, **_pool_options(max_connections, pool_timeout)
                )
            )
        except ValueError as exc:
            raise _unavailable(url, exc) from exc
        try:
            try:
                client.ping()
            except (RedisError, OSError) as exc:
                raise _unavailable(url, exc) from exc
            yield cls(client, ttl=ttl, key_prefix=key_prefix, serde=serde)
        finally:
            client.close()

    # -- driver ---------------------------------------------------------------------------

    def _load_scripts(self) -> None:
        for script in _SCRIPTS:
            self.client.script_load(script.source)

    def _execute(self, batch: _Batch) -> list[Any]:
        for attempt in (1, 2):
            if len(batch.cmds) == 1 and not batch.transaction:
                try:
                    return [self.client.execute_command(*batch.cmds[0])]
                except NoScriptError:
                    if attempt == 2:
                        raise
                    self._load_scripts()
                    continue
            pipe = self.client.pipeline(transaction=batch.transaction)
            for cmd in batch.cmds:
                pipe.execute_command(*cmd)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                self._load_scripts()  # Redis restarted or flushed its script cache
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return results
        raise AssertionError("unreachable")

    def _run(self, plan: _Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(self._execute(batch))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- sync API -------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run(self._get_plan(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        plan = self._list_plan(config, filter=filter, before=before, limit=limit)
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Emit):
                    yield step.item
                    step = plan.send([])
                else:
                    step = plan.send(self._execute(step))
        except StopIteration:
            return

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run(self._put_plan(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self._put_writes_plan(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._delete_threads_plan([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(self._delete_for_runs_plan(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self._copy_thread_plan(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(self._prune_plan(thread_ids, strategy))

    # -- async API (worker thread) ----------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = self.list(config, filter=filter, before=before, limit=limit)
        while (item := await asyncio.to_thread(next, items, None)) is not None:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)


class AsyncRedisSaver(_RedisSaverBase):
    """Checkpointer on a ``redis.asyncio.Redis`` client (``decode_responses=False``).

    The sync methods exist for code that calls a checkpointer from another thread (e.g. a
    sync graph run in an executor); they hop onto the event loop the saver was created on,
    and refuse to run on that loop's own thread, where waiting would deadlock.
    """

    def __init__(
        self,
        client: aredis.Redis,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(ttl=ttl, key_prefix=key_prefix, serde=serde)
        _reject_decoded_client(client)
        self.client = client
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        url: str,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> AsyncIterator[AsyncRedisSaver]:
        """Open a client for ``url``, fail fast if Redis is down, close it on exit (the pool
        is bounded and blocking, see :meth:`RedisSaver.from_conn_string`)."""
        try:
            client = aredis.Redis.from_pool(  # the client owns (and closes) the pool
                aredis.BlockingConnectionPool.from_url(
                    url, **_pool_options(max_connections, pool_timeout)
                )
            )
        except ValueError as exc:
            raise _unavailable(url, exc) from exc
        try:
            try:
                await client.ping()
            except (RedisError, OSError) as exc:
                raise _unavailable(url, exc) from exc
            yield cls(client, ttl=ttl, key_prefix=key_prefix, serde=serde)
        finally:
            await client.aclose()

    # -- driver ---------------------------------------------------------------------------

    async def _load_scripts(self) -> None:
        for script in _SCRIPTS:
            await self.client.script_load(script.source)

    async def _execute(self, batch: _Batch) -> list[Any]:
        for attempt in (1, 2):
            if len(batch.cmds) == 1 and not batch.transaction:
                try:
                    return [await self.client.execute_command(*batch.cmds[0])]
                except NoScriptError:
                    if attempt == 2:
                        raise
                    await self._load_scripts()
                    continue
            pipe = self.client.pipeline(transaction=batch.transaction)
            for cmd in batch.cmds:
                pipe.execute_command(*cmd)
            results = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                await self._load_scripts()  # Redis restarted or flushed its script cache
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return results
        raise AssertionError("unreachable")

    async def _run(self, plan: _Plan[T]) -> T:
        try:
            batch = next(plan)
            while True:
                batch = plan.send(await self._execute(batch))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- async API ------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._run(self._get_plan(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        plan = self._list_plan(config, filter=filter, before=before, limit=limit)
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Emit):
                    yield step.item
                    step = plan.send([])
                else:
                    step = plan.send(await self._execute(step))
        except StopIteration:
            return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._run(self._put_plan(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._run(self._put_writes_plan(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._run(self._delete_threads_plan([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._run(self._delete_for_runs_plan(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._run(self._copy_thread_plan(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._run(self._prune_plan(thread_ids, strategy))

    # -- sync API (bridged onto the saver's loop) -------------------------------------------

    def _bridge(self, make: Callable[[], Any]) -> Any:
        loop = self.loop
        if loop is None:
            raise asyncio.InvalidStateError(
                "AsyncRedisSaver was created outside an event loop, so its sync methods have "
                "no loop to run on; use the async methods (aget_tuple, aput, ...)."
            )
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncRedisSaver are only allowed from a different "
                "thread. From the event loop, use the async interface, e.g. "
                "`await checkpointer.aget_tuple(...)` or `await graph.ainvoke(...)`."
            )
        return asyncio.run_coroutine_threadsafe(make(), loop).result()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = self._bridge(lambda: self.aget_tuple(config))
        return result

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        items = self.alist(config, filter=filter, before=before, limit=limit)

        async def step() -> CheckpointTuple | None:
            return await anext(items, None)

        while (item := self._bridge(step)) is not None:
            yield item

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = self._bridge(
            lambda: self.aput(config, checkpoint, metadata, new_versions)
        )
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._bridge(lambda: self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._bridge(lambda: self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._bridge(lambda: self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._bridge(lambda: self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._bridge(lambda: self.aprune(thread_ids, strategy=strategy))


def _env_ttl() -> int | None:
    raw = os.environ.get("LMSA_REDIS_TTL", "").strip()
    if not raw:
        return None
    try:
        ttl = int(raw)
    except ValueError:
        raise ValueError(f"LMSA_REDIS_TTL must be a whole number of seconds, got {raw!r}") from None
    if ttl <= 0:
        raise ValueError(f"LMSA_REDIS_TTL must be positive, got {raw!r}")
    return ttl


@asynccontextmanager
async def async_redis_checkpointer() -> AsyncIterator[AsyncRedisSaver]:
    """The checkpointer for ``langgraph.json`` (``checkpointer.path``), configured from env.

    ``LMSA_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), ``LMSA_REDIS_TTL`` (seconds,
    unset = keep forever), ``LMSA_REDIS_KEY_PREFIX`` (default ``lmsa``) and
    ``LMSA_REDIS_MAX_CONNECTIONS`` (default 64).
    """
    url = os.environ.get("LMSA_REDIS_URL") or DEFAULT_REDIS_URL
    prefix = os.environ.get("LMSA_REDIS_KEY_PREFIX") or "lmsa"
    connections = int(os.environ.get("LMSA_REDIS_MAX_CONNECTIONS") or DEFAULT_MAX_CONNECTIONS)
    async with AsyncRedisSaver.from_conn_string(
        url, ttl=_env_ttl(), key_prefix=prefix, max_connections=connections
    ) as saver:
        yield saver
