"""Opening the savers' Redis clients: fail at start-up, with a message that says what to do."""

from __future__ import annotations

from redis.exceptions import RedisClusterException, RedisError

from lmsa.redis_clients import (
    AsyncRedis,
    SyncRedis,
    async_client,
    cluster_problems,
    redact_url,
    sync_client,
)

# A cluster whose seed nodes all refuse raises RedisClusterException, which is no RedisError.
_UNREACHABLE = (RedisError, RedisClusterException, OSError)


class CheckpointerUnavailable(RuntimeError):
    """Redis could not be reached when opening a checkpointer.

    Raised at start-up rather than on the first graph step, so a missing Redis is reported
    once, with the URL (password redacted) and what to do about it.
    """


def unavailable(url: str, exc: BaseException) -> CheckpointerUnavailable:
    # redis-py's messages end with a full stop; the sentence below adds its own.
    reason = (str(exc) or type(exc).__name__).rstrip(". ")
    return CheckpointerUnavailable(
        f"Cannot reach Redis at {redact_url(url)}: {reason}. Start Redis or set LMSA_REDIS_URL."
    )


def connect_sync(url: str, *, max_connections: int, pool_timeout: float) -> SyncRedis:
    """A client on a bounded pool that answered a PING; the caller closes it."""
    try:
        client = sync_client(url, max_connections=max_connections, pool_timeout=pool_timeout)
    except ValueError as exc:
        raise unavailable(url, exc) from exc
    try:
        client.ping()
    except _UNREACHABLE as exc:
        client.close()
        raise unavailable(url, exc) from exc
    return client


async def connect_async(url: str, *, max_connections: int, pool_timeout: float) -> AsyncRedis:
    """The asyncio twin of :func:`connect_sync`."""
    try:
        client = async_client(url, max_connections=max_connections, pool_timeout=pool_timeout)
    except ValueError as exc:
        raise unavailable(url, exc) from exc
    try:
        await client.ping()
    except _UNREACHABLE as exc:
        # On a cluster, name the node that is down rather than the first error seen.
        problems = await cluster_problems(client, 2.0)
        await client.aclose()
        raise unavailable(url, RedisError("; ".join(problems)) if problems else exc) from exc
    return client
