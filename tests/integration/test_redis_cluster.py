"""lmsa on a real local Redis Cluster (three masters on loopback, started once per session by
the ``redis_cluster`` fixture): ``LMSA_REDIS_URL=redis+cluster://...`` gives every Redis user a
cluster client. Two ``lmsa serve`` processes share one conversation whose keys sit on more than
one node, one rate limit and one circuit breaker; a master that dies is named by ``/ready`` and
``lmsa doctor`` (on a cluster of its own, as the shared one must stay whole).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from redis.cluster import RedisCluster

from lmsa.redis_clients import async_client, sync_client
from tests.integration.conftest import RunLmsa
from tests.integration.helpers import (
    CHAT,
    ServerProcess,
    assert_no_traceback,
    body_text,
    metric_value,
    output,
    queue_of,
    server_env,
    start_server,
    start_servers,
)
from tests.redis_support import LocalCluster, local_cluster, purge_cluster_prefix
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

KEYS = [f"cluster-key-{n}" for n in range(8)]
_unused_keys = itertools.count()


@pytest.fixture(scope="module")
def shared_stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario=CHAT) as running:
        yield running


@pytest.fixture
def chat_stub(shared_stub: LMStudioStub) -> Iterator[LMStudioStub]:
    shared_stub.set_scenario(CHAT)
    shared_stub.reset()
    yield shared_stub


@pytest.fixture(scope="module")
def key_prefix(redis_cluster: LocalCluster) -> Iterator[str]:
    prefix = f"lmsa-cluster-{uuid.uuid4().hex[:12]}"
    yield prefix
    purge_cluster_prefix(redis_cluster.url, prefix)


def _env(stub: LMStudioStub, tmp_path: Path, url: str, key_prefix: str) -> dict[str, str]:
    return server_env(
        stub,
        tmp_path,
        LMSA_CHECKPOINTER="redis",
        LMSA_REDIS_URL=url,
        LMSA_REDIS_KEY_PREFIX=key_prefix,
        LMSA_API_KEYS=",".join(KEYS),
        LMSA_RATE_LIMIT="8/minute",
        LMSA_RATE_LIMIT_STORAGE="redis",
        LMSA_LLM_REDIS="true",
        LMSA_LLM_CACHE="true",
        LMSA_LLM_BREAKER_THRESHOLD="2",
        LMSA_LLM_BREAKER_COOLDOWN="120",
        LMSA_MAX_RETRIES="0",
        LMSA_AUDIT_REDIS_STREAM=f"{key_prefix}:audit",
    )


@pytest.fixture(scope="module")
def servers(
    shared_stub: LMStudioStub,
    redis_cluster: LocalCluster,
    key_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[ServerProcess]]:
    tmp_path = tmp_path_factory.mktemp("cluster-serve")
    env = _env(shared_stub, tmp_path, redis_cluster.url, key_prefix)
    running = start_servers(env, tmp_path, ["cluster-a", "cluster-b"])
    yield running
    for server in running:
        server.stop()


def _chat(server: ServerProcess, thread_id: str, text: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": text}]},
        headers={"X-Thread-Id": thread_id, "Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _node_of(client: RedisCluster, key: str) -> str:
    return str(client.get_node_from_key(key).name)


def _keys_by_node(cluster: LocalCluster, prefix: str) -> dict[int, list[bytes]]:
    found: dict[int, list[bytes]] = {}
    for port in cluster.ports:
        node = cluster.node(port)
        try:
            keys = list(node.scan_iter(match=f"*{prefix}*", count=1000))
        finally:
            node.close()
        if keys:
            found[port] = sorted(keys)
    return found


def test_a_conversation_across_two_servers_keeps_its_keys_on_several_nodes(
    servers: list[ServerProcess],
    chat_stub: LMStudioStub,
    redis_cluster: LocalCluster,
    key_prefix: str,
) -> None:
    key = KEYS[next(_unused_keys)]
    from lmsa.server.access import key_digest
    from lmsa.server.tenancy import Tenant

    directory = f"{{{key_prefix}}}:threads"
    client = redis_cluster.client()
    try:
        # A thread whose slot is on another node than the saver's thread directory, so the
        # conversation's keys are spread however the ids hash.
        thread_id = next(
            t
            for t in (f"cluster-{uuid.uuid4().hex[:8]}" for _ in range(100))
            if _node_of(client, f"{{{key_prefix}:{Tenant(key_digest(key)).stored(t)}}}:idx")
            != _node_of(client, directory)
        )
        said: list[str] = []
        for turn in range(4):
            server = servers[turn % 2]
            text = f"turn {turn} fact {uuid.uuid4().hex[:6]}"
            chat_stub.reset()
            reply = _chat(server, thread_id, text, key)
            assert reply.status_code == 200, (turn, reply.text, server.log()[-2000:])
            assert reply.json()["choices"][0]["message"]["content"] == f"echo: {text}"
            said.append(text)
            prompt = body_text([b for b in chat_stub.chat_requests() if queue_of(b) == "text"][-1])
            for earlier in said:  # each server saw the turns the other one ran
                assert earlier in prompt, (turn, earlier)
        assert client.zcard(directory) >= 1
    finally:
        client.close()

    state = httpx.get(
        f"{servers[1].url}/v1/threads/{thread_id}", headers={"X-API-Key": key}, timeout=30
    ).json()
    assert [m["content"] for m in state["messages"] if m["type"] == "human"] == said
    by_node = _keys_by_node(redis_cluster, key_prefix)
    assert len(by_node) >= 2, by_node
    thread_keys = [k for keys in by_node.values() for k in keys if thread_id.encode() in k]
    assert len(thread_keys) == 2, thread_keys  # {P:T}:idx and {P:T}:data, one slot


def test_a_rate_limit_counts_requests_to_both_servers_and_is_audited(
    servers: list[ServerProcess], redis_cluster: LocalCluster, key_prefix: str
) -> None:
    limited, other = KEYS[next(_unused_keys)], KEYS[next(_unused_keys)]
    statuses = [
        httpx.get(f"{servers[n % 2].url}/v1/models", headers={"X-API-Key": limited}).status_code
        for n in range(10)
    ]
    # 8 per minute in total, not 8 per server (which would allow all 10).
    assert statuses == [200] * 8 + [429] * 2
    assert httpx.get(f"{servers[1].url}/v1/models", headers={"X-API-Key": other}).status_code == 200
    # Both refusals reach the audit stream (written by a background thread: poll for them).
    client = redis_cluster.client()
    try:
        refusals: list[bytes] = []
        for _ in range(100):
            entries = client.xrange(f"{key_prefix}:audit")
            refusals = [e[b"entry"] for _, e in entries if b"rate_limited" in e[b"entry"]]
            if len(refusals) >= 2:
                break
            time.sleep(0.05)
    finally:
        client.close()
    assert len(refusals) == 2, refusals


def test_a_breaker_opened_by_one_server_keeps_the_other_off_the_endpoint(
    servers: list[ServerProcess], chat_stub: LMStudioStub
) -> None:
    # Last in the module: the open breaker (120 s cooldown) keeps these servers off the stub.
    key = KEYS[next(_unused_keys)]
    chat_stub.set_scenario({**CHAT, "IntentResult": [{"status": 500, "error": "model crashed"}]})
    failures = [_chat(servers[0], f"breaker-{n}-{uuid.uuid4().hex[:6]}", "hi", key) for n in (1, 2)]
    calls_before = chat_stub.count()
    refused = _chat(servers[1], f"breaker-b-{uuid.uuid4().hex[:6]}", "hi", key)
    calls_after = chat_stub.count()
    for failure in failures:
        assert failure.status_code == 503, failure.text
        assert "answered HTTP 500: model crashed" in failure.json()["error"]["message"]
    assert calls_before == 2
    assert refused.status_code == 503, refused.text
    assert "circuit breaker of endpoint" in refused.json()["error"]["message"]
    assert calls_after == calls_before  # the second server never called the dead endpoint
    assert metric_value(httpx.get(f"{servers[0].url}/metrics").text, "lmsa_llm_breaker_state") == 2


def test_a_dead_master_is_named_by_ready_and_doctor(
    stub: LMStudioStub, run_lmsa: RunLmsa, tmp_path: Path
) -> None:
    stub.set_scenario(CHAT)
    with local_cluster(tmp_path / "cluster") as cluster:
        env = _env(stub, tmp_path, cluster.url, f"lmsa-dead-{uuid.uuid4().hex[:8]}")
        server = start_server(env, tmp_path, "dead-master")
        try:
            before = httpx.get(f"{server.url}/ready", headers={"X-API-Key": KEYS[0]}, timeout=30)
            victim = cluster.ports[1]
            cluster.kill(victim)
            after = httpx.get(f"{server.url}/ready", headers={"X-API-Key": KEYS[0]}, timeout=30)
        finally:
            server.stop()
        doctor = run_lmsa("doctor", env=env)

    assert before.status_code == 200, before.text
    assert after.status_code == 503, after.text
    named = f"Redis Cluster primary 127.0.0.1:{victim} does not answer"
    assert any(named in reason for reason in after.json()["reasons"]), after.json()
    assert "Traceback" not in server.log()
    assert doctor.returncode != 0, output(doctor)
    assert_no_traceback(doctor)
    store_row = next(line for line in doctor.stdout.splitlines() if "Conversation store" in line)
    # The table wraps long cells: the row names the node, a continuation line says the rest.
    assert "FAIL" in store_row and f"primary 127.0.0.1:{victim}" in store_row, doctor.stdout
    assert "does not answer" in doctor.stdout


# ---- the factory's bounds on a cluster ------------------------------------------------------


def test_sync_cluster_nodes_sit_on_bounded_blocking_pools(redis_cluster: LocalCluster) -> None:
    client = sync_client(redis_cluster.url, max_connections=3, pool_timeout=2.5)
    try:
        assert isinstance(client, RedisCluster)
        pools = [node.redis_connection.connection_pool for node in client.get_nodes()]
        assert len(pools) == len(redis_cluster.ports)
        for pool in pools:
            assert isinstance(pool, redis.BlockingConnectionPool)
            assert (pool.max_connections, pool.timeout) == (3, 2.5)
    finally:
        client.close()


async def test_a_burst_on_an_async_cluster_client_waits_for_its_few_connections(
    redis_cluster: LocalCluster,
) -> None:
    prefix = f"lmsa-burst-{uuid.uuid4().hex[:8]}"
    client = async_client(redis_cluster.url, max_connections=2, pool_timeout=30)
    try:
        # redis-py's own node pools would raise MaxConnectionsError past two at once.
        replies = await asyncio.gather(*(client.incr(f"{prefix}:{n % 9}") for n in range(200)))
        assert len(replies) == 200
        counts = [int(await client.get(f"{prefix}:{n}")) for n in range(9)]
        assert sum(counts) == 200
    finally:
        await client.aclose()
        purge_cluster_prefix(redis_cluster.url, prefix)


async def test_an_async_cluster_command_gives_up_after_the_pool_timeout(
    redis_cluster: LocalCluster,
) -> None:
    client = async_client(redis_cluster.url, max_connections=1, pool_timeout=0.2)
    blocked = f"lmsa-blocked-{uuid.uuid4().hex[:8]}"
    try:
        holder = asyncio.create_task(client.blpop([blocked], timeout=3))
        while not client._lmsa_gate._semaphore or not client._lmsa_gate._semaphore.locked():  # type: ignore[union-attr]
            await asyncio.sleep(0.01)
        with pytest.raises(redis.ConnectionError, match="No connection available"):
            await client.get(f"{blocked}-other")
        await client.aclose()
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
    finally:
        await client.aclose()
