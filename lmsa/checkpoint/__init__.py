"""Durable LangGraph checkpointers.

The Redis savers are exported lazily: importing any module of this package (the sqlite saver,
the factory) would otherwise import redis-py and its OpenTelemetry dependencies, which a run
on sqlite never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsa.checkpoint.redis import AsyncRedisSaver, RedisSaver

__all__ = ["AsyncRedisSaver", "RedisSaver"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lmsa.checkpoint import redis

        return getattr(redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
