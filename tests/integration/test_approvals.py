"""Approval interrupts answered by a person: through the CLI (run in-process, fed on stdin) and
through ``langgraph dev`` (the HTTP API Studio uses), with yes, no and edited arguments."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from langgraph_sdk import get_client

from tests.deps import require_module
from tests.integration.conftest import RunLmsa
from tests.integration.helpers import (
    COMPLETE,
    assert_ok,
    intent,
    keys_of,
    langgraph_dev_env,
    plan,
    start_langgraph_dev,
    step,
)
from tests.redis_support import REDIS_URL, require_redis
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def write_scenario(answer: str = "Done writing.") -> dict[str, Any]:
    return {
        "IntentResult": [intent("file_operation")],
        "Plan": [plan(step("w1", "write_file", path="out.txt", content="hello"))],
        "Validation": [COMPLETE],
        "text": [answer],
    }


def lines(*items: str) -> str:
    return "".join(f"{item}\n" for item in items)


# ---- lmsa chat --------------------------------------------------------------------------------


def test_chat_approval_yes(stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path) -> None:
    stub.set_scenario(write_scenario())
    proc = run_lmsa("chat", input=lines("Create out.txt saying hello", "y"))
    assert_ok(proc)
    assert "Approval needed (write) for step w1: write_file" in proc.stdout
    assert "why: writes out.txt (5 bytes)" in proc.stdout
    assert '"content": "hello"' in proc.stdout
    assert "approve [y/n/e]> " in proc.stdout
    assert "Done writing." in proc.stdout
    assert (workspace / "out.txt").read_text(encoding="utf-8") == "hello"


def test_chat_approval_no(stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path) -> None:
    stub.set_scenario(write_scenario("I did not write it."))
    proc = run_lmsa("chat", input=lines("Create out.txt saying hello", "n not now"))
    assert_ok(proc)
    assert "I did not write it." in proc.stdout
    assert not (workspace / "out.txt").exists()
    # The refusal reached the model as an observation.
    validation = [b for b in stub.chat_requests() if "Validation" in str(b.get("response_format"))]
    assert "declined" in str(validation[0]["messages"]) and "not now" in str(validation[0])


def test_chat_approval_edit(stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path) -> None:
    stub.set_scenario(write_scenario())
    edited = '{"path": "edited.txt", "content": "from the user"}'
    proc = run_lmsa("chat", input=lines("Create out.txt saying hello", "e", edited))
    assert_ok(proc)
    assert "args (JSON)> " in proc.stdout
    assert not (workspace / "out.txt").exists()
    assert (workspace / "edited.txt").read_text(encoding="utf-8") == "from the user"


def test_chat_unreadable_answer_asks_again(
    stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path
) -> None:
    stub.set_scenario(write_scenario())
    proc = run_lmsa("chat", input=lines("Create out.txt saying hello", "perhaps", "yes"))
    assert_ok(proc)
    assert "Could not read that as an answer" in proc.stdout
    assert (workspace / "out.txt").read_text(encoding="utf-8") == "hello"


def test_ask_approval_round_trip(stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path) -> None:
    stub.set_scenario(write_scenario())
    first = run_lmsa("ask", "Create out.txt saying hello")
    assert_ok(first)
    assert "Approval needed (write)" in first.stdout
    match = re.search(rf"lmsa ask --thread ({UUID}) y \| n", first.stderr)
    assert match, first.stderr
    assert not (workspace / "out.txt").exists()
    second = run_lmsa("ask", "--thread", match.group(1), "y")
    assert_ok(second)
    assert second.stdout.strip() == "Done writing."
    assert (workspace / "out.txt").read_text(encoding="utf-8") == "hello"


def test_dangerous_command_is_refused_without_a_prompt(
    stub: LMStudioStub, run_lmsa: RunLmsa
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("system_operation")],
            "Plan": [plan(step("c1", "run_command", command="rm -rf ~", shell=True))],
            "Validation": [COMPLETE],
            "text": ["I will not do that."],
        }
    )
    proc = run_lmsa("ask", "wipe my home directory")
    assert_ok(proc)
    assert "Approval needed" not in proc.stdout
    assert proc.stdout.strip() == "I will not do that."
    answer_prompt = str(stub.chat_requests()[-1]["messages"])
    assert "Refused without asking" in answer_prompt


# ---- langgraph dev ----------------------------------------------------------------------------


@pytest.fixture
def approval_server(tmp_path: Path) -> Iterator[tuple[Any, LMStudioStub, Path]]:
    # `langgraph dev` here checkpoints to Redis; only this test needs it, so the check is here
    # rather than at module level (the CLI tests above run without Redis).
    require_redis()
    # A missing `langgraph dev` dependency fails under CI instead of passing as a skip.
    require_module("langgraph_api", "needs langgraph-cli[inmem] for `langgraph dev`")

    scenario = {
        "model": "test-model",
        "IntentResult": [intent("file_operation")] * 3,
        "Plan": [
            plan(step("w1", "write_file", path="yes.txt", content="approved")),
            plan(step("w1", "write_file", path="no.txt", content="refused")),
            plan(step("w1", "write_file", path="edit.txt", content="original")),
        ],
        "Validation": [COMPLETE] * 3,
        "text": ["one", "two", "three"],
    }
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    prefix = f"lmsa-approval-test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_URL)
    with LMStudioStub(scenario=scenario) as stub:
        env = langgraph_dev_env(
            LMSA_BASE_URL=stub.base_url,
            LMSA_MODEL="test-model",
            LMSA_WORKSPACE=str(workspace),
            LMSA_REDIS_URL=REDIS_URL,
            LMSA_REDIS_KEY_PREFIX=prefix,
        )
        server = start_langgraph_dev(env, tmp_path)
        try:
            yield server, stub, workspace
        finally:
            server.stop()
            keys = keys_of(client, prefix)
            if keys:
                client.delete(*keys)
            client.close()


@pytest.mark.timeout(300)
async def test_approvals_through_langgraph_dev(
    approval_server: tuple[Any, LMStudioStub, Path],
) -> None:
    server, _stub, workspace = approval_server
    client = get_client(url=server.url)
    decisions = [
        ({"decision": "approve"}, "yes.txt", "approved"),
        ({"decision": "reject", "reason": "no thanks"}, "no.txt", None),
        (
            {"decision": "edit", "args": {"path": "edited.txt", "content": "by hand"}},
            "edited.txt",
            "by hand",
        ),
    ]
    with server.explained():
        for decision, path, content in decisions:
            thread = await client.threads.create()
            first = await asyncio.wait_for(
                client.runs.wait(
                    thread["thread_id"],
                    "assistant",
                    input={"messages": [{"role": "user", "content": f"write {path}"}]},
                ),
                60,
            )
            (waiting,) = first["__interrupt__"]
            request = waiting["value"]
            assert request["kind"] == "approval" and request["tool"] == "write_file"
            assert request["risk"] == "write" and request["step_id"] == "w1"
            state = await client.threads.get_state(thread["thread_id"])
            assert state["next"] == ["execute"]
            final = await asyncio.wait_for(
                client.runs.wait(thread["thread_id"], "assistant", command={"resume": decision}),
                60,
            )
            assert "__interrupt__" not in final or not final["__interrupt__"], final
            values = (await client.threads.get_state(thread["thread_id"]))["values"]
            (result,) = values["results"]
            if content is None:
                assert result["refused"] is True and "no thanks" in result["error"]
                assert not (workspace / "no.txt").exists()
            else:
                assert result["ok"] is True
                assert (workspace / path).read_text(encoding="utf-8") == content
        assert not (workspace / "edit.txt").exists()
