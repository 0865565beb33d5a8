"""Every Redis client lmsa builds sits on a bounded, blocking pool (no connection is opened
here: building a client does not connect)."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aredis

from lmsa.config import Settings
from lmsa.redis_clients import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POOL_TIMEOUT,
    async_client,
    async_client_for,
    cluster_seeds,
    is_cluster,
    is_cluster_url,
    redact_url,
    reject_decoded_client,
    sync_client,
    sync_client_for,
)


def test_defaults_are_the_settings_defaults() -> None:
    settings = Settings()
    assert settings.redis_max_connections == DEFAULT_MAX_CONNECTIONS
    assert settings.redis_pool_timeout == DEFAULT_POOL_TIMEOUT


def test_sync_clients_use_a_bounded_blocking_pool() -> None:
    client = sync_client("redis://127.0.0.1:6379/0", max_connections=3, socket_timeout=1.0)
    pool = client.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (3, DEFAULT_POOL_TIMEOUT)
    assert pool.connection_kwargs["socket_timeout"] == 1.0
    client.close()


async def test_async_clients_use_a_bounded_blocking_pool() -> None:
    client = async_client("redis://127.0.0.1:6379/0", pool_timeout=2.5)
    pool = client.connection_pool
    assert isinstance(pool, aredis.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (DEFAULT_MAX_CONNECTIONS, 2.5)
    await client.aclose()


async def test_settings_choose_url_and_bounds() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:6390/2", redis_max_connections=7, redis_pool_timeout=3.0
    )
    sync = sync_client_for(settings)
    pool = sync.connection_pool
    assert (pool.max_connections, pool.timeout, pool.connection_kwargs["port"]) == (7, 3.0, 6390)
    sync.close()
    aclient = async_client_for(settings, "redis://127.0.0.1:6391/0")
    assert aclient.connection_pool.connection_kwargs["port"] == 6391
    assert aclient.connection_pool.max_connections == 7
    await aclient.aclose()


def test_malformed_urls_raise_value_error() -> None:
    with pytest.raises(ValueError):
        sync_client("not-a-redis-url")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0"),
        ("rediss://me:pa:ss@cache:6380/1", "rediss://me:***@cache:6380/1"),
        ("redis://[::1", "<unparseable Redis URL>"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_decoding_clients_are_rejected() -> None:
    client = redis.Redis(decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        reject_decoded_client(client)
    reject_decoded_client(redis.Redis())


# ---- Redis Cluster (chosen by the redis+cluster:// scheme) ----------------------------------


def test_cluster_urls_are_told_apart_by_their_scheme() -> None:
    assert is_cluster_url("redis+cluster://h:7000")
    assert is_cluster_url("REDISS+CLUSTER://h:7000")
    assert not is_cluster_url("redis://h:6379/0")
    assert not is_cluster_url("rediss://h:6379/0")


def test_cluster_seeds_keep_every_node_and_the_credentials() -> None:
    first, seeds, options = cluster_seeds("rediss+cluster://app:p%40ss@h1:7000,h2,h3:7002/0")
    assert seeds == [("h1", 7000), ("h2", 6379), ("h3", 7002)]
    assert first == "rediss://app:p%40ss@h1:7000/0"
    assert (options["username"], options["password"], options["ssl"]) == ("app", "p@ss", True)
    _, seeds, options = cluster_seeds("redis+cluster://h1:7000?socket_keepalive=true")
    assert seeds == [("h1", 7000)] and "ssl" not in options


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://h1:7000/2", "redis+cluster://", "redis://h1:7000", "redis+cluster://h1:x"],
)
def test_bad_cluster_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        cluster_seeds(url)


async def test_async_cluster_clients_have_the_same_bounds() -> None:
    client = async_client(
        "redis+cluster://h1:7000,h2:7001", max_connections=5, pool_timeout=2.5, socket_timeout=1.5
    )
    assert isinstance(client, aredis.RedisCluster)
    manager = client.nodes_manager
    assert list(manager.startup_nodes) == ["h1:7000", "h2:7001"]
    assert manager.connection_kwargs["max_connections"] == 5
    assert manager.connection_kwargs["socket_timeout"] == 1.5
    gate = client._lmsa_gate  # type: ignore[union-attr]
    assert (gate.size, gate.timeout) == (5, 2.5)
    assert is_cluster(client)
    await client.aclose()


async def test_decoding_cluster_clients_are_rejected() -> None:
    client = async_client("redis+cluster://h1:7000?decode_responses=True")
    with pytest.raises(ValueError, match="decode_responses=False"):
        reject_decoded_client(client)
    await client.aclose()
