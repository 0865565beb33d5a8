"""Large list channel values stored by reference, so a conversation costs its length.

A chat thread's ``messages`` list grows by a message or two per turn, and every checkpoint
that changes it would otherwise store the whole list again: storage quadratic in the length of
the conversation. Instead a list of at least :data:`MIN_LIST` items is stored as a *list blob*
(``9:lmsa.list`` + the fields of its leaves); a leaf holds the fields of up to :data:`LEAF`
elements, and an element field holds one serialized item. A new version of the list writes
only the leaves whose items changed (for an append, the last one) and the items not stored
before, so each item is stored once however many checkpoints contain it.

Leaf and element fields are named after the channel version whose blob created them::

    l\\0<ns>\\0<version>\\0<channel>\\0<n>     e\\0<ns>\\0<version>\\0<channel>\\0<n>

so retention (the TRIM script) can tell what a deleted checkpoint created (versions are unique
per write: a counter and a random suffix).

Which stored leaf and element an item is comes from a per-process cache keyed by object
identity: LangGraph hands the same item objects from step to step, and this cache is filled by
every write and read of the thread. It relies on checkpointed values not being mutated in
place (LangGraph's reducers return new lists and copies). A write that names a cached field
the store no longer has is refused by the PUT script and retried without the cache.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import SerializerProtocol

from lmsa.checkpoint.lists import LEAF, MIN_LIST, ListCache, ListCaches
from lmsa.checkpoint.redis.encoding import LIST_TYPE, netstrings, pack, read_netstrings

__all__ = ["LEAF", "MIN_LIST", "ListCache", "ListCaches"]

LIST_TAG = netstrings(LIST_TYPE)


@dataclass
class EncodedList:
    blob: bytes
    # (field, value) pairs to write
    writes: list[bytes]
    # fields this blob shares with earlier versions, which must still exist
    shared: list[bytes]
    leaves: list[tuple[bytes, tuple[Any, ...]]]
    new_items: list[tuple[Any, bytes]]


def encode_list(
    serde: SerializerProtocol,
    cache: ListCache | None,
    ns_b: bytes,
    version_b: bytes,
    channel_b: bytes,
    items: Sequence[Any],
) -> EncodedList:
    """The list blob of ``items`` for version ``version_b`` of the channel, reusing what
    ``cache`` says is stored (nothing if None)."""
    previous = cache.leaves.get(channel_b, []) if cache is not None else []
    stem = ns_b + b"\0" + version_b + b"\0" + channel_b + b"\0"
    out = EncodedList(b"", [], [], [], [])
    for j, start in enumerate(range(0, len(items), LEAF)):
        chunk = tuple(items[start : start + LEAF])
        if j < len(previous):
            leaf_field, old = previous[j]
            if len(old) == len(chunk) and all(map(operator.is_, old, chunk)):
                out.leaves.append((leaf_field, chunk))
                out.shared.append(leaf_field)
                continue
        refs: list[bytes] = []
        for k, item in enumerate(chunk):
            hit = cache.fields.get(id(item)) if cache is not None else None
            if hit is not None and hit[0] is item:
                refs.append(hit[1])
                out.shared.append(hit[1])
                continue
            element = b"e\0" + stem + str(start + k).encode()
            type_, raw = pack(*serde.dumps_typed(item))
            out.writes += (element, netstrings(type_) + raw)
            out.new_items.append((item, element))
            refs.append(element)
        leaf_field = b"l\0" + stem + str(j).encode()
        out.writes += (leaf_field, netstrings(*refs))
        out.leaves.append((leaf_field, chunk))
    out.blob = LIST_TAG + netstrings(*[leaf for leaf, _ in out.leaves])
    return out


def commit(cache: ListCache, channel_b: bytes, encoded: EncodedList) -> None:
    """Record a list blob that the store accepted."""
    for item, element in encoded.new_items:
        cache.remember(item, element)
    cache.leaves[channel_b] = encoded.leaves
    cache.keep_latest()


def leaf_fields(blob: bytes) -> list[bytes]:
    return read_netstrings(blob[len(LIST_TAG) :])[0]


def element_fields(leaf: bytes | None) -> list[bytes]:
    return read_netstrings(leaf)[0] if leaf else []


def decode_list(
    cache: ListCache,
    channel_b: bytes,
    blob: bytes,
    leaves: list[bytes | None],
    load: Callable[[bytes], Any],
    *,
    latest: bool,
) -> list[Any]:
    """The list a list blob stands for; ``load`` gives the item of an element field. With
    ``latest`` the cache learns these leaves as the channel's newest."""
    items: list[Any] = []
    layout: list[tuple[bytes, tuple[Any, ...]]] = []
    for leaf_field, leaf in zip(leaf_fields(blob), leaves, strict=True):
        chunk = tuple(load(element) for element in element_fields(leaf))
        items.extend(chunk)
        layout.append((leaf_field, chunk))
    if latest:
        cache.leaves[channel_b] = layout
        cache.keep_latest()
    return items
