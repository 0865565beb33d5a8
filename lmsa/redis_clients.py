"""The one place lmsa builds redis-py clients: every client sits on a bounded, blocking pool.

redis-py's default pool opens a new connection for every concurrent command and, past its
limit, fails the command at once; a burst of requests then turns into failed turns. Here a
burst waits up to ``pool_timeout`` for a free connection instead. The defaults equal
``Settings.redis_max_connections`` and ``Settings.redis_pool_timeout``.

Redis Cluster is chosen by the URL, not by a separate switch: ``redis+cluster://host:port``
(``rediss+cluster://`` for TLS; several seed nodes as ``host1:p1,host2:p2``) builds a
``RedisCluster`` client with the same bounds, so every URL setting (``LMSA_REDIS_URL``,
``LMSA_LLM_REDIS_URL``) says by itself what it points at, and the ``limits`` library reads
the same scheme natively. Its pools are per node: each node gets ``max_connections``; the
asyncio cluster client, whose node pools fail at once when full, additionally waits up to
``pool_timeout`` for one of ``max_connections`` command slots (see ``_GatedAsyncCluster``).

Each caller owns the client it builds and closes it. An asyncio client's connections belong
to the event loop that opened them, so asyncio clients are never shared across callers.
redis-py is imported on first use: most runs (sqlite, no shared LLM state) never need it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from lmsa.config import Settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aredis

# What the factory returns; strings, so importing them does not import redis-py.
SyncRedis: TypeAlias = "redis.Redis | redis.RedisCluster"
AsyncRedis: TypeAlias = "aredis.Redis | aredis.RedisCluster"

DEFAULT_MAX_CONNECTIONS: int = Settings.model_fields["redis_max_connections"].default
DEFAULT_POOL_TIMEOUT: float = Settings.model_fields["redis_pool_timeout"].default
DEFAULT_CONNECT_TIMEOUT = 5.0
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

__all__ = [
    "CLUSTER_SCHEMES",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_POOL_TIMEOUT",
    "AsyncRedis",
    "SyncRedis",
    "async_client",
    "async_client_for",
    "cluster_problems",
    "is_cluster",
    "is_cluster_url",
    "redact_url",
    "reject_decoded_client",
    "sync_client",
    "sync_client_for",
]


def _pool_options(
    max_connections: int,
    pool_timeout: float,
    socket_timeout: float | None,
    socket_connect_timeout: float | None,
) -> dict[str, Any]:
    return {
        "max_connections": max_connections,
        "timeout": pool_timeout,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
    }


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def cluster_seeds(url: str) -> tuple[str, list[tuple[str, int]], dict[str, Any]]:
    """Split a cluster URL into a plain ``redis://`` URL of its first seed node, every seed
    node, and the connection options the URL carries (credentials, TLS, query options).
    Raises ValueError for a malformed URL or a database other than 0."""
    from redis.connection import parse_url

    scheme, _, rest = url.partition("://")
    base = CLUSTER_SCHEMES.get(scheme.lower())
    if base is None:
        raise ValueError(f"not a Redis Cluster URL (redis+cluster://...): {redact_url(url)}")
    netloc, sep, tail = rest.partition("/")
    if "?" in netloc:  # no path: the query follows the hosts
        netloc, _, query = netloc.partition("?")
        tail, sep = f"?{query}", "/"
    userinfo, at, hosts = netloc.rpartition("@")
    seeds: list[tuple[str, int]] = []
    for host in hosts.split(","):
        parts = urlsplit(f"//{host.strip()}")
        if not parts.hostname:
            raise ValueError(f"a Redis Cluster URL needs host:port seed nodes: {redact_url(url)}")
        seeds.append((parts.hostname, parts.port or 6379))
    first = f"{base}://{userinfo}{at}{seeds[0][0]}:{seeds[0][1]}{sep}{tail}"
    options = parse_url(first)
    for key in ("host", "port", "connection_class"):
        options.pop(key, None)
    if options.pop("db", 0):
        raise ValueError(f"Redis Cluster has only database 0: {redact_url(url)}")
    if base == "rediss":
        options["ssl"] = True
    return first, seeds, options


def sync_client(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    socket_timeout: float | None = None,
    socket_connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
) -> SyncRedis:
    """A client for ``url`` that owns (and closes) its bounded pool; ``socket_timeout`` None
    waits for replies as long as Redis takes. A cluster URL gives a ``RedisCluster`` whose
    node pools are the same blocking pools. Raises ValueError for a malformed URL."""
    import redis

    options = _pool_options(max_connections, pool_timeout, socket_timeout, socket_connect_timeout)
    if is_cluster_url(url):
        from redis.cluster import ClusterNode, RedisCluster

        # Only a client built from a URL gives its nodes ``connection_pool_class``: the first
        # seed goes in as the URL (with the credentials), the others as startup nodes.
        first, seeds, _ = cluster_seeds(url)
        return RedisCluster(
            url=first,
            startup_nodes=[ClusterNode(host, port) for host, port in seeds[1:]],
            connection_pool_class=redis.BlockingConnectionPool,
            **options,
        )
    pool = redis.BlockingConnectionPool.from_url(url, **options)
    return redis.Redis.from_pool(pool)


def async_client(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    socket_timeout: float | None = None,
    socket_connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
) -> AsyncRedis:
    """The asyncio twin of :func:`sync_client`; use it on one event loop only."""
    import redis.asyncio as aredis

    if is_cluster_url(url):
        from redis.asyncio.cluster import ClusterNode

        _, seeds, extra = cluster_seeds(url)
        return _gated_cluster_class()(
            startup_nodes=[ClusterNode(host, port) for host, port in seeds],
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            pool_timeout=pool_timeout,
            **extra,
        )
    pool = aredis.BlockingConnectionPool.from_url(
        url, **_pool_options(max_connections, pool_timeout, socket_timeout, socket_connect_timeout)
    )
    return aredis.Redis.from_pool(pool)


# Set while a task holds a command slot, so commands a pipeline re-issues on redirection do
# not wait for a second slot (which, with every slot taken, would never come).
_HOLDING_SLOT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lmsa_redis_slot", default=False
)


@functools.cache
def _gated_cluster_class() -> Any:
    """``RedisCluster`` whose commands and pipelines wait up to ``pool_timeout`` for one of
    ``max_connections`` slots. redis-py's asyncio node pools raise ``MaxConnectionsError``
    as soon as they are full; with no more commands in flight than connections a node may
    open, they never are, and a burst waits like it does on a single Redis."""
    from redis.asyncio.cluster import ClusterPipeline, RedisCluster
    from redis.exceptions import ConnectionError as RedisConnectionError

    class _Gate:
        def __init__(self, size: int, timeout: float) -> None:
            self.size, self.timeout = size, timeout
            self._semaphore: asyncio.Semaphore | None = None

        async def run(self, call: Any) -> Any:
            if _HOLDING_SLOT.get():
                return await call()
            if self._semaphore is None:
                self._semaphore = asyncio.Semaphore(self.size)
            try:
                await asyncio.wait_for(self._semaphore.acquire(), self.timeout)
            except TimeoutError:
                raise RedisConnectionError("No connection available.") from None
            token = _HOLDING_SLOT.set(True)
            try:
                return await call()
            finally:
                _HOLDING_SLOT.reset(token)
                self._semaphore.release()

    class _GatedPipeline(ClusterPipeline):
        _lmsa_gate: _Gate

        async def execute(
            self, raise_on_error: bool = True, allow_redirections: bool = True
        ) -> list[Any]:
            parent = super().execute
            return await self._lmsa_gate.run(  # type: ignore[no-any-return]
                lambda: parent(raise_on_error, allow_redirections)
            )

    class _GatedAsyncCluster(RedisCluster):
        def __init__(self, *, pool_timeout: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._lmsa_gate = _Gate(kwargs["max_connections"], pool_timeout)

        async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
            parent = super().execute_command
            return await self._lmsa_gate.run(lambda: parent(*args, **kwargs))

        def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
            if shard_hint:
                return super().pipeline(transaction, shard_hint)
            pipe = _GatedPipeline(self, transaction)  # type: ignore[abstract]
            pipe._lmsa_gate = self._lmsa_gate
            return pipe

    return _GatedAsyncCluster


def sync_client_for(settings: Settings, url: str | None = None) -> SyncRedis:
    """:func:`sync_client` for ``url`` (default ``settings.redis_url``) with the pool bounds
    the settings ask for."""
    return sync_client(
        url or settings.redis_url,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    )


def async_client_for(settings: Settings, url: str | None = None) -> AsyncRedis:
    """:func:`async_client` for ``url`` (default ``settings.redis_url``) with the pool bounds
    the settings ask for."""
    return async_client(
        url or settings.redis_url,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    )


def is_cluster(client: Any) -> bool:
    """Whether ``client`` is a Redis Cluster client (sync or asyncio)."""
    return hasattr(client, "get_primaries")


async def cluster_problems(client: Any, timeout: float) -> list[str]:
    """For an asyncio cluster client, one sentence per primary node that does not answer a
    PING within ``timeout`` seconds (empty when all do, or for a single-node client): a
    cluster with a dead primary fails every key in that node's slots, while other keys
    still work, so probing one key would miss it."""
    if not is_cluster(client):
        return []
    if not client.get_primaries():
        try:
            await asyncio.wait_for(client.initialize(), timeout)
        except Exception as error:  # no seed node answered: nothing to probe one by one
            return [f"no Redis Cluster seed node answers ({_reason(error)})"]

    async def probe(node: Any) -> str | None:
        try:
            await asyncio.wait_for(client.execute_command("PING", target_nodes=node), timeout)
        except Exception as error:  # any failure is the node's problem to report
            return f"Redis Cluster primary {node.name} does not answer ({_reason(error)})"
        return None

    found = await asyncio.gather(*(probe(node) for node in client.get_primaries()))
    return [problem for problem in found if problem]


def _reason(error: BaseException) -> str:
    return (str(error) or type(error).__name__).rstrip(". ")


def redact_url(url: str) -> str:
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


def reject_decoded_client(client: Any, user: str = "The checkpointer") -> None:
    """Refuse a client built with ``decode_responses=True`` for a ``user`` of binary data."""
    encoder = getattr(client, "get_encoder", None)
    if encoder is not None and getattr(encoder(), "decode_responses", False):
        raise ValueError(
            f"{user} stores binary data; create the Redis client with decode_responses=False."
        )
