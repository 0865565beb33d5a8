"""Scale-out on one machine: three ``lmsa serve`` processes on loopback ports share the real
Redis (checkpoints, rate-limit counters, circuit breakers, turn leases), as three containers
behind the load balancer would. One conversation moves between them turn by turn and loses
nothing; a rate limit counts requests to all three; a breaker opened by one instance keeps the
others off the dead endpoint; a turn's lease keeps a thread to one turn at a time across
instances, is renewed while the turn runs, released when a streaming client hangs up, and
expires after its instance is killed mid-turn.

The three instances are started once per module, concurrently. Each test uses its own API key
(rate limits are per key) and its own thread ids. A turn is kept in flight with the stub's
``hold`` replies, never by racing a sleep.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from lmsa.server.access import key_digest
from lmsa.server.tenancy import Tenant
from tests.integration.helpers import (
    CHAT,
    ServerProcess,
    body_text,
    metric_value,
    queue_of,
    server_env,
    start_server,
    start_servers,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

require_redis()
pytestmark = pytest.mark.integration

INSTANCES = 3
KEYS = [f"scale-key-{n}" for n in range(16)]
_unused_keys = itertools.count()
HELD_ANSWER = {**CHAT, "text": [{"content": "held answer", "hold": True}]}
# redis-py's Lock default for ThreadLocks (lmsa/server/locks.py); no setting changes it.
LEASE_SECONDS = 30


@pytest.fixture(scope="module")
def shared_stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario=CHAT) as running:
        yield running


@pytest.fixture
def stub(shared_stub: LMStudioStub) -> Iterator[LMStudioStub]:
    shared_stub.set_scenario(CHAT)
    shared_stub.reset()
    yield shared_stub
    shared_stub.release()  # no reply stays held into the next test


@pytest.fixture(scope="module")
def key_prefix() -> Iterator[str]:
    yield from fresh_key_prefix("scale")


@pytest.fixture(scope="module")
def cluster_env(
    shared_stub: LMStudioStub, tmp_path_factory: pytest.TempPathFactory, key_prefix: str
) -> dict[str, str]:
    return _env(shared_stub, tmp_path_factory.mktemp("scale"), key_prefix)


def _env(stub: LMStudioStub, tmp_path: Path, key_prefix: str) -> dict[str, str]:
    return server_env(
        stub,
        tmp_path,
        LMSA_CHECKPOINTER="redis",
        LMSA_REDIS_URL=REDIS_URL,
        LMSA_REDIS_KEY_PREFIX=key_prefix,
        LMSA_API_KEYS=",".join(KEYS),
        LMSA_RATE_LIMIT="12/minute",
        LMSA_RATE_LIMIT_STORAGE="redis",
        LMSA_LLM_REDIS="true",
        LMSA_LLM_BREAKER_THRESHOLD="2",
        LMSA_LLM_BREAKER_COOLDOWN="120",
        LMSA_MAX_RETRIES="0",
    )


@pytest.fixture(scope="module")
def cluster(cluster_env: dict[str, str]) -> Iterator[list[ServerProcess]]:
    tmp_path = Path(cluster_env["LMSA_DATA_DIR"]).parent
    servers = start_servers(cluster_env, tmp_path, [f"instance-{n}" for n in range(INSTANCES)])
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def key() -> str:
    """An API key no other test of the module uses (its own rate-limit budget)."""
    return KEYS[next(_unused_keys)]


@pytest.fixture
def lease_store() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def _lease_key(key_prefix: str, key: str, thread_id: str) -> str:
    """ThreadLocks.lease of the API key's thread (stored under the key's own namespace)."""
    stored = Tenant(key_digest(key)).stored(thread_id)
    return f"{{{key_prefix}:{stored}}}:turn"


def _thread(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _chat(
    server: ServerProcess, thread_id: str, text: str, key: str, *, stream: bool = False
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": text}], "stream": stream},
        headers={"X-Thread-Id": thread_id, "Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _wait_until_gone(store: redis.Redis, name: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while store.exists(name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_one_conversation_alternates_between_instances_without_loss(
    cluster: list[ServerProcess], stub: LMStudioStub, key_prefix: str, key: str
) -> None:
    thread_id = _thread("scale")
    said: list[str] = []
    for turn in range(6):
        server = cluster[turn % INSTANCES]
        text = f"turn {turn} fact {uuid.uuid4().hex[:6]}"
        stub.reset()
        reply = _chat(server, thread_id, text, key)
        assert reply.status_code == 200, (turn, reply.text, server.log()[-2000:])
        assert reply.json()["choices"][0]["message"]["content"] == f"echo: {text}"
        said.append(text)
        prompt = body_text([b for b in stub.chat_requests() if queue_of(b) == "text"][-1])
        # The instance answering this turn saw every earlier turn, whichever instance ran it.
        for earlier in said:
            assert earlier in prompt, (turn, earlier)

    state = httpx.get(
        f"{cluster[1].url}/v1/threads/{thread_id}", headers={"X-API-Key": key}, timeout=30
    ).json()
    humans = [m["content"] for m in state["messages"] if m["type"] == "human"]
    assert humans == said
    assert len(state["messages"]) == 2 * len(said)
    stored = redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{key_prefix}*{thread_id}*")
    assert list(stored), "the thread lives in Redis under the test's prefix"


def test_rate_limit_is_shared_by_all_instances(cluster: list[ServerProcess]) -> None:
    limited, other = KEYS[next(_unused_keys)], KEYS[next(_unused_keys)]
    statuses = []
    for request in range(15):
        server = cluster[request % INSTANCES]
        response = httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": limited})
        statuses.append(response.status_code)
    # 12 per minute in total, not 12 per instance (which would allow all 15).
    assert statuses == [200] * 12 + [429] * 3
    refused = httpx.get(f"{cluster[0].url}/v1/models", headers={"X-API-Key": limited})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # Another key still has its own budget.
    assert httpx.get(f"{cluster[2].url}/v1/models", headers={"X-API-Key": other}).status_code == 200


def test_a_breaker_opened_on_one_instance_holds_on_the_others(
    stub: LMStudioStub, tmp_path: Path, key: str
) -> None:
    # Its own instances and key prefix: the open breaker (120 s cooldown) lives in Redis under
    # the prefix and would keep the shared cluster off the stub.
    prefixes = fresh_key_prefix("breaker")
    prefix = next(prefixes)
    breaker = start_servers(_env(stub, tmp_path, prefix), tmp_path, ["b-0", "b-1", "b-2"])
    try:
        stub.set_scenario({**CHAT, "IntentResult": [{"status": 500, "error": "model crashed"}]})
        first = breaker[0]
        failures = [_chat(first, f"breaker-{n}", "hello", key) for n in range(2)]
        calls_before = stub.count()
        # The endpoint is now marked down in Redis: the others refuse without calling it.
        refusals = [_chat(server, f"breaker-{server.port}", "hello", key) for server in breaker[1:]]
        calls_after = stub.count()
        metrics = httpx.get(f"{first.url}/metrics").text
    finally:
        for server in breaker:
            server.stop()
        list(prefixes)  # delete the prefix's keys
    for failure in failures:
        assert failure.status_code == 503, failure.text
        assert failure.json()["error"]["code"] == "upstream_unavailable"
        assert "answered HTTP 500: model crashed" in failure.json()["error"]["message"]
    assert calls_before == 2  # one intent call per failed turn, no retries
    for refused in refusals:
        assert refused.status_code == 503, refused.text
        assert "circuit breaker of endpoint" in refused.json()["error"]["message"]
    assert calls_after == calls_before
    assert metric_value(metrics, "lmsa_llm_breaker_state") == 2


def test_a_thread_runs_one_turn_at_a_time_across_instances(
    cluster: list[ServerProcess], stub: LMStudioStub, key: str
) -> None:
    """While one instance runs a turn, another instance refuses a turn on the same thread (409)
    instead of forking its history; once the turn is over the thread is free everywhere."""
    stub.set_scenario(HELD_ANSWER)
    thread_id = _thread("busy")
    first, second, third = cluster
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(_chat, first, thread_id, "take your time", key)
        try:
            assert stub.wait_held(1), "the first turn never reached the answer"
            refused = _chat(second, thread_id, "me too", key)
        finally:
            stub.release()
        answered = running.result(timeout=60)
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "held answer"
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "busy"
    stub.set_scenario(CHAT)
    after = _chat(third, thread_id, "now", key)
    assert after.status_code == 200, after.text
    assert after.json()["choices"][0]["message"]["content"] == "echo: now"


# ---- turn leases ----------------------------------------------------------------------------
# The lease length is fixed (30 s, no setting), so where a test needs time to pass it shortens
# the lease key's TTL in Redis, as the clock would.


def test_a_lease_is_renewed_while_its_turn_runs(
    cluster: list[ServerProcess],
    stub: LMStudioStub,
    key: str,
    key_prefix: str,
    lease_store: redis.Redis,
) -> None:
    stub.set_scenario(HELD_ANSWER)
    thread_id = _thread("renew")
    lease = _lease_key(key_prefix, key, thread_id)
    shortened_ms = 11_000  # past the first renewal (LEASE_SECONDS / 3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(_chat, cluster[0], thread_id, "a long turn", key)
        try:
            assert stub.wait_held(1), "the turn never reached the answer"
            assert 0 < lease_store.pttl(lease) <= LEASE_SECONDS * 1000
            lease_store.pexpire(lease, shortened_ms)
            deadline = time.monotonic() + shortened_ms / 1000 + 2
            ttl = lease_store.pttl(lease)
            while 0 < ttl <= shortened_ms and time.monotonic() < deadline:
                time.sleep(0.1)
                ttl = lease_store.pttl(lease)
            # Renewed: the turn still holds the thread past the lease's shortened end.
            assert ttl > shortened_ms, f"the lease was not renewed (TTL {ttl} ms)"
            refused = _chat(cluster[1], thread_id, "me too", key)
        finally:
            stub.release()
        answered = running.result(timeout=60)
    assert refused.status_code == 409, refused.text
    assert answered.status_code == 200, answered.text
    assert not lease_store.exists(lease), "the finished turn released its lease"


def test_a_lease_held_by_a_killed_instance_expires(
    cluster: list[ServerProcess],
    cluster_env: dict[str, str],
    stub: LMStudioStub,
    key: str,
    key_prefix: str,
    lease_store: redis.Redis,
    tmp_path: Path,
) -> None:
    doomed = start_server(cluster_env, tmp_path, "doomed")
    stub.set_scenario(HELD_ANSWER)
    thread_id = _thread("crash")
    lease = _lease_key(key_prefix, key, thread_id)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            dying = pool.submit(_chat, doomed, thread_id, "a turn that never ends", key)
            assert stub.wait_held(1), "the turn never reached the answer"
            doomed.proc.kill()  # SIGKILL: no shutdown, no release
            doomed.proc.wait(timeout=10)
            with pytest.raises(httpx.HTTPError):
                dying.result(timeout=60)
    finally:
        doomed.stop()
    stub.release()
    stub.set_scenario(CHAT)
    assert lease_store.pttl(lease) > 0, "the dead instance's lease is still there"
    before = _chat(cluster[1], thread_id, "too early", key)
    assert before.status_code == 409, before.text

    lease_store.pexpire(lease, 1)  # the lease's time runs out
    assert _wait_until_gone(lease_store, lease)
    after = _chat(cluster[1], thread_id, "after the lease", key)
    assert after.status_code == 200, after.text
    assert after.json()["choices"][0]["message"]["content"] == "echo: after the lease"


def test_a_crashed_turn_leaves_the_thread_to_continue_elsewhere(
    cluster: list[ServerProcess],
    cluster_env: dict[str, str],
    stub: LMStudioStub,
    key: str,
    key_prefix: str,
    lease_store: redis.Redis,
    tmp_path: Path,
) -> None:
    doomed = start_server(cluster_env, tmp_path, "doomed")
    thread_id = _thread("resume")
    earlier = [f"fact {n} {uuid.uuid4().hex[:6]}" for n in range(2)]
    try:
        for text in earlier:
            assert _chat(doomed, thread_id, text, key).status_code == 200
        stub.set_scenario(HELD_ANSWER)
        with ThreadPoolExecutor(max_workers=1) as pool:
            dying = pool.submit(_chat, doomed, thread_id, "the crashed turn", key)
            assert stub.wait_held(1), "the turn never reached the answer"
            doomed.proc.kill()
            doomed.proc.wait(timeout=10)
            with pytest.raises(httpx.HTTPError):
                dying.result(timeout=60)
    finally:
        doomed.stop()
    stub.release()
    stub.set_scenario(CHAT)
    stub.reset()
    lease_store.pexpire(_lease_key(key_prefix, key, thread_id), 1)
    assert _wait_until_gone(lease_store, _lease_key(key_prefix, key, thread_id))

    resumed = _chat(cluster[2], thread_id, "what did I tell you?", key)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["choices"][0]["message"]["content"] == "echo: what did I tell you?"
    prompt = body_text([b for b in stub.chat_requests() if queue_of(b) == "text"][-1])
    for text in earlier:
        assert text in prompt, text
    state = httpx.get(
        f"{cluster[0].url}/v1/threads/{thread_id}", headers={"X-API-Key": key}, timeout=30
    ).json()
    contents = [m["content"] for m in state["messages"]]
    # The two finished turns come first, unchanged, and the new turn last. Between them only the
    # crashed turn's question can appear: whether its checkpoint reached Redis before the kill
    # depends on when the background checkpoint write ran, so both are correct outcomes.
    assert contents[:4] == [earlier[0], f"echo: {earlier[0]}", earlier[1], f"echo: {earlier[1]}"]
    assert contents[4:-2] in ([], ["the crashed turn"]), contents
    assert contents[-2:] == ["what did I tell you?", "echo: what did I tell you?"]


def test_a_streaming_client_that_hangs_up_releases_the_lease(
    cluster: list[ServerProcess],
    stub: LMStudioStub,
    key: str,
    key_prefix: str,
    lease_store: redis.Redis,
) -> None:
    stub.set_scenario(HELD_ANSWER)
    thread_id = _thread("hangup")
    lease = _lease_key(key_prefix, key, thread_id)
    with (
        httpx.Client(timeout=60) as client,
        client.stream(
            "POST",
            f"{cluster[0].url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "stream"}], "stream": True},
            headers={"X-Thread-Id": thread_id, "Authorization": f"Bearer {key}"},
        ) as response,
    ):
        assert response.status_code == 200
        assert stub.wait_held(1), "the turn never reached the answer"
        assert lease_store.exists(lease), "the running turn holds a lease"
        # Leaving the block closes the connection mid-stream.
    assert _wait_until_gone(lease_store, lease), "the lease outlived the client's hang-up"
    stub.set_scenario(CHAT)
    next_turn = _chat(cluster[1], thread_id, "still there?", key)
    assert next_turn.status_code == 200, next_turn.text
