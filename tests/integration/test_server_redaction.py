"""What ``lmsa serve`` shows of what it holds: a thread's state view carries no raw tool output
and no credential, and no URL it prints (readiness, 503 bodies, SSE error events, its log)
carries the ``user:password@`` part of a configured URL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import closed_port
from tests.integration.helpers import (
    COMPLETE,
    intent,
    plan,
    server_env,
    sse_events,
    start_server,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
PASSWORD = "s3cret-pw-9931"


def test_thread_state_view_withholds_tool_output_and_redacts_credentials(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [plan(step("r1", "read_file", path="notes.txt"))],
            "Validation": [COMPLETE],
            "text": ["I read the notes."],
        }
    )
    server = start_server(server_env(stub, tmp_path), tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            assert client.post("/v1/threads", json={"thread_id": "view-1"}).status_code == 201
            ran = client.post(
                "/v1/threads/view-1/runs",
                json={"message": f"read notes.txt, my token is {TOKEN}"},
            )
            assert ran.status_code == 200, ran.text
            view = client.get("/v1/threads/view-1")
    finally:
        server.stop()
    assert view.status_code == 200, view.text
    (result,) = view.json()["values"]["results"]
    assert result["tool"] == "read_file" and result["output_withheld"] is True
    assert "output" not in result and "full_output" not in result
    assert "PINEAPPLE-42" not in view.text
    assert TOKEN not in view.text
    assert "[REDACTED" in view.text


def test_no_printed_url_carries_userinfo(tmp_path: Path) -> None:
    base_url = f"http://alice:{PASSWORD}@127.0.0.1:{closed_port()}/v1"
    env = server_env(None, tmp_path, LMSA_BASE_URL=base_url, LMSA_MAX_RETRIES="0")
    server = start_server(env, tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            ready = client.get("/ready")
            chat = client.post(
                "/v1/chat/completions",
                json={"model": "lmsa", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert client.post("/v1/threads", json={"thread_id": "down-1"}).status_code == 201
            streamed = client.post(
                "/v1/threads/down-1/runs", json={"message": "hi", "stream": True}
            )
        log = server.log()
    finally:
        server.stop()
    assert ready.status_code == 503, ready.text
    assert "127.0.0.1" in ready.text
    assert chat.status_code == 503, chat.text
    assert "127.0.0.1" in chat.text
    errors = [data for name, data in sse_events(streamed) if name == "error"]
    assert errors and "127.0.0.1" in errors[0], streamed.text
    assert "lmsa API ready" in log
    for text in (ready.text, chat.text, errors[0], log):
        assert PASSWORD not in text
        assert "alice" not in text


def test_anonymous_ready_names_endpoints_not_addresses(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    env = server_env(
        None, tmp_path, LMSA_BASE_URL=base_url, LMSA_MAX_RETRIES="0", LMSA_API_KEYS="k-ready"
    )
    server = start_server(env, tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            anonymous = client.get("/ready")
            keyed = client.get("/ready", headers={"X-API-Key": "k-ready"})
    finally:
        server.stop()
    assert anonymous.status_code == keyed.status_code == 503, anonymous.text
    assert anonymous.json()["reasons"] == ["llm: primary unreachable"]
    assert "127.0.0.1" not in anonymous.text
    assert "127.0.0.1" in keyed.text
