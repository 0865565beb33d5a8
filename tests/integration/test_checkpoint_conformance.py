"""The official checkpointer conformance suite against both Redis savers on a real Redis and
on a local three-master Redis Cluster (clients from :mod:`lmsa.redis_clients`, as lmsa builds
them from a ``redis+cluster://`` URL).

Each capability suite gets a fresh saver under its own random key prefix, and every key of
that prefix is deleted afterwards, so runs never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aredis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.initializer import RegisteredCheckpointer

from lmsa.checkpoint.redis import AsyncRedisSaver, RedisSaver
from lmsa.redis_clients import async_client, is_cluster, is_cluster_url, sync_client
from tests.redis_support import REDIS_URL, LocalCluster, require_redis

require_redis()

pytestmark = pytest.mark.integration


async def _purge(client: aredis.Redis | aredis.RedisCluster, prefix: str) -> None:
    # Thread keys are "{prefix:thread}:...", global ones "{prefix}:..."; one DEL per key, as
    # a cluster's keys sit in many slots.
    keys = [key async for key in client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000)]
    for key in keys:
        await client.delete(key)


def _registration(kind: str, url: str) -> RegisteredCheckpointer:
    @checkpointer_test(name=f"{kind}-{uuid.uuid4().hex[:8]}")
    async def factory() -> AsyncIterator[BaseCheckpointSaver]:
        prefix = f"lmsa-conformance-{uuid.uuid4().hex}"
        aclient = async_client(url)
        sync_redis: redis.Redis | redis.RedisCluster = sync_client(url)
        assert is_cluster(aclient) == is_cluster(sync_redis) == is_cluster_url(url)
        try:
            if kind == "AsyncRedisSaver":
                yield AsyncRedisSaver(aclient, key_prefix=prefix)
            else:
                # Driven through its own async methods (worker-thread wrappers).
                yield RedisSaver(sync_redis, key_prefix=prefix)
        finally:
            await _purge(aclient, prefix)
            await aclient.aclose()
            sync_redis.close()

    return factory


@pytest.mark.parametrize("kind", ["AsyncRedisSaver", "RedisSaver"])
async def test_conformance(kind: str) -> None:
    await _conformance(kind, REDIS_URL)


@pytest.mark.parametrize("kind", ["AsyncRedisSaver", "RedisSaver"])
async def test_conformance_on_redis_cluster(kind: str, redis_cluster: LocalCluster) -> None:
    await _conformance(kind, redis_cluster.url)


async def _conformance(kind: str, url: str) -> None:
    report = await validate(_registration(kind, url))

    passed = sum(r.tests_passed for r in report.results.values())
    failed = sum(r.tests_failed for r in report.results.values())
    print(f"{kind}: {report.conformance_level()} conformance, {passed}/{passed + failed} tests")
    if not report.passed_all():
        report.print_report()
        for name, result in report.results.items():
            for failure in result.failures:
                print(f"  [{name}] {failure}")

    undetected = {c.value for c in ALL_CAPABILITIES} - {
        name for name, r in report.results.items() if r.detected
    }
    assert not undetected, f"capabilities not implemented: {sorted(undetected)}"
    assert report.passed_all(), f"{failed} conformance tests failed (report printed above)"
    assert report.conformance_level() == "FULL"
