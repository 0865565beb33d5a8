"""Rate limits and the audit stream against the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from lmsa.security import AuditLog, RateLimiter
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis

require_redis()

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from fresh_key_prefix("sec")


def test_redis_limits_are_shared_between_instances(prefix: str) -> None:
    first = RateLimiter("3/minute", storage_uri=REDIS_URL, key_prefix=f"{prefix}:rl")
    second = RateLimiter("3/minute", storage_uri=REDIS_URL, key_prefix=f"{prefix}:rl")
    assert first.hit("user-1").allowed
    assert second.hit("user-1").allowed
    assert first.hit("user-1").allowed
    refused = second.hit("user-1")
    assert not refused.allowed and refused.retry_after_s > 0
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{prefix}:rl*"))
    assert keys, "the counts must live in Redis"


def test_audit_records_go_to_the_stream_without_secrets(prefix: str, tmp_path) -> None:
    stream = f"{prefix}:audit"
    audit = AuditLog(tmp_path / "audit.jsonl", redis_url=REDIS_URL, stream=stream)
    audit.record(
        "rate_limited",
        thread_id="t1",
        request_id="r1",
        reason="token ghp_16C7e42F292c6912E7710c838347Ae178B4a was used",
    )
    assert audit.flush()
    entries = redis.Redis.from_url(REDIS_URL).xrange(stream)
    assert len(entries) == 1
    record = json.loads(entries[0][1][b"entry"])
    assert record["event"] == "rate_limited" and record["thread_id"] == "t1"
    assert "ghp_" not in record["reason"]
    assert json.loads((tmp_path / "audit.jsonl").read_text()) == record
