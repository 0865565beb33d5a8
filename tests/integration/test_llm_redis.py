"""LLM routing state shared through the real Redis: breakers, cache and concurrency limits agree
across two providers (standing in for two lmsa instances)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from lmsa.config import EndpointSettings, Settings
from lmsa.llm import LLMProvider, LLMUnavailable
from tests.integration.helpers import ask, closed_port_url
from tests.redis_support import REDIS_URL, require_redis
from tests.stubs.lmstudio import LMStudioStub

require_redis()
pytestmark = pytest.mark.integration


@pytest.fixture
def prefix() -> Iterator[str]:
    value = f"lmsa-test-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{value}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def stub() -> AsyncIterator[LMStudioStub]:
    async with LMStudioStub({"text": ["shared answer"]}) as server:
        yield server


def shared(prefix: str, *endpoints: EndpointSettings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "endpoints": list(endpoints),
        "llm_redis_url": REDIS_URL,
        "redis_key_prefix": prefix,
        "llm_health_interval": 0,
        "llm_retry_base_delay": 0.01,
        "llm_retry_max_delay": 0.05,
        **overrides,
    }
    return Settings(**values)


async def test_an_open_breaker_is_seen_by_every_instance(prefix: str, stub: LMStudioStub) -> None:
    dead = EndpointSettings(base_url=closed_port_url(), model="m", name="dead")
    backup = EndpointSettings(base_url=stub.base_url, model="test-model", name="backup")
    config = shared(prefix, dead, backup, max_retries=1, llm_breaker_threshold=2)
    first, second = LLMProvider(config), LLMProvider(config)
    try:
        assert (await ask(first)).content == "shared answer"  # 2 failed attempts: opens
        assert await first.core.breakers.state("dead") == "opened"

        assert await second.core.breakers.state("dead") == "opened"
        assert (await ask(second)).content == "shared answer"
        assert stub.count() == 2
        client = redis.Redis.from_url(REDIS_URL)
        assert client.exists(f"{prefix}:llm:breaker:dead")
        client.close()
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_cached_answer_is_shared(prefix: str, stub: LMStudioStub) -> None:
    config = shared(prefix, EndpointSettings(base_url=stub.base_url, model="test-model"))
    config.temperature = 0
    first, second = LLMProvider(config), LLMProvider(config)
    try:
        assert (await ask(first, "same question")).content == "shared answer"
        reply = await ask(second, "same question")
        assert reply.content == "shared answer"
        assert reply.response_metadata.get("lmsa_cache") == "hit"
        assert stub.count() == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_concurrency_limit_is_global(prefix: str, stub: LMStudioStub) -> None:
    stub.set_scenario({"text": [{"content": "slow", "delay_ms": 800}]})
    config = shared(
        prefix,
        EndpointSettings(base_url=stub.base_url, model="test-model", max_concurrency=1),
        llm_queue_timeout=0.3,
        max_retries=0,
    )
    first, second = LLMProvider(config), LLMProvider(config)
    try:
        outcomes = await asyncio.gather(
            ask(first, "one"), ask(second, "two"), return_exceptions=True
        )
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], LLMUnavailable)
        assert "busy" in str(errors[0])
        assert stub.count() == 1
    finally:
        await first.aclose()
        await second.aclose()
