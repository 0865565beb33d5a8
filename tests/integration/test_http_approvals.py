"""Approval interrupts answered over HTTP: ``POST /v1/threads/{id}/resume`` with the body the
README documents, and ``/v1/chat/completions`` driven by the official openai SDK, where the call
arrives as readable text and a plain chat reply ("yes", "no, not now") decides it.

``lmsa serve`` runs as a subprocess against the scripted LM Studio stub; writes need approval
by default (``LMSA_AUTO_APPROVE=read``), so each scenario's write pauses the turn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.helpers import (
    COMPLETE,
    ServerProcess,
    intent,
    plan,
    queue_of,
    server_env,
    sse_events,
    start_server,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration


def write_scenario(name: str, answer: str) -> dict[str, Any]:
    return {
        "IntentResult": [intent("file_operation")],
        "Plan": [plan(step("w1", "write_file", path=name, content="hello"))],
        "Validation": [COMPLETE],
        "text": [answer],
    }


def validation_prompts(stub: LMStudioStub) -> str:
    return json.dumps([b["messages"] for b in stub.chat_requests() if queue_of(b) == "Validation"])


@pytest.fixture
def server(stub: LMStudioStub, tmp_path: Path) -> Iterator[ServerProcess]:
    stub.set_scenario(write_scenario("unused.txt", "unused"))
    running = start_server(server_env(stub, tmp_path), tmp_path)
    yield running
    running.stop()


@pytest.fixture
def workspace(server: ServerProcess, tmp_path: Path) -> Path:
    return tmp_path / "workspace"


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


@pytest.fixture
def sdk(server: ServerProcess) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


# ---- POST /v1/threads/{id}/resume -------------------------------------------------------------


def pause_on_write(client: httpx.Client, stub: LMStudioStub, thread_id: str, name: str) -> None:
    stub.set_scenario(write_scenario(name, f"Handled {name}."))
    assert client.post("/v1/threads", json={"thread_id": thread_id}).status_code == 201
    asked = client.post(f"/v1/threads/{thread_id}/runs", json={"message": f"write {name}"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "interrupted"
    assert asked.json()["interrupt"]["value"]["kind"] == "approval"


def test_resume_approve_reject_and_edit_with_the_documented_body(
    client: httpx.Client, stub: LMStudioStub, workspace: Path
) -> None:
    pause_on_write(client, stub, "approve-1", "approved.txt")
    approved = client.post("/v1/threads/approve-1/resume", json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["answer"] == "Handled approved.txt."
    assert (workspace / "approved.txt").read_text(encoding="utf-8") == "hello"

    pause_on_write(client, stub, "reject-1", "rejected.txt")
    rejected = client.post(
        "/v1/threads/reject-1/resume", json={"decision": "reject", "reason": "wrong folder"}
    )
    assert rejected.status_code == 200, rejected.text
    assert not (workspace / "rejected.txt").exists()
    prompts = validation_prompts(stub)
    assert "declined" in prompts and "wrong folder" in prompts

    pause_on_write(client, stub, "edit-1", "planned.txt")
    edited = client.post(
        "/v1/threads/edit-1/resume",
        json={
            "decision": "edit",
            "args": {"path": "edited.txt", "content": "from the user"},
            "stream": True,
        },
    )
    events = sse_events(edited)
    assert events[-1][0] == "end", events
    assert json.loads(events[-1][1])["status"] == "completed"
    assert not (workspace / "planned.txt").exists()
    assert (workspace / "edited.txt").read_text(encoding="utf-8") == "from the user"


RESUME_MISTAKES: list[tuple[dict[str, Any], str, str]] = [
    ({"decision": "edit"}, "invalid_request", "'edit' needs 'args'"),
    ({"decision": "approve", "args": {"path": "x"}}, "invalid_request", "'args' goes with"),
    ({"decision": "approve", "reason": "fine"}, "invalid_request", "'reason' goes with"),
    ({"decision": "reject", "comment": "old name"}, "invalid_request", "comment"),
    ({"answer": "yes"}, "decision_required", "give a 'decision'"),
]


def test_resume_mistakes_are_explained_and_leave_the_approval_pending(
    client: httpx.Client, stub: LMStudioStub, workspace: Path
) -> None:
    pause_on_write(client, stub, "mistake-1", "out.txt")
    for body, code, words in RESUME_MISTAKES:
        refused = client.post("/v1/threads/mistake-1/resume", json=body)
        assert refused.status_code == 422, (body, refused.text)
        error = refused.json()["error"]
        assert error["code"] == code, (body, error)
        assert words in error["message"], (body, error)
        assert "pydantic" not in error["message"], (body, error)
    assert client.get("/v1/threads/mistake-1").json()["status"] == "interrupted"
    assert not (workspace / "out.txt").exists()


# ---- /v1/chat/completions with the openai SDK -------------------------------------------------


def assert_shows_the_call(content: str, name: str) -> None:
    assert "write_file" in content
    assert f'"path": "{name}"' in content and '"content": "hello"' in content
    assert "risk: write" in content
    assert '"yes"' in content and '"no"' in content and "JSON" in content
    assert "{'" not in content  # not a Python repr


def test_openai_sdk_write_approved_by_a_plain_yes(
    sdk: Any, stub: LMStudioStub, workspace: Path
) -> None:
    stub.set_scenario(write_scenario("yes.txt", "Wrote yes.txt."))
    headers = {"X-Thread-Id": "sdk-yes"}

    def say(text: str) -> Any:
        return sdk.chat.completions.create(
            model="lmsa", messages=[{"role": "user", "content": text}], extra_headers=headers
        )

    asked = say("create yes.txt saying hello")
    assert_shows_the_call(asked.choices[0].message.content, "yes.txt")
    assert asked.model_extra["lmsa"]["status"] == "interrupted"
    assert asked.model_extra["lmsa"]["interrupt"]["value"]["tool"] == "write_file"
    assert not (workspace / "yes.txt").exists()

    requests_before = len(stub.chat_requests())
    unclear = say("hmm, maybe")
    content = unclear.choices[0].message.content
    assert content.startswith("Could not read that as a decision")
    assert_shows_the_call(content, "yes.txt")
    assert unclear.model_extra["lmsa"]["status"] == "interrupted"
    assert len(stub.chat_requests()) == requests_before  # no turn ran

    done = say("yes")
    assert done.choices[0].message.content == "Wrote yes.txt."
    assert done.model_extra["lmsa"]["status"] == "completed"
    assert (workspace / "yes.txt").read_text(encoding="utf-8") == "hello"


def test_openai_sdk_stream_write_rejected_by_no_not_now(
    sdk: Any, stub: LMStudioStub, workspace: Path
) -> None:
    stub.set_scenario(write_scenario("no.txt", "I left no.txt alone."))
    headers = {"X-Thread-Id": "sdk-no"}

    def say(text: str) -> tuple[str, dict[str, Any]]:
        stream = sdk.chat.completions.create(
            model="lmsa",
            messages=[{"role": "user", "content": text}],
            extra_headers=headers,
            stream=True,
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return text, chunks[-1].model_extra["lmsa"]

    asked, info = say("create no.txt saying hello")
    assert_shows_the_call(asked, "no.txt")
    assert info["status"] == "interrupted"
    assert info["interrupt"]["value"]["kind"] == "approval"

    answer, info = say("no, not now")
    assert answer == "I left no.txt alone."
    assert info["status"] == "completed"
    assert not (workspace / "no.txt").exists()
    prompts = validation_prompts(stub)
    assert "declined" in prompts and "not now" in prompts
