"""Stored values deflated against a preset dictionary, shared by the Redis and SQLite savers.

A value of at least :data:`_PACK_MIN` bytes is stored deflated when that makes it smaller, and
its serializer type gains the :data:`_PACKED` prefix; a type without it is read as it is, so
values written before compression existed still load.
"""

from __future__ import annotations

import zlib
from typing import Any

from langgraph.checkpoint.base import SerializerProtocol

# Values of at least this many bytes are stored deflated when that makes them smaller.
_PACK_MIN = 96
_PACKED = b"z1+"
# Preset dictionary for the deflated values: the names every serialized checkpoint and chat
# message repeats, so that even a short value compresses. Stored data depends on it: change it
# only together with the _PACKED tag.
_ZDICT = b"".join(
    [
        b"\xa9__start__\xa8messages\xb0channel_versions\xadversions_seen\xb0updated_channels",
        b"\xa6source\xa4loop\xa5input\xa4step\xa7parents\xa6run_id\xa6writes\xa2ts\xa2id",
        b"branch:to:\xa6answer\xa6intent\xa4plan\xa7results\xaavalidation\xa9workspace",
        b"\xa5tools\xa4args\xa4path\xa9read_file\xa2ok\xa6output\xa5error\xa5notes",
        b"\xa9reasoning\xaaconfidence\xa8entities\xa8language\xa5steps\xaadepends_on",
        b"\xa7purpose\xaeanswer_directly\xb2needs_clarification\xb3clarifying_question",
        b"\xb1additional_kwargs\xb1response_metadata\xaamodel_name\xadlmsa_screened\xc3",
        b"\xaatool_calls\x90\xb2invalid_tool_calls\x90\xaeusage_metadata\xc0\xa4name\xc0",
        b"\xbdlangchain_core.messages.human\xacHumanMessage\xa7content\xa4type\xa5human",
        b"\xa2id\xd9,lc_run--\xb3model_validate_json",
        b"\xbalangchain_core.messages.ai\xa9AIMessage\x89\xa7content\xd9",
    ]
)


def pack(type_: str, raw: bytes) -> tuple[bytes, bytes]:
    """``(type, bytes)`` as stored: deflated against :data:`_ZDICT` when that is smaller."""
    if len(raw) >= _PACK_MIN:
        deflate = zlib.compressobj(1, zdict=_ZDICT)
        packed = deflate.compress(raw) + deflate.flush()
        if len(packed) < len(raw):
            return _PACKED + type_.encode(), packed
    return type_.encode(), raw


def loads(serde: SerializerProtocol, type_: bytes, raw: bytes) -> Any:
    """The value of a stored ``(type, bytes)`` pair (see :func:`pack`)."""
    if type_.startswith(_PACKED):
        inflate = zlib.decompressobj(zdict=_ZDICT)
        raw = inflate.decompress(raw) + inflate.flush()
        type_ = type_[len(_PACKED) :]
    return serde.loads_typed((type_.decode(), raw))
