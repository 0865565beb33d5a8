"""What a saver process remembers of the large lists it stored, shared by the Redis and
SQLite savers, which store a list of at least :data:`MIN_LIST` items by reference: in leaves
of up to :data:`LEAF` items, each item stored once however many checkpoints contain it.

Which stored leaf and element an item is comes from a per-process cache keyed by object
identity: LangGraph hands the same item objects from step to step, and the cache is filled by
every write and read of the thread. It relies on checkpointed values not being mutated in
place (LangGraph's reducers return new lists and copies).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# Lists shorter than this are stored whole: below it, references cost about what they save.
MIN_LIST = 16
# Elements per leaf: a version rewrites one leaf (up to LEAF references) plus the list of
# leaf fields, so this trades the tail's size against the root's.
LEAF = 32
# Distinct small values remembered per channel for sharing.
_RECENT_BLOBS = 4
# Items remembered beyond those of the latest lists before they are dropped.
_SLACK = 64
# Threads whose items one saver remembers (each holds the items of its latest lists).
_THREADS = 64


@dataclass
class ListCache:
    """What this process last wrote or read of one (thread, namespace)."""

    # id(item) -> (item, element field); the item is held so its id stays unique.
    fields: dict[int, tuple[Any, bytes]] = field(default_factory=dict)
    # element field -> item decoded from it
    items: dict[bytes, Any] = field(default_factory=dict)
    # channel -> leaves of its latest list blob: (leaf field, items)
    leaves: dict[bytes, list[tuple[bytes, tuple[Any, ...]]]] = field(default_factory=dict)
    # channel -> {bytes: field} of the last small blobs stored or read, shared when equal
    blobs: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)

    def remember(self, item: Any, element: bytes) -> None:
        self.fields[id(item)] = (item, element)
        self.items[element] = item

    def keep_latest(self) -> None:
        """Forget the items that no channel's latest list holds any more (once they are more
        than a few, so that the cost per write does not grow with the list)."""
        held = sum(len(chunk) for leaves in self.leaves.values() for _, chunk in leaves)
        if len(self.fields) <= held + _SLACK:
            return
        live = {
            id(item) for leaves in self.leaves.values() for _, chunk in leaves for item in chunk
        }
        self.fields = {k: v for k, v in self.fields.items() if k in live}
        elements = {element for _, element in self.fields.values()}
        self.items = {k: v for k, v in self.items.items() if k in elements}

    def stored(self, channel_b: bytes, blob: bytes, blob_field: bytes) -> None:
        """Remember a small blob of the channel; a channel flips between a few values (a
        counter reset every turn, a routing flag), so the last few are kept."""
        recent = self.blobs.setdefault(channel_b, {})
        recent.pop(blob, None)
        recent[blob] = blob_field
        if len(recent) > _RECENT_BLOBS:
            del recent[next(iter(recent))]


class ListCaches:
    """A bounded map of :class:`ListCache` per (thread, namespace), least recently used out."""

    def __init__(self) -> None:
        self._caches: OrderedDict[tuple[str, bytes], ListCache] = OrderedDict()

    def get(self, thread_id: str, ns_b: bytes) -> ListCache:
        key = (thread_id, ns_b)
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = ListCache()
            while len(self._caches) > _THREADS:
                self._caches.popitem(last=False)
        else:
            self._caches.move_to_end(key)
        return cache

    def forget(self, thread_id: str) -> None:
        for key in [k for k in self._caches if k[0] == thread_id]:
            del self._caches[key]
