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
                       h\\0<ns>\\0<checkpoint_id>            header: run_id + (channel, version)*
                       b\\0<ns>\\0<channel>\\0<version>        one channel value (a "blob")
                       l\\0<ns>\\0<version>\\0<channel>\\0<n>    a leaf of a large list value
                       e\\0<ns>\\0<version>\\0<channel>\\0<n>    one item of a large list value
                       w\\0<ns>\\0<cid>\\0<task_id>\\0<idx>      one pending write
    {P:T}:idx    ZSET  all scores 0, so members sort bytewise and ZRANGEBYLEX is a prefix query:
                       c\\0<ns>\\0<cid>                      checkpoints, newest = lexically last id
                       w\\0<ns>\\0<cid>\\0<task_id>\\0<idx>      writes of one checkpoint
                       r\\0<run_id>\\0<ns>\\0<cid>            checkpoints of one run
                       k\\0<ns>\\0<cid>                      checkpoints retention keeps

Channel values are stored once per (channel, version), like the Postgres saver does, so a
step that changes two channels of twenty rewrites two blobs; the checkpoint payload carries
only versions and is reassembled with the blobs on read.  A blob equal to one the thread
stored lately for the same channel (a counter reset every turn, an empty routing value) is
shared instead of stored again: the header then names the older version.  Values are framed
as netstrings (``<len>:<bytes>``) so Lua can parse headers without knowing the serializer;
payloads and values of 96 bytes or more are deflated against a preset dictionary when that
makes them smaller.  Namespaces, checkpoint ids, channels, task ids and run ids must not
contain NUL (the Postgres saver has the same restriction, its text columns reject NUL).

Long threads
------------
A conversation's ``messages`` list would otherwise be stored whole by every checkpoint that
changes it, several per turn: storage quadratic in the conversation's length.  Lists of 16
items or more are stored by reference instead (:mod:`lmsa.checkpoint.redis.lists`): each item
once, in leaves of 32 references that later versions share.  With ``keep_intermediate``
(``LMSA_CHECKPOINT_KEEP_INTERMEDIATE``) a thread also keeps only what time travel needs: when
a turn starts (a checkpoint with source ``input``), the previous turn's final checkpoint is
marked (``k``), edits and forks (sources ``update``, ``fork``) are marked when written, and the
TRIM script deletes the other checkpoints of the namespace except the newest
``keep_intermediate``, with their writes and the blobs, leaves and items only they created,
and relinks each survivor to its nearest surviving ancestor.  A 400-turn conversation then
holds about 16-18 times its text (see the README's benchmark table).

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
``put``, ``put_writes`` and ``get_tuple`` are one round trip each (``get_tuple`` one more
for list items this process has not decoded before; a ``put`` that starts a turn also trims,
in the same round trip).  ``list`` on one thread
is one round trip for the ids plus one per page of checkpoints; a metadata ``filter`` is
applied client-side after decoding and costs one more round trip per page.  ``list(None)``
and ``delete_for_runs`` touch every thread in the directory or in the run set, pipelined.

Modules
-------
``scripts`` (Lua), ``encoding`` (netstrings, field names, decoding), ``lists`` (large lists
by reference), ``plan`` and ``base`` (the algorithms, free of I/O), ``sync`` and ``aio`` (the
two savers, which drive the same plans), ``connect`` (opening clients) and ``dev`` (the
``langgraph dev`` factory).
"""

from lmsa.checkpoint.redis.aio import AsyncRedisSaver
from lmsa.checkpoint.redis.connect import CheckpointerUnavailable
from lmsa.checkpoint.redis.dev import async_redis_checkpointer
from lmsa.checkpoint.redis.sync import RedisSaver

__all__ = [
    "AsyncRedisSaver",
    "CheckpointerUnavailable",
    "RedisSaver",
    "async_redis_checkpointer",
]
