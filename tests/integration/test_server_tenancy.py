"""Two API keys against ``lmsa serve`` (sqlite and the real Redis checkpointer): a key never
reads, continues, resumes or deletes the other key's thread, whose id is answered exactly like
a missing one, and none of one tenant's text reaches the LLM during the other's turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deps import missing
from tests.integration.helpers import (
    CHAT,
    COMPLETE,
    ServerProcess,
    body_text,
    intent,
    plan,
    server_env,
    start_server,
    step,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, redis_answers
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

K1_SECRET = "MARMALADE-K1-7731"


@pytest.fixture(params=["sqlite", "redis"])
def server(request: Any, stub: LMStudioStub, tmp_path: Path) -> Iterator[ServerProcess]:
    overrides = {"LMSA_API_KEYS": "k1,k2", "LMSA_API_TENANTS": "acme=k3,acme=k4"}
    prefixes: Iterator[str] | None = None
    if request.param == "redis":
        if not redis_answers():
            missing(f"Redis does not answer PING at {REDIS_URL}")
        prefixes = fresh_key_prefix("tenancy")
        overrides |= {
            "LMSA_CHECKPOINTER": "redis",
            "LMSA_REDIS_URL": REDIS_URL,
            "LMSA_REDIS_KEY_PREFIX": next(prefixes),
        }
    running = start_server(server_env(stub, tmp_path, **overrides), tmp_path)
    yield running
    running.stop()
    if prefixes is not None:
        next(prefixes, None)


def client_for(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, timeout=30.0, headers={"Authorization": f"Bearer {key}"}
    )


@pytest.fixture
def k1(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "k1") as http:
        yield http


@pytest.fixture
def k2(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "k2") as http:
        yield http


def test_keys_of_one_tenant_share_its_threads_and_no_other_key_sees_them(
    server: ServerProcess, k1: httpx.Client
) -> None:
    with client_for(server, "k3") as k3, client_for(server, "k4") as k4:
        assert k3.post("/v1/threads", json={"thread_id": "acme-1"}).status_code == 201
        assert k3.post("/threads", json={"thread_id": "acme-2"}).status_code == 200
        assert k4.get("/v1/threads/acme-1").status_code == 200
        assert k4.get("/threads/acme-2").status_code == 200
        found = k4.post("/threads/search", json={"limit": 10}).json()
        assert [t["thread_id"] for t in found] == ["acme-2"]
    assert k1.get("/v1/threads/acme-1").status_code == 404
    assert k1.get("/threads/acme-2").status_code == 404
    assert k1.post("/threads/search", json={"limit": 10}).json() == []


def not_found_shape(response: httpx.Response, thread_id: str) -> str:
    """The 404 body with the id taken out, to compare with a missing thread's."""
    assert response.status_code == 404, response.text
    return response.text.replace(thread_id, "<id>")


def test_every_thread_route_answers_another_keys_thread_as_missing(
    server: ServerProcess, k1: httpx.Client, k2: httpx.Client, stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [plan(step("w1", "write_file", path="k1.txt", content=K1_SECRET))],
            "Validation": [COMPLETE],
            "text": ["Written."],
        }
    )
    assert k1.post("/v1/threads", json={"thread_id": "shared-1"}).status_code == 201
    paused = k1.post("/v1/threads/shared-1/runs", json={"message": f"write {K1_SECRET}"})
    assert paused.json()["status"] == "interrupted", paused.text

    missing_body = not_found_shape(k2.get("/v1/threads/never-made"), "never-made")
    for response in (
        k2.get("/v1/threads/shared-1"),
        k2.get("/v1/threads/shared-1/history"),
        k2.post("/v1/threads/shared-1/runs", json={"message": "continue"}),
        k2.post("/v1/threads/shared-1/resume", json={"decision": "approve"}),
        k2.delete("/v1/threads/shared-1"),
    ):
        assert not_found_shape(response, "shared-1") == missing_body
        assert K1_SECRET not in response.text

    # Creating the id is no existence oracle: it answers as for an unused id, with k2's own
    # empty thread.
    created = k2.post("/v1/threads", json={"thread_id": "shared-1"})
    assert created.status_code == 201, created.text
    assert created.json()["thread_id"] == "shared-1"
    own = k2.get("/v1/threads/shared-1").json()
    assert own["messages"] == [] and own["status"] == "idle"

    mine = k1.get("/v1/threads/shared-1")
    assert mine.status_code == 200 and mine.json()["status"] == "interrupted"
    assert mine.json()["thread_id"] == "shared-1"
    assert not (tmp_path / "workspace" / "k1.txt").exists()


@pytest.mark.parametrize("via", ["header", "user"])
def test_chat_on_another_keys_thread_id_sends_none_of_its_text_to_the_llm(
    via: str, k1: httpx.Client, k2: httpx.Client, stub: LMStudioStub
) -> None:
    stub.set_scenario(CHAT)

    def chat(client: httpx.Client, text: str) -> httpx.Response:
        body: dict[str, Any] = {"model": "lmsa", "messages": [{"role": "user", "content": text}]}
        headers = {}
        if via == "header":
            headers["X-Thread-Id"] = "shared-2"
        else:
            body["user"] = "shared-2"
        response = client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    chat(k1, f"remember {K1_SECRET}")
    before = len(stub.chat_requests())
    answered = chat(k2, "hello from k2")
    assert answered.headers["X-Thread-Id"] == "shared-2"
    assert answered.json()["lmsa"]["thread_id"] == "shared-2"
    k2_requests = stub.chat_requests()[before:]
    assert k2_requests, "k2's turn reached the LLM"
    assert all(K1_SECRET not in body_text(body) for body in k2_requests)
    assert K1_SECRET not in answered.text

    k1_view = k1.get("/v1/threads/shared-2").json()
    assert "hello from k2" not in str(k1_view["messages"])
