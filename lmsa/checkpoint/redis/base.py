"""The storage algorithms both Redis savers share, written once as I/O-free plans.

Every operation is a :data:`~lmsa.checkpoint.redis.plan.Plan`; the sync and async savers
drive the same plans (see :mod:`lmsa.checkpoint.redis` for the key layout and guarantees).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterable, Sequence
from typing import Any

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
)

from lmsa.checkpoint.redis.encoding import (
    EMPTY_BLOB,
    GET_ROW,
    decode_metadata,
    decode_rows,
    enc,
    header_entries,
    loads,
    netstrings,
    pack,
    pairs,
    read_netstrings,
    version_bytes,
)
from lmsa.checkpoint.redis.lists import (
    MIN_LIST,
    EncodedList,
    ListCaches,
    commit,
    decode_list,
    element_fields,
    encode_list,
)
from lmsa.checkpoint.redis.plan import Batch, Emit, ListPlan, Plan, chunks
from lmsa.checkpoint.redis.scripts import DELETE, FORGET, GET, PUT, PUT_WRITES, TRIM, evalsha

# Commands per pipeline when fanning out over many threads or checkpoints: large enough to
# amortise round trips, small enough that one reply stays a few MB.
_FANOUT = 256
# Checkpoints fetched per page in ``list``.
_PAGE = 64
# Field/value arguments per HSET or ZADD; keeps single commands (and Lua's unpack) bounded.
_ARGS_PER_CMD = 1000
# A channel that new_versions names but channel_values does not carry.
_ABSENT = object()
# Blobs up to this size are compared with the channel's recent ones and shared when equal.
_SHARE_MAX = 4096
# Checkpoint sources that retention always keeps, besides turn ends: a person's edit or fork.
_KEPT_SOURCES = ("update", "fork")


class RedisSaverBase(BaseCheckpointSaver[str]):
    """Storage format and algorithms shared by the sync and async savers."""

    def __init__(
        self,
        *,
        ttl: int | None = None,
        key_prefix: str = "lmsa",
        serde: SerializerProtocol | None = None,
        keep_intermediate: int | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if keep_intermediate is not None and keep_intermediate < 0:
            raise ValueError(f"keep_intermediate must be >= 0, got {keep_intermediate!r}")
        if not key_prefix or any(ch in key_prefix for ch in "{}\0"):
            raise ValueError(
                f"key_prefix must be non-empty without '{{', '}}' or NUL: {key_prefix!r}"
            )
        self.ttl = ttl
        self.key_prefix = key_prefix
        self.keep_intermediate = keep_intermediate
        self._threads_key = f"{{{key_prefix}}}:threads"
        self._lists = ListCaches()

    # -- keys -----------------------------------------------------------------------------

    def _thread_keys(self, thread_id: str) -> tuple[str, str]:
        tag = f"{{{self.key_prefix}:{thread_id}}}"
        return f"{tag}:idx", f"{tag}:data"

    def _run_key(self, run_id: str) -> str:
        return f"{{{self.key_prefix}}}:run:{run_id}"

    @property
    def _ttl_arg(self) -> int:
        return self.ttl or 0

    # -- plans ----------------------------------------------------------------------------

    def _get_plan(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns") or ""
        args = [enc(ns, "checkpoint_ns")]
        if checkpoint_id := get_checkpoint_id(config):
            args.append(enc(checkpoint_id, "checkpoint_id"))
        (reply,) = yield Batch([evalsha(GET, self._thread_keys(thread_id), *args)])
        rows = yield from self._decode(thread_id, ns, reply, latest=True)
        return rows[0] if rows else None

    def _decode(
        self, thread_id: str, ns: str, reply: list[Any], *, latest: bool
    ) -> Generator[Batch, list[Any], list[CheckpointTuple]]:
        """The tuples of a GET reply, fetching the list elements this process has not seen."""
        cache = self._lists.get(thread_id, ns.encode())
        missing: dict[bytes, None] = {}
        for i in range(0, len(reply), GET_ROW):
            for leaf in reply[i + 5]:
                for element in element_fields(leaf):
                    if element not in cache.items:
                        missing[element] = None
        if missing:
            fields = list(missing)
            _, data = self._thread_keys(thread_id)
            found: list[Any] = []
            for part in (yield Batch([("HMGET", data, *c) for c in chunks(fields, 1000)])):
                found += part
            for element, raw in zip(fields, found, strict=True):
                if raw is None:
                    raise LookupError(f"checkpoint list element {element!r} is missing")
                (type_,), offset = read_netstrings(raw, 1)
                cache.remember(loads(self.serde, type_, raw[offset:]), element)

        if latest and reply:
            entries = header_entries(reply[2], ns.encode())
            for (channel, field, _), blob in zip(entries, reply[3], strict=True):
                if blob is not None and len(blob) <= _SHARE_MAX:
                    cache.stored(channel, blob, field)

        def resolve(channel: bytes, blob: bytes, leaves: list[bytes | None]) -> list[Any]:
            return decode_list(cache, channel, blob, leaves, cache.items.__getitem__, latest=latest)

        return decode_rows(self.serde, thread_id, ns, reply, resolve)

    def _put_plan(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan[RunnableConfig]:
        conf = config["configurable"]
        thread_id = conf["thread_id"]
        tid = str(thread_id)
        ns: str = conf.get("checkpoint_ns") or ""
        ns_b = enc(ns, "checkpoint_ns")
        cid_b = enc(checkpoint["id"], "checkpoint_id")
        parent_b = str(conf.get("checkpoint_id") or "").encode()

        stripped = checkpoint.copy()
        values: dict[str, Any] = stripped.pop("channel_values")  # type: ignore[misc]
        md = get_checkpoint_metadata(config, metadata)
        run_id = md.get("run_id")
        run_b = enc(run_id, "run_id") if run_id else b""

        cp_type, cp_raw = pack(*self.serde.dumps_typed(stripped))
        md_type, md_raw = pack(*self.serde.dumps_typed(md))
        payload = netstrings(parent_b, cp_type, cp_raw, md_type, md_raw)

        blob_prefix = b"b\0" + ns_b + b"\0"

        keepers: list[bytes] = []
        source = md.get("source")
        if source == "input" and parent_b:
            keepers.append(b"k\0" + ns_b + b"\0" + parent_b)  # the previous turn's end
        elif source in _KEPT_SOURCES:
            keepers.append(b"k\0" + ns_b + b"\0" + cid_b)
        trim = self.keep_intermediate is not None and source == "input"

        cache = self._lists.get(tid, ns_b)
        # A field the cache named may be gone (trimmed, or deleted by another process): then
        # write again without sharing small blobs, and at last without any cache.
        for attempt in range(3):
            blob_args: list[bytes] = []
            shared: list[bytes] = []
            lists: list[tuple[bytes, EncodedList]] = []
            written: list[tuple[bytes, bytes, bytes]] = []
            # Header entries (see header_entries): a channel this checkpoint did not change
            # is "\0" + version, resolved by the PUT script from the parent's header.
            head = [run_b]
            for channel, version in stripped["channel_versions"].items():
                if channel not in new_versions:
                    ch_b = enc(channel, "channel")
                    head += (ch_b, b"\0" + version_bytes(version))
            for channel, version in new_versions.items():
                ch_b = enc(channel, "channel")
                ver_b = version_bytes(version)
                field = blob_prefix + ch_b + b"\0" + ver_b
                value = values.get(channel, _ABSENT)
                if value is _ABSENT:
                    blob = EMPTY_BLOB
                elif isinstance(value, list) and len(value) >= MIN_LIST:
                    encoded = encode_list(
                        self.serde,
                        cache if attempt < 2 else None,
                        ns_b,
                        ver_b,
                        ch_b,
                        value,
                    )
                    blob_args += (field, encoded.blob, *encoded.writes)
                    shared += encoded.shared
                    lists.append((ch_b, encoded))
                    # A NUL before the name marks the blobs this checkpoint creates.
                    head += (b"\0" + ch_b, ver_b)
                    continue
                else:
                    blob_type, blob_raw = pack(*self.serde.dumps_typed(value))
                    blob = netstrings(blob_type) + blob_raw
                same = cache.blobs.get(ch_b, {}).get(blob) if attempt == 0 else None
                if same is not None:
                    # Equal to a blob this thread stored for the channel lately: share it.
                    head += (ch_b, ver_b + b"\0" + same[len(field) - len(ver_b) :])
                    shared.append(same)
                else:
                    head += (b"\0" + ch_b, ver_b)
                    blob_args += (field, blob)
                    if len(blob) <= _SHARE_MAX:
                        written.append((ch_b, field, blob))

            cmds: list[tuple[Any, ...]] = [
                evalsha(
                    PUT,
                    self._thread_keys(tid),
                    self._ttl_arg,
                    ns_b + b"\0" + cid_b,
                    run_b,
                    payload,
                    netstrings(*head),
                    len(shared),
                    *shared,
                    len(keepers),
                    *keepers,
                    *blob_args,
                ),
                # Bumped only after the data landed: a list(None) cleanup that saw this thread
                # empty then finds a changed counter and leaves the directory entry alone.
                ("ZINCRBY", self._threads_key, 1, tid),
            ]
            if trim:
                cmds.append(
                    evalsha(TRIM, self._thread_keys(tid), ns_b, cid_b, self.keep_intermediate)
                )
            if run_b:
                run_key = self._run_key(run_b.decode())
                cmds.append(("SADD", run_key, tid))
                if self.ttl:
                    cmds.append(("EXPIRE", run_key, self.ttl))
            replies = yield Batch(cmds)
            if replies[0] == 1:
                for ch_b, encoded in lists:
                    commit(cache, ch_b, encoded)
                for ch_b, field, blob in written:
                    cache.stored(ch_b, blob, field)
                if trim:
                    yield from self._untrack_runs(tid, replies[2])
                break
            cache.blobs.clear()
            if attempt == 1:
                self._lists.forget(tid)
                cache = self._lists.get(tid, ns_b)
        else:
            raise RuntimeError(f"checkpoint {checkpoint['id']!r} could not be written")
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _untrack_runs(self, thread_id: str, gone_runs: Sequence[bytes]) -> Plan[None]:
        if gone_runs:
            yield Batch([("SREM", self._run_key(r.decode()), thread_id) for r in gone_runs])

    def _put_writes_plan(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Plan[None]:
        if not writes:
            return
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        m = (
            enc((conf.get("checkpoint_ns") or ""), "checkpoint_ns")
            + b"\0"
            + enc(conf["checkpoint_id"], "checkpoint_id")
        )
        task_b = enc(task_id, "task_id")
        path_b = task_path.encode()
        args: list[Any] = [self._ttl_arg]
        for pos, (channel, value) in enumerate(writes):
            # Special channels (errors, interrupts, ...) use fixed negative slots and replace
            # what was there; regular writes are first-writer-wins, like InMemorySaver.
            write_idx = WRITES_IDX_MAP.get(channel, pos)
            idx_b = str(write_idx).encode()
            w_type, w_raw = self.serde.dumps_typed(value)
            framed = netstrings(task_b, idx_b, enc(channel, "channel"), path_b, w_type.encode())
            args += (
                b"set" if write_idx < 0 else b"nx",
                b"w\0" + m + b"\0" + task_b + b"\0" + idx_b,
                framed + w_raw,
            )
        yield Batch([evalsha(PUT_WRITES, self._thread_keys(thread_id), *args)])

    def _list_plan(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> ListPlan:
        if limit is not None and limit <= 0:
            return
        before_id = get_checkpoint_id(before) if before else None
        before_b = enc(before_id, "checkpoint_id") if before_id else None

        exact_b: bytes | None = None
        ns_b: bytes | None = None
        observed: dict[str, Any] = {}
        if config is None:
            (reply,) = yield Batch([("ZRANGE", self._threads_key, 0, -1, "WITHSCORES")])
            for member, score in pairs(reply):
                observed[member.decode()] = score
            thread_ids = list(observed)
        else:
            conf = config["configurable"]
            thread_ids = [str(conf["thread_id"])]
            if (ns := conf.get("checkpoint_ns")) is not None:
                ns_b = enc(ns, "checkpoint_ns")
            if exact := get_checkpoint_id(config):
                exact_b = enc(exact, "checkpoint_id")

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
        for chunk in chunks(discover, _FANOUT):
            found += yield Batch(list(chunk))

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
            for args_chunk in chunks(forget, 2 * _FANOUT):
                yield Batch([("EVALSHA", FORGET.sha, 1, self._threads_key, *args_chunk)])

        # 2. Load full tuples page by page, filtering metadata client-side.
        remaining = limit
        page_size = _PAGE if filter or limit is None else min(_PAGE, limit)
        for page in chunks(candidates, page_size):
            if filter:
                page = yield from self._filter_page(page, filter)
            groups: dict[tuple[str, bytes], list[bytes]] = {}
            for cid_b, tid, m_ns in page:
                groups.setdefault((tid, m_ns), []).append(cid_b)
            keys = list(groups)
            replies = yield Batch(
                [
                    evalsha(GET, self._thread_keys(tid), m_ns, *groups[(tid, m_ns)])
                    for tid, m_ns in keys
                ]
            )
            rows: dict[tuple[str, str, str], CheckpointTuple] = {}
            for (tid, m_ns), reply in zip(keys, replies, strict=True):
                decoded = yield from self._decode(tid, m_ns.decode(), reply, latest=False)
                for row in decoded:
                    conf = row.config["configurable"]
                    rows[(tid, conf["checkpoint_ns"], conf["checkpoint_id"])] = row
            for cid_b, tid, m_ns in page:
                hit = rows.get((tid, m_ns.decode(), cid_b.decode()))
                if hit is None:  # deleted since discovery
                    continue
                yield Emit(hit)
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return

    def _filter_page(
        self, page: Sequence[tuple[bytes, str, bytes]], filter: dict[str, Any]
    ) -> Generator[Batch, list[Any], list[tuple[bytes, str, bytes]]]:
        replies = yield Batch(
            [
                ("HGET", self._thread_keys(tid)[1], b"c\0" + m_ns + b"\0" + cid)
                for cid, tid, m_ns in page
            ]
        )
        kept: list[tuple[bytes, str, bytes]] = []
        for cand, payload in zip(page, replies, strict=True):
            if payload is None:
                continue
            md = decode_metadata(self.serde, payload)
            if all(md.get(k) == v for k, v in filter.items()):  # type: ignore[misc]
                kept.append(cand)
        return kept

    def _delete_threads_plan(self, thread_ids: Iterable[str]) -> Plan[None]:
        threads = list(dict.fromkeys(str(t) for t in thread_ids))
        for tid in threads:
            self._lists.forget(tid)
        runs_of: list[Any] = []
        for chunk in chunks(threads, _FANOUT):
            runs_of += yield Batch(
                [("ZRANGEBYLEX", self._thread_keys(t)[0], b"[r\0", b"(r\0\xff") for t in chunk]
            )
        cmds: list[tuple[Any, ...]] = []
        for tid, members in zip(threads, runs_of, strict=True):
            cmds.append(("DEL", *self._thread_keys(tid)))
            cmds.append(("ZREM", self._threads_key, tid))
            for run in {member.split(b"\0", 2)[1] for member in members}:
                cmds.append(("SREM", self._run_key(run.decode()), tid))
        for cmd_chunk in chunks(cmds, _FANOUT):
            yield Batch(list(cmd_chunk))

    def _delete_for_runs_plan(self, run_ids: Sequence[str]) -> Plan[None]:
        runs = [str(r) for r in dict.fromkeys(run_ids)]
        if not runs:
            return
        run_args = [enc(r, "run_id") for r in runs]
        members = yield Batch([("SMEMBERS", self._run_key(r)) for r in runs])
        threads = sorted({t.decode() for group in members for t in group})
        for tid in threads:
            self._lists.forget(tid)
        for chunk in chunks(threads, _FANOUT):
            yield Batch([evalsha(DELETE, self._thread_keys(t), b"runs", *run_args) for t in chunk])
        yield Batch([("DEL", self._run_key(r)) for r in runs])

    def _copy_thread_plan(self, source: str, target: str) -> Plan[None]:
        self._lists.forget(str(target))
        src_idx, src_data = self._thread_keys(str(source))
        dst_idx, dst_data = self._thread_keys(str(target))
        fields, members = yield Batch([("HGETALL", src_data), ("ZRANGE", src_idx, 0, -1)])
        if not members:
            return
        flat = [part for pair in dict(fields).items() for part in pair]
        cmds: list[tuple[Any, ...]] = [
            ("HSET", dst_data, *chunk) for chunk in chunks(flat, _ARGS_PER_CMD)
        ]
        scored = [part for member in members for part in (0, member)]
        cmds += [("ZADD", dst_idx, *chunk) for chunk in chunks(scored, _ARGS_PER_CMD)]
        if self.ttl:
            cmds += [("EXPIRE", dst_idx, self.ttl), ("EXPIRE", dst_data, self.ttl)]
        # Field names never contain the thread id, so the copy is byte-for-byte.
        yield Batch(cmds, transaction=True)

        tid = str(target)
        register: list[tuple[Any, ...]] = [("ZINCRBY", self._threads_key, 1, tid)]
        for run in {m.split(b"\0", 2)[1] for m in members if m.startswith(b"r\0")}:
            run_key = self._run_key(run.decode())
            register.append(("SADD", run_key, tid))
            if self.ttl:
                register.append(("EXPIRE", run_key, self.ttl))
        yield Batch(register)

    def _prune_plan(self, thread_ids: Sequence[str], strategy: str) -> Plan[None]:
        if strategy == "delete":
            yield from self._delete_threads_plan(thread_ids)
            return
        if strategy != "keep_latest":
            raise ValueError(f"Unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")
        threads = list(dict.fromkeys(str(t) for t in thread_ids))
        for tid in threads:
            self._lists.forget(tid)
        listed: list[Any] = []
        for chunk in chunks(threads, _FANOUT):
            listed += yield Batch(
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
        for group_chunk in chunks(groups, _FANOUT):
            latest_payloads += yield Batch(
                [
                    ("HGET", self._thread_keys(tid)[1], b"c\0" + m_ns + b"\0" + max(cids))
                    for tid, m_ns, cids in group_chunk
                ]
            )
        doomed: dict[str, list[bytes]] = {}
        for (tid, m_ns, cids), payload in zip(groups, latest_payloads, strict=True):
            keep = {max(cids)}
            if payload is not None:
                md = decode_metadata(self.serde, payload)
                if delta_channels := md.get("counters_since_delta_snapshot"):
                    keep = yield from self._delta_keep(tid, m_ns, cids, delta_channels)
            doomed.setdefault(tid, []).extend(m_ns + b"\0" + c for c in cids if c not in keep)

        todo = [(tid, members) for tid, members in doomed.items() if members]
        untrack: list[tuple[Any, ...]] = []
        for todo_chunk in chunks(todo, _FANOUT):
            replies = yield Batch(
                [evalsha(DELETE, self._thread_keys(t), b"members", *ms) for t, ms in todo_chunk]
            )
            for (tid, _), gone_runs in zip(todo_chunk, replies, strict=True):
                untrack += [("SREM", self._run_key(r.decode()), tid) for r in gone_runs]
        for cmd_chunk in chunks(untrack, _FANOUT):
            yield Batch(list(cmd_chunk))

    def _delta_keep(
        self, thread_id: str, ns_b: bytes, cids: list[bytes], delta_channels: Iterable[str]
    ) -> Generator[Batch, list[Any], set[bytes]]:
        """Checkpoints that ``keep_latest`` must keep in a namespace that uses DeltaChannel.

        A delta channel stores only a sentinel at most steps and is rebuilt by replaying
        ancestors' writes back to the nearest stored value, so the latest checkpoint alone
        would silently reconstruct those channels as empty.  Keep the parent chain back to
        the nearest ancestor holding a stored value for every delta channel (or to the root).
        """
        _, data = self._thread_keys(thread_id)
        m = ns_b + b"\0"
        fields = [f for c in cids for f in (b"c\0" + m + c, b"h\0" + m + c)]
        (replies,) = yield Batch([("HMGET", data, *fields)])
        records = {c: (replies[2 * i], replies[2 * i + 1]) for i, c in enumerate(cids)}

        chain: list[tuple[bytes, dict[bytes, bytes]]] = []
        seen: set[bytes] = set()
        cursor: bytes | None = max(cids)
        while cursor is not None and cursor in records and cursor not in seen:
            payload, header = records[cursor]
            if payload is None or header is None:
                break
            seen.add(cursor)
            chain.append((cursor, {ch: f for ch, f, _ in header_entries(header, ns_b)}))
            cursor = read_netstrings(payload, 1)[0][0] or None

        pending = {str(ch).encode() for ch in delta_channels}
        lookups = [(c, ch, f[ch]) for c, f in chain for ch in pending if ch in f]
        blobs: list[Any] = []
        if lookups:
            (blobs,) = yield Batch([("HMGET", data, *[field for _, _, field in lookups])])
        seeded = {
            (c, ch)
            for (c, ch, _), blob in zip(lookups, blobs, strict=True)
            if blob is not None and blob != EMPTY_BLOB
        }
        keep: set[bytes] = {max(cids)}
        for c, _ in chain:
            keep.add(c)
            pending = {ch for ch in pending if (c, ch) not in seeded}
            if not pending:
                break
        return keep

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Zero-padded base-36 counter plus a random suffix.

        The padding makes versions sort as strings (digits sort before letters, and the short
        counter still sorts after the 32-digit decimal one of older threads, whose leading
        zeros come first); the suffix keeps two writers that branch from the same version from
        producing the same blob key. Versions appear several times in every checkpoint, so
        they are kept short.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            head = current.split(".")[0]
            current_v = int(head) if len(head) > 6 else int(head, 36)
        return f"{_base36(current_v + 1, 6)}.{_base36(random.getrandbits(31), 6)}"


def _base36(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits.rjust(width, "0")
