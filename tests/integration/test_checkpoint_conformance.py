"""The official checkpointer conformance suite against both Redis savers on a real Redis.

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
from tests.redis_support import REDIS_URL, require_redis

require_redis()

pytestmark = pytest.mark.integration


async def _purge(client: aredis.Redis, prefix: str) -> None:
    # Thread keys are "{prefix:thread}:...", global ones "{prefix}:...".
    keys = [key async for key in client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])


def _registration(kind: str) -> RegisteredCheckpointer:
    @checkpointer_test(name=f"{kind}-{uuid.uuid4().hex[:8]}")
    async def factory() -> AsyncIterator[BaseCheckpointSaver]:
        prefix = f"lmsa-conformance-{uuid.uuid4().hex}"
        aclient = aredis.Redis.from_url(REDIS_URL)
        sync_client = redis.Redis.from_url(REDIS_URL)
        try:
            if kind == "AsyncRedisSaver":
                yield AsyncRedisSaver(aclient, key_prefix=prefix)
            else:
                # Driven through its own async methods (worker-thread wrappers).
                yield RedisSaver(sync_client, key_prefix=prefix)
        finally:
            await _purge(aclient, prefix)
            await aclient.aclose()
            sync_client.close()

    return factory


@pytest.mark.parametrize("kind", ["AsyncRedisSaver", "RedisSaver"])
async def test_conformance(kind: str) -> None:
    report = await validate(_registration(kind))

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
