"""Scale-out on one machine: three ``lmsa serve`` processes on loopback ports share the real
Redis (checkpoints, rate-limit counters, circuit breakers), as three containers behind the load
balancer would. One conversation moves between them turn by turn and loses nothing; a rate limit
counts requests to all three; a breaker opened by one instance keeps the others off the dead
endpoint.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.integration.helpers import (
    CHAT,
    ServerProcess,
    body_text,
    intent,
    metric_value,
    queue_of,
    server_env,
    start_server,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

INSTANCES = 3
KEY = "scale-key"


@pytest.fixture
def key_prefix() -> Iterator[str]:
    yield from fresh_key_prefix("scale")


@pytest.fixture
def cluster(stub: LMStudioStub, tmp_path: Path, key_prefix: str) -> Iterator[list[ServerProcess]]:
    stub.set_scenario(CHAT)
    env = server_env(
        stub,
        tmp_path,
        LMSA_CHECKPOINTER="redis",
        LMSA_REDIS_URL=REDIS_URL,
        LMSA_REDIS_KEY_PREFIX=key_prefix,
        LMSA_API_KEYS=f"{KEY},other-key",
        LMSA_RATE_LIMIT="12/minute",
        LMSA_RATE_LIMIT_STORAGE="redis",
        LMSA_LLM_REDIS="true",
        LMSA_LLM_BREAKER_THRESHOLD="2",
        LMSA_LLM_BREAKER_COOLDOWN="120",
        LMSA_MAX_RETRIES="0",
    )
    servers: list[ServerProcess] = []
    try:
        for index in range(INSTANCES):
            servers.append(start_server(env, tmp_path, name=f"instance-{index}"))
        yield servers
    finally:
        for server in servers:
            server.stop()


def _chat(server: ServerProcess, thread_id: str, text: str, key: str = KEY) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": text}]},
        headers={"X-Thread-Id": thread_id, "Authorization": f"Bearer {key}"},
        timeout=60,
    )


def test_one_conversation_alternates_between_instances_without_loss(
    cluster: list[ServerProcess], stub: LMStudioStub, key_prefix: str
) -> None:
    thread_id = f"scale-{uuid.uuid4().hex[:8]}"
    said: list[str] = []
    for turn in range(6):
        server = cluster[turn % INSTANCES]
        text = f"turn {turn} fact {uuid.uuid4().hex[:6]}"
        stub.reset()
        reply = _chat(server, thread_id, text)
        assert reply.status_code == 200, (turn, reply.text, server.log()[-2000:])
        assert reply.json()["choices"][0]["message"]["content"] == f"echo: {text}"
        said.append(text)
        prompt = body_text([b for b in stub.chat_requests() if queue_of(b) == "text"][-1])
        # The instance answering this turn saw every earlier turn, whichever instance ran it.
        for earlier in said:
            assert earlier in prompt, (turn, earlier)

    state = httpx.get(
        f"{cluster[1].url}/v1/threads/{thread_id}",
        headers={"X-API-Key": KEY},
        timeout=30,
    ).json()
    humans = [m["content"] for m in state["messages"] if m["type"] == "human"]
    assert humans == said
    assert len(state["messages"]) == 2 * len(said)
    stored = redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{key_prefix}*{thread_id}*")
    assert list(stored), "the thread lives in Redis under the test's prefix"


def test_rate_limit_is_shared_by_all_instances(cluster: list[ServerProcess]) -> None:
    statuses = []
    for request in range(15):
        server = cluster[request % INSTANCES]
        response = httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": "other-key"})
        statuses.append(response.status_code)
    # 12 per minute in total, not 12 per instance (which would allow all 15).
    assert statuses == [200] * 12 + [429] * 3
    refused = httpx.get(f"{cluster[0].url}/v1/models", headers={"X-API-Key": "other-key"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # Another key still has its own budget.
    assert httpx.get(f"{cluster[2].url}/v1/models", headers={"X-API-Key": KEY}).status_code == 200


def test_a_breaker_opened_on_one_instance_holds_on_the_others(
    cluster: list[ServerProcess], stub: LMStudioStub
) -> None:
    stub.set_scenario({**CHAT, "IntentResult": [{"status": 500, "error": "model crashed"}]})
    first, second, third = cluster
    failures = [_chat(first, f"breaker-{n}", "hello") for n in range(2)]
    assert all(f.status_code in (200, 503) for f in failures), [f.text for f in failures]
    calls_before = stub.count()
    assert calls_before >= 2

    # The endpoint is now marked down in Redis: the other instances refuse without calling it.
    for server in (second, third):
        refused = _chat(server, f"breaker-{server.port}", "hello")
        assert refused.status_code == 503, refused.text
        assert "circuit" in refused.json()["error"]["message"].lower() or "breaker" in (
            refused.json()["error"]["message"].lower()
        )
    assert stub.count() == calls_before

    metrics = httpx.get(f"{first.url}/metrics").text
    assert metric_value(metrics, "lmsa_llm_breaker_state") == 2

    stub.set_scenario({**CHAT, "IntentResult": [intent("conversation")]})


def test_a_thread_runs_one_turn_at_a_time_across_instances(
    cluster: list[ServerProcess], stub: LMStudioStub
) -> None:
    """While one instance runs a turn, another instance refuses a turn on the same thread (409)
    instead of forking its history; once the turn is over the thread is free everywhere."""
    from concurrent.futures import ThreadPoolExecutor

    stub.set_scenario({**CHAT, "text": [{"content": "slow answer", "delay_ms": 2500}]})
    thread_id = f"busy-{uuid.uuid4().hex[:8]}"
    first, second, third = cluster
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(_chat, first, thread_id, "take your time")
        deadline = time.monotonic() + 10
        while stub.count() < 2 and time.monotonic() < deadline:  # intent done, answer under way
            time.sleep(0.05)
        refused = _chat(second, thread_id, "me too")
        answered = running.result(timeout=60)
    assert answered.status_code == 200, answered.text
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "busy"
    stub.set_scenario(CHAT)
    after = _chat(third, thread_id, "now")
    assert (
        after.status_code == 200 and after.json()["choices"][0]["message"]["content"] == "echo: now"
    )
