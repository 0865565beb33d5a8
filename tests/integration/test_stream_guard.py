"""A secret or the canary in a streamed answer is redacted before any client sees it, and the
stored answer is exactly what was streamed: the scripted LM Studio stub streams the answer three
characters at a time (so the secret arrives split across chunks) to ``lmsa serve`` (threads SSE,
OpenAI ``stream=true`` and the LangGraph API's ``messages-tuple`` stream) and to the ``lmsa chat``
CLI as a process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunLmsaProcess
from tests.integration.helpers import (
    chat_script,
    history_lines,
    intent,
    server_env,
    sse_events,
    start_server,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

TOKEN = "ghp_Zq8xW3vN5tR7yU1iO9pA2sD4fG6hJ0kL3mQw"
CANARY = "lmsa-canary-5f3c9a1e7b2d4c60"
ANSWER = f"Sure. The token is {TOKEN} and my marker is {CANARY} so there you go."
EXPECTED = (
    "Sure. The token is [REDACTED:github_token] and my marker is [REDACTED:canary] so there you go."
)


def _scenario() -> dict[str, object]:
    return {
        "IntentResult": [intent("conversation")],
        "text": [{"content": ANSWER, "chunk_chars": 3}],
    }


def _assert_clean(text: str) -> None:
    assert TOKEN not in text and CANARY not in text
    assert TOKEN[:12] not in text and CANARY[-12:] not in text


def test_sse_and_openai_streams_redact_split_secrets_and_store_what_streamed(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    stub.set_scenario(_scenario())
    server = start_server(server_env(stub, tmp_path, LMSA_CANARY_TOKEN=CANARY), tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            assert client.post("/v1/threads", json={"thread_id": "sg-1"}).status_code == 201
            response = client.post(
                "/v1/threads/sg-1/runs", json={"message": "say it", "stream": True}
            )
            stored = client.get("/v1/threads/sg-1").json()["values"]["answer"]
            stub.reset()
            openai = client.post(
                "/v1/chat/completions",
                headers={"X-Thread-Id": "sg-2"},
                json={
                    "model": "lmsa",
                    "messages": [{"role": "user", "content": "say it"}],
                    "stream": True,
                },
            )
            stored_openai = client.get("/v1/threads/sg-2").json()["values"]["answer"]
            stub.reset()
            assert client.post("/threads", json={"thread_id": "sg-3"}).status_code == 200
            langgraph = client.post(
                "/threads/sg-3/runs/stream",
                json={
                    "assistant_id": "assistant",
                    "input": {"messages": [{"role": "user", "content": "say it"}]},
                    "stream_mode": ["messages-tuple", "values"],
                },
            )
            stored_langgraph = client.get("/threads/sg-3/state").json()["values"]["answer"]
    finally:
        server.stop()
    # The model really streamed the secret in pieces.
    assert response.status_code == 200 and openai.status_code == 200
    events = sse_events(response)
    tokens = [json.loads(data)["text"] for name, data in events if name == "token"]
    assert len(tokens) > 5
    _assert_clean(response.text)
    _assert_clean("".join(tokens))
    assert "".join(tokens) == EXPECTED == stored
    assert json.loads(events[-1][1])["answer"] == stored

    _assert_clean(openai.text)
    deltas = [
        json.loads(data)["choices"][0]["delta"].get("content") or ""
        for _, data in sse_events(openai)
        if data != "[DONE]" and json.loads(data).get("choices")
    ]
    _assert_clean("".join(deltas))
    assert "".join(deltas) == EXPECTED == stored_openai

    assert langgraph.status_code == 200, langgraph.text
    _assert_clean(langgraph.text)
    pieces = [
        json.loads(data)[0]["content"]
        for name, data in sse_events(langgraph)
        if name == "messages" and json.loads(data)[1].get("langgraph_node") == "respond"
    ]
    assert len(pieces) > 5
    assert "".join(pieces) == EXPECTED == stored_langgraph


def test_cli_stream_redacts_split_secrets_and_history_matches(
    stub: LMStudioStub, run_lmsa_process: RunLmsaProcess, lmsa_env: dict[str, str]
) -> None:
    stub.set_scenario(_scenario())
    proc = run_lmsa_process(
        "chat",
        "--thread",
        "sg-cli",
        input=chat_script("say it", "/history", "/quit"),
        env={**lmsa_env, "LMSA_CANARY_TOKEN": CANARY},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_clean(proc.stdout + proc.stderr)
    streamed = [line for line in proc.stdout.splitlines() if EXPECTED in line]
    assert streamed and streamed[0].endswith(EXPECTED)
    assert history_lines(proc.stdout) == ["human> say it", f"ai> {EXPECTED}"]
    # The stub was asked to stream the answer (tokens reached the CLI as they came).
    answers = [b for b in stub.chat_requests() if not b.get("response_format")]
    assert answers and answers[-1]["stream"] is True
