"""The HTTP API as clients use it: ``lmsa serve`` in a subprocess on a loopback port, talking
real HTTP to the scripted LM Studio stub, driven by httpx and by the official openai SDK.

Assertions are on status codes, bodies, headers, what the stub was asked, the process's
``/metrics`` and its JSON log lines; never on lmsa internals.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.helpers import (
    CHAT,
    COMPLETE,
    ServerProcess,
    body_text,
    intent,
    metric_value,
    plan,
    queue_of,
    server_env,
    sse_events,
    start_server,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

CLARIFY = {
    "IntentResult": [
        intent("file_operation", 0.3, question="Which file should I summarise?"),
        intent("file_operation", entities=("notes.txt",)),
    ],
    "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
    "Validation": [COMPLETE],
    "text": ["Summary: it holds the launch code."],
}


# One stub and one ``lmsa serve`` for the tests that need the default settings (started once
# per module); each test resets the stub, uses its own thread ids and reads metrics as deltas.
# Tests of other settings start their own server.


@pytest.fixture(scope="module")
def shared_stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario=CHAT) as running:
        yield running


@pytest.fixture(scope="module")
def shared_server(
    shared_stub: LMStudioStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("api")
    running = start_server(server_env(shared_stub, tmp_path), tmp_path)
    yield running
    running.stop()


@pytest.fixture
def stub(shared_stub: LMStudioStub) -> LMStudioStub:
    shared_stub.set_scenario(CHAT)
    shared_stub.reset()
    return shared_stub


@pytest.fixture
def server(shared_server: ServerProcess, stub: LMStudioStub) -> ServerProcess:
    return shared_server


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


def new_thread(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def metrics_of(client: httpx.Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


# ---- operations -----------------------------------------------------------------------------


def test_health_ready_and_metrics(client: httpx.Client, stub: LMStudioStub) -> None:
    before = metric_value(
        metrics_of(client), "lmsa_http_requests_total", route="/ready", status="503"
    )
    assert client.get("/health").json() == {"status": "ok"}

    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert "test-model" in ready.json()["checks"]["llm"]["detail"]

    stub.set_scenario({**CHAT, "loaded": False})
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503
    assert any("no model loaded" in reason for reason in not_ready.json()["reasons"])

    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    after = metric_value(metrics.text, "lmsa_http_requests_total", route="/ready", status="503")
    assert after - before == 1


def test_ready_names_an_unreachable_llm(tmp_path: Path) -> None:
    running = start_server(server_env(None, tmp_path), tmp_path)
    try:
        ready = httpx.get(f"{running.url}/ready", timeout=30)
    finally:
        running.stop()
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["checkpointer"]["ok"] is True
    assert body["checks"]["llm"]["ok"] is False
    assert "unreachable" in body["reasons"][0]


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/threads/{thread_id}/resume"} <= set(
        spec["paths"]
    )
    assert client.get("/docs").status_code == 200


# ---- OpenAI compatibility -------------------------------------------------------------------


def test_openai_sdk_chat_keeps_the_thread(server: ServerProcess, stub: LMStudioStub) -> None:
    import openai

    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    models = sdk.models.list()
    assert [m.id for m in models.data] == ["lmsa"]

    headers = {"X-Thread-Id": "sdk-thread-1"}
    first = sdk.chat.completions.create(
        model="lmsa",
        messages=[{"role": "user", "content": "my name is Ada"}],
        extra_headers=headers,
    )
    assert first.choices[0].message.content == "echo: my name is Ada"
    assert first.model_extra is not None
    assert first.model_extra["lmsa"]["thread_id"] == "sdk-thread-1"
    assert first.model_extra["lmsa"]["status"] == "completed"

    stub.reset()
    second = sdk.chat.completions.create(
        model="lmsa",
        messages=[
            {"role": "user", "content": "my name is Ada"},
            {"role": "assistant", "content": "echo: my name is Ada"},
            {"role": "user", "content": "what is my name?"},
        ],
        extra_headers=headers,
    )
    assert second.choices[0].message.content == "echo: what is my name?"
    answer_prompt = [b for b in stub.chat_requests() if queue_of(b) == "text"][-1]
    # The thread's own history (from the checkpointer) reaches the model exactly once.
    assert body_text(answer_prompt).count('"content": "my name is Ada"') == 1

    stream = sdk.chat.completions.create(
        model="lmsa",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_clarification_round_trip(client: httpx.Client, stub: LMStudioStub) -> None:
    stub.set_scenario(CLARIFY)
    headers = {"X-Thread-Id": "clarify-1"}
    asked = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "summarise the file"}]},
        headers=headers,
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["choices"][0]["message"]["content"] == "Which file should I summarise?"
    assert asked.json()["lmsa"]["status"] == "interrupted"
    assert asked.json()["lmsa"]["interrupt"]["value"]["kind"] == "clarification"

    answered = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "the notes.txt one"}]},
        headers=headers,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == (
        "Summary: it holds the launch code."
    )
    final_prompt = [b for b in stub.chat_requests() if queue_of(b) == "text"][-1]
    assert "PINEAPPLE-42" in body_text(final_prompt)
    assert "the notes.txt one" in body_text(final_prompt)


def test_stateless_chat_seeds_a_fresh_thread(client: httpx.Client, stub: LMStudioStub) -> None:
    reply = client.post(
        "/v1/chat/completions",
        json={
            "model": "anything",
            "temperature": 0.1,
            "messages": [
                {"role": "system", "content": "You are a pirate."},
                {"role": "user", "content": "earlier question"},
                {"role": "assistant", "content": "earlier answer"},
                {"role": "user", "content": [{"type": "text", "text": "and now?"}]},
            ],
        },
    )
    assert reply.status_code == 200, reply.text
    thread_id = reply.headers["x-thread-id"]
    assert reply.json()["lmsa"]["thread_id"] == thread_id
    prompt = body_text([b for b in stub.chat_requests() if queue_of(b) == "text"][-1])
    assert "earlier question" in prompt and "earlier answer" in prompt
    assert "pirate" not in prompt
    state = client.get(f"/v1/threads/{thread_id}").json()
    assert [m["type"] for m in state["messages"]] == ["human", "ai", "human", "ai"]


# ---- threads and runs -----------------------------------------------------------------------


def test_thread_lifecycle(client: httpx.Client) -> None:
    created = client.post("/v1/threads", json={"thread_id": "life-1"})
    assert created.status_code == 201, created.text
    assert client.post("/v1/threads", json={"thread_id": "life-1"}).status_code == 409
    generated = client.post("/v1/threads")
    assert generated.status_code == 201 and generated.json()["thread_id"]

    run = client.post("/v1/threads/life-1/runs", json={"message": "hello"})
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"
    assert run.json()["answer"] == "echo: hello"
    assert run.json()["intent"] == "conversation"
    assert set(run.json()["nodes"]) == {"guard", "classify_intent", "respond"}

    state = client.get("/v1/threads/life-1").json()
    assert state["status"] == "idle"
    assert [m["content"] for m in state["messages"]] == ["hello", "echo: hello"]
    history = client.get("/v1/threads/life-1/history", params={"limit": 3}).json()
    newest, older, oldest = history["checkpoints"]  # exactly the 3 asked for
    # Newest first, each the child of the next one.
    assert newest["messages"] == 2 and newest["next"] == []
    assert newest["parent_checkpoint_id"] == older["checkpoint_id"]
    assert older["parent_checkpoint_id"] == oldest["checkpoint_id"]
    assert newest["step"] == older["step"] + 1 == oldest["step"] + 2

    assert client.delete("/v1/threads/life-1").status_code == 204
    gone = client.get("/v1/threads/life-1")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "thread_not_found"


def test_run_streams_tokens_and_node_updates(client: httpx.Client) -> None:
    client.post("/v1/threads", json={"thread_id": "stream-1"})
    response = client.post(
        "/v1/threads/stream-1/runs", json={"message": "tell me a story", "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "metadata" and names[-1] == "end"
    nodes = [json.loads(data)["node"] for name, data in events if name == "node"]
    assert nodes == ["guard", "classify_intent", "respond"]
    tokens = [json.loads(data)["text"] for name, data in events if name == "token"]
    assert len(tokens) > 1 and "".join(tokens) == "echo: tell me a story"
    # Tokens arrive before the respond node reports it finished.
    respond_done = next(
        i for i, (name, data) in enumerate(events) if name == "node" and '"respond"' in data
    )
    assert names.index("token") < respond_done
    end = json.loads(events[-1][1])
    assert end["answer"] == "echo: tell me a story"


def test_resume_a_clarification(client: httpx.Client, stub: LMStudioStub) -> None:
    stub.set_scenario(CLARIFY)
    client.post("/v1/threads", json={"thread_id": "resume-1"})
    asked = client.post("/v1/threads/resume-1/runs", json={"message": "summarise the file"})
    assert asked.json()["status"] == "interrupted"
    assert asked.json()["interrupt"]["value"]["question"] == "Which file should I summarise?"
    assert client.get("/v1/threads/resume-1").json()["status"] == "interrupted"

    blocked = client.post("/v1/threads/resume-1/runs", json={"message": "something else"})
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "interrupt_pending"
    wrong_kind = client.post("/v1/threads/resume-1/resume", json={"decision": "approve"})
    assert wrong_kind.status_code == 422

    resumed = client.post(
        "/v1/threads/resume-1/resume", json={"answer": "the notes.txt one", "stream": True}
    )
    events = sse_events(resumed)
    end = json.loads(events[-1][1])
    assert events[-1][0] == "end", events
    assert end["status"] == "completed"
    assert end["answer"] == "Summary: it holds the launch code."
    again = client.post("/v1/threads/resume-1/resume", json={"answer": "more"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "no_interrupt"


# ---- client mistakes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400),
        ("POST", "/v1/chat/completions", b'{"messages": "hi"}', 422),
        ("POST", "/v1/chat/completions", b'{"messages": []}', 422),
        ("POST", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": " "}]}', 422),
        (
            "POST",
            "/v1/chat/completions",
            b'{"messages": [{"role": "wizard", "content": "x"}]}',
            422,
        ),
        ("POST", "/v1/chat/completions", b'{"messages": [{"role": "user"}], "stream": 1}', 422),
        ("POST", "/v1/threads/ghost/runs", b'{"message": "hi"}', 404),
        ("POST", "/v1/threads/ghost/resume", b'{"answer": "hi"}', 404),
        ("GET", "/v1/threads/ghost/history", b"", 404),
        ("DELETE", "/v1/threads/ghost", b"", 404),
        ("POST", "/v1/threads/bad%20id/runs", b'{"message": "hi"}', 422),
        ("POST", "/v1/threads", b'{"thread_id": 7}', 422),
        ("POST", "/v1/threads", b'{"unknown": true}', 422),
        ("GET", "/v1/threads/ghost/history?limit=0", b"", 422),
        ("GET", "/v1/threads/ghost/history?limt=3", b"", 422),
        ("GET", "/v1/models?verbose=1", b"", 422),
        ("GET", "/v1/nowhere", b"", 404),
        ("PUT", "/v1/chat/completions", b"{}", 405),
    ],
)
def test_client_mistakes_get_a_4xx_json_error(
    client: httpx.Client, method: str, path: str, body: bytes, status: int
) -> None:
    response = client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]


def test_oversize_bodies_are_refused(stub: LMStudioStub, tmp_path: Path) -> None:
    stub.set_scenario(CHAT)
    running = start_server(server_env(stub, tmp_path, LMSA_MAX_BODY_BYTES="2048"), tmp_path)
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    try:
        declared = httpx.post(f"{running.url}/v1/chat/completions", content=big)

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit must still hold
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        streamed = httpx.post(f"{running.url}/v1/chat/completions", content=chunked())
        small = httpx.post(
            f"{running.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "fits"}]},
            timeout=30,
        )
    finally:
        running.stop()
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
    assert small.status_code == 200
    assert stub.count() == 2  # only the small request reached the model (intent + answer)


def test_llm_down_mid_conversation_is_a_503_with_a_sentence(
    client: httpx.Client, stub: LMStudioStub
) -> None:
    errors_before = metric_value(metrics_of(client), "lmsa_graph_turns_total", outcome="error")
    warm = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert warm.status_code == 200
    stub.set_scenario({**CHAT, "loaded": False})
    response = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi again"}]}
    )
    assert response.status_code == 503, response.text
    assert "no model loaded" in response.json()["error"]["message"]
    streamed = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "and now"}], "stream": True},
    )
    events = [data for _, data in sse_events(streamed)]
    assert "no model loaded" in json.loads(events[-1])["error"]["message"]
    errors = metric_value(metrics_of(client), "lmsa_graph_turns_total", outcome="error")
    assert errors - errors_before == 2


# ---- auth and observability -----------------------------------------------------------------


def test_api_keys_guard_the_api_but_not_operations(stub: LMStudioStub, tmp_path: Path) -> None:
    stub.set_scenario(CHAT)
    running = start_server(server_env(stub, tmp_path, LMSA_API_KEYS="k-one, k-two"), tmp_path)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    url = f"{running.url}/v1/chat/completions"
    try:
        missing = httpx.post(url, json=body)
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
        bearer = httpx.post(url, json=body, headers={"Authorization": "Bearer k-two"}, timeout=30)
        header = httpx.post(url, json=body, headers={"X-API-Key": "k-one"}, timeout=30)
        health = httpx.get(f"{running.url}/health")
        metrics = httpx.get(f"{running.url}/metrics")
    finally:
        running.stop()
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert bearer.status_code == 200 and header.status_code == 200
    assert health.status_code == 200 and metrics.status_code == 200
    assert "k-one" not in running.log() and "k-two" not in running.log()


def test_rate_limit_per_key_answers_429_with_retry_after(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(CHAT)
    env = server_env(stub, tmp_path, LMSA_API_KEYS="a-key,b-key", LMSA_RATE_LIMIT="2/minute")
    running = start_server(env, tmp_path)
    url = f"{running.url}/v1/models"
    try:
        a = [httpx.get(url, headers={"X-API-Key": "a-key"}).status_code for _ in range(3)]
        b = httpx.get(url, headers={"X-API-Key": "b-key"})
        refused = httpx.get(url, headers={"X-API-Key": "a-key"})
        metrics = httpx.get(f"{running.url}/metrics").text
    finally:
        running.stop()
    assert a == [200, 200, 429]
    assert b.status_code == 200  # limits are per key
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert metric_value(metrics, "lmsa_rate_limited_total") == 2
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    hits = [json.loads(line) for line in audit.splitlines() if '"rate_limited"' in line]
    assert len(hits) == 2 and all(hit["scope"] == "api_key" for hit in hits)
    assert "a-key" not in audit  # only the key's digest is recorded


def test_turn_metrics_and_json_logs(server: ServerProcess, client: httpx.Client) -> None:
    thread_id = new_thread("obs")
    request_id = f"req-{thread_id}"
    route = "/v1/threads/{thread_id}/runs"
    nodes = ("guard", "classify_intent", "respond")

    def counts(text: str) -> list[float]:
        return [
            metric_value(text, "lmsa_graph_turns_total", outcome="completed"),
            metric_value(text, "lmsa_graph_turn_seconds_count"),
            *(metric_value(text, "lmsa_node_seconds_count", node=node) for node in nodes),
            metric_value(
                text, "lmsa_http_requests_total", method="POST", route=route, status="200"
            ),
        ]

    client.post("/v1/threads", json={"thread_id": thread_id})
    before = counts(metrics_of(client))
    run = client.post(
        f"/v1/threads/{thread_id}/runs",
        json={"message": "observe me"},
        headers={"X-Request-Id": request_id},
    )
    assert run.status_code == 200
    assert run.headers["x-request-id"] == request_id
    after = counts(metrics_of(client))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1] * len(after)

    deadline = time.monotonic() + 5
    turns: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not turns:
        turns = [
            r
            for r in server.log_records()
            if r.get("event") == "turn" and r.get("thread_id") == thread_id
        ]
        time.sleep(0.05)
    assert len(turns) == 1, "the turn's log record was not written within 5 s"
    turn = turns[0]
    assert turn["request_id"] == request_id
    assert turn["outcome"] == "completed" and turn["intent"] == "conversation"
    assert set(turn["nodes"]) == set(nodes)
    access = [r for r in server.log_records() if r.get("event") == "http"]
    assert any(r["request_id"] == request_id and r["status"] == 200 for r in access)


def test_sigterm_stops_the_server_cleanly(stub: LMStudioStub, tmp_path: Path) -> None:
    stub.set_scenario(CHAT)
    running = start_server(server_env(stub, tmp_path), tmp_path)
    running.stop()
    # uvicorn re-raises the signal it caught once shutdown is done, so the exit says SIGTERM.
    assert running.proc.returncode in (0, -signal.SIGTERM), running.log()
    assert "Application shutdown complete" in running.log()
    assert "Traceback" not in running.log()


# ---- concurrency on one instance ------------------------------------------------------------

HELD_ANSWER = {**CHAT, "text": [{"content": "held answer", "hold": True}]}


def _post_run(url: str, thread_id: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/threads/{thread_id}/runs", json={"message": text}, timeout=60)


def test_a_second_turn_on_a_busy_thread_is_a_409(
    client: httpx.Client, server: ServerProcess, stub: LMStudioStub
) -> None:
    stub.set_scenario(HELD_ANSWER)
    thread_id = new_thread("busy")
    client.post("/v1/threads", json={"thread_id": thread_id})
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(_post_run, server.url, thread_id, "take your time")
        try:
            assert stub.wait_held(1), "the first turn never reached the answer"
            refused = client.post(f"/v1/threads/{thread_id}/runs", json={"message": "me too"})
            other = client.post("/v1/threads", json={"thread_id": new_thread("free")})
        finally:
            stub.release()
        answered = running.result(timeout=60)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "busy"
    assert other.status_code == 201  # only that thread is busy, not the server
    assert answered.status_code == 200 and answered.json()["answer"] == "held answer"
    # The refused turn never reached the model: one intent + one answer in total.
    assert stub.count() == 2


def test_a_turn_waiting_past_the_queue_timeout_is_a_503_with_retry_after(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(HELD_ANSWER)
    env = server_env(
        stub,
        tmp_path,
        LMSA_SERVER_MAX_CONCURRENT_TURNS="1",
        LMSA_SERVER_TURN_QUEUE_TIMEOUT="0.2",
    )
    running = start_server(env, tmp_path)
    try:
        for thread_id in ("first", "second"):
            httpx.post(f"{running.url}/v1/threads", json={"thread_id": thread_id})
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(_post_run, running.url, "first", "hold the only slot")
            try:
                assert stub.wait_held(1), "the first turn never reached the answer"
                refused = _post_run(running.url, "second", "no slot for me")
            finally:
                stub.release()
            answered = first.result(timeout=60)
        metrics = httpx.get(f"{running.url}/metrics").text
    finally:
        running.stop()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "overloaded"
    assert int(refused.headers["retry-after"]) >= 1
    assert answered.status_code == 200
    assert stub.count() == 2  # the refused turn never reached the model
    assert metric_value(metrics, "lmsa_http_turns_waiting") == 0


def test_workers_share_one_metrics_endpoint(stub: LMStudioStub, tmp_path: Path) -> None:
    """``--workers 2``: /metrics, answered by either worker, counts the requests both served.
    Each worker's own count is read from its file in PROMETHEUS_MULTIPROC_DIR."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = server_env(stub, tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    running = start_server(env, tmp_path, args=("--workers", "2"))
    url = f"{running.url}/v1/models"

    def models(_: int) -> int:  # a new connection each time: either worker may accept it
        return httpx.get(url, headers={"Connection": "close"}, timeout=30).status_code

    try:
        served = 0
        per_worker: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=8) as pool:
            while served < 400:
                assert list(pool.map(models, range(40))) == [200] * 40
                served += 40
                per_worker = _models_requests_per_worker(metrics_dir)
                if len(per_worker) >= 2:
                    break
        scrapes = [httpx.get(f"{running.url}/metrics").text for _ in range(4)]
    finally:
        running.stop()
    assert len(per_worker) == 2, f"one worker answered all {served} requests: {per_worker}"
    assert sum(per_worker.values()) == served
    for text in scrapes:
        assert metric_value(text, "lmsa_http_requests_total", route="/v1/models") == served


def _models_requests_per_worker(metrics_dir: Path) -> dict[str, float]:
    """``GET /v1/models`` requests counted in each worker's own multiprocess file."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, *_ = json.loads(key)
            if name == "lmsa_http_requests_total" and labels.get("route") == "/v1/models":
                counts[path.stem] = counts.get(path.stem, 0) + value
    return {worker: count for worker, count in counts.items() if count}
