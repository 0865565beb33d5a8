"""Durable LangGraph checkpointers."""

from lmsa.checkpoint.redis import AsyncRedisSaver, RedisSaver

__all__ = ["AsyncRedisSaver", "RedisSaver"]
