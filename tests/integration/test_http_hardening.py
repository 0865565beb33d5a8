"""``lmsa serve`` hardening (issue 25): the caller's key digest in audit records and log lines,
throttled key guessing, 401 before any body error, security headers, the keyless server's
Host/Origin check against DNS rebinding, and a deadline for request bodies."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmsa.server.access import key_digest
from tests.integration.helpers import (
    COMPLETE,
    ServerProcess,
    intent,
    plan,
    server_env,
    start_server,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

K1 = "PLUM-KEY-ONE-5512"
K2 = "PEAR-KEY-TWO-9034"
AUDIT_WAIT = 15.0


@pytest.fixture
def keyed(stub: LMStudioStub, tmp_path: Path) -> Iterator[ServerProcess]:
    env = server_env(stub, tmp_path, LMSA_API_KEYS=f"{K1},{K2}", LMSA_RATE_LIMIT="3/minute")
    running = start_server(env, tmp_path)
    yield running
    running.stop()


def audit_records(path: Path, event: str) -> list[dict[str, Any]]:
    """The audit file's ``event`` records once at least one is written (its own thread writes
    them); waits on the file, not on a clock."""
    deadline = time.monotonic() + AUDIT_WAIT
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            found = [json.loads(line) for line in lines if line.strip()]
            found = [r for r in found if r.get("event") == event]
            if found:
                return found
        time.sleep(0.05)
    raise AssertionError(f"no {event} record in {path}")


def test_an_approval_decided_with_a_key_is_audited_and_logged_with_its_digest(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [plan(step("w1", "write_file", path="out.txt", content="hi"))],
            "Validation": [COMPLETE],
            "text": ["Done."],
        }
    )
    env = server_env(stub, tmp_path, LMSA_API_KEYS=f"{K1},{K2}")
    server = start_server(env, tmp_path)
    try:
        headers = {"Authorization": f"Bearer {K1}"}
        with httpx.Client(base_url=server.url, timeout=30.0, headers=headers) as k1:
            assert k1.post("/v1/threads", json={"thread_id": "t1"}).status_code == 201
            asked = k1.post("/v1/threads/t1/runs", json={"message": "write out.txt"})
            assert asked.json()["status"] == "interrupted", asked.text
            decided = k1.post("/v1/threads/t1/resume", json={"decision": "approve"})
            assert decided.status_code == 200, decided.text
        audit_file = tmp_path / "data" / "audit.jsonl"
        (decision,) = audit_records(audit_file, "approval_decision")
        assert decision["caller"] == key_digest(K1)
        assert decision["thread_id"].endswith("t1")
    finally:
        # The access line is written once the response has been sent, so the client can see
        # the response before the line exists; a clean stop finishes every request first.
        server.stop()
    records = server.log_records()
    assert K1 not in audit_file.read_text(encoding="utf-8")
    access = [r for r in records if r.get("logger") == "lmsa.access" and "resume" in r["route"]]
    assert access and all(r["caller"] == key_digest(K1) for r in access), access
    turns = [r for r in records if r.get("logger") == "lmsa.turn"]
    assert turns and all(r["caller"] == key_digest(K1) for r in turns), turns
    assert K1 not in server.log()


def test_wrong_keys_are_rate_limited_per_client_address(keyed: ServerProcess) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30.0) as http:
        wrong = {"Authorization": "Bearer guessed-key"}
        for _ in range(3):
            assert http.get("/v1/models", headers=wrong).status_code == 401
        limited = http.get("/v1/models", headers={"X-API-Key": "another-guess"})
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"message": 5}', b'{"message": ""}'],
    ids=["malformed", "wrong-type", "empty"],
)
def test_a_request_without_a_valid_key_gets_401_whatever_its_body(
    keyed: ServerProcess, content: bytes
) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30.0) as http:
        json_type = {"Content-Type": "application/json"}
        anonymous = http.post("/v1/threads/t/runs", content=content, headers=json_type)
        wrong = http.post(
            "/v1/threads/t/runs", content=content, headers={**json_type, "X-API-Key": "nope"}
        )
        keyed_answer = http.post(
            "/v1/threads/t/runs", content=content, headers={**json_type, "X-API-Key": K2}
        )
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == "missing_api_key"
    assert wrong.status_code == 401, wrong.text
    assert keyed_answer.status_code in (400, 422), keyed_answer.text


@pytest.fixture
def keyless(tmp_path: Path) -> Iterator[ServerProcess]:
    env = server_env(None, tmp_path, LMSA_ALLOWED_HOSTS="api.internal", LMSA_BODY_TIMEOUT="1")
    running = start_server(env, tmp_path)
    yield running
    running.stop()


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_every_answer_carries_the_security_headers(keyless: ServerProcess) -> None:
    with httpx.Client(base_url=keyless.url, timeout=30.0) as http:
        answers = [
            http.get("/health"),
            http.get("/docs"),
            http.get("/no/such/route"),
            http.post("/v1/threads/t/runs", content=b"{", headers={"Host": "evil.example"}),
        ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, answer.headers)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_a_keyless_server_answers_only_loopback_or_listed_hosts(keyless: ServerProcess) -> None:
    def models(**headers: str) -> httpx.Response:
        with httpx.Client(base_url=keyless.url, timeout=30.0) as http:
            return http.get("/v1/models", headers=headers)

    port = keyless.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]:8000", "api.internal"):
        assert models(Host=host).status_code != 403, host
    rebound = models(Host=f"attacker.example:{port}")
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "host_not_allowed"
    same_origin = models(Origin=f"http://127.0.0.1:{port}")
    assert same_origin.status_code != 403
    cross = models(Origin="https://attacker.example")
    assert cross.status_code == 403
    assert cross.json()["error"]["code"] == "origin_not_allowed"
    # Probes from an orchestrator, and Prometheus scraping replicas it found through DNS, name
    # the address, not a loopback name.
    assert models(Host="10.1.2.3:8000").status_code == 403
    with httpx.Client(base_url=keyless.url, timeout=30.0) as http:
        assert http.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200
        assert http.get("/metrics", headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_a_body_that_does_not_arrive_in_time_gets_408(keyless: ServerProcess) -> None:
    head = (
        "POST /v1/threads HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{keyless.port}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
        '{"thread_id":'
    )
    with socket.create_connection(("127.0.0.1", keyless.port), timeout=30.0) as conn:
        conn.sendall(head.encode())
        # The rest of the body never comes; the server must answer on its own.
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 408 " in status_line, answer
