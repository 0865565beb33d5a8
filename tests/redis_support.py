"""The one place tests decide whether the real Redis is there.

Locally a missing Redis skips the module with the reason; under CI (which starts Redis) it fails
(see :mod:`tests.deps`), so a broken pipeline cannot pass by skipping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import redis

from tests.deps import missing

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url: str = REDIS_URL) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def require_redis() -> None:
    """Call at module level in a test module that needs Redis."""
    if not redis_answers():
        missing(f"Redis does not answer PING at {REDIS_URL}; start it to run these tests")


def fresh_key_prefix(label: str) -> Iterator[str]:
    """Body of a fixture: a key prefix no other test uses, whose keys (whatever the key layout
    puts around it) are deleted when the test is done."""
    prefix = f"lmsa-{label}-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
