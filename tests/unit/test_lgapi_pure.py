"""The LangGraph API's pure parts: interrupts shown as Agent Inbox requests and the decisions
chat UIs send read back into lmsa's answers; the thread-record stores (memory, SQLite) and the
search filter; the SSE framer's message events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

from lmsa.config import Settings
from lmsa.security.layer import SecurityLayer
from lmsa.server.lgapi.interrupts import (
    DECISIONS,
    ResumeError,
    shown_interrupt,
    shown_value,
    translate_resume,
)
from lmsa.server.lgapi.records import MemoryRecords, SqliteRecords, matches
from lmsa.server.lgapi.sse import Framer, graph_modes, requested_modes
from lmsa.server.lgapi.views import new_record, without_marks

APPROVAL = {
    "kind": "approval",
    "step_id": "w1",
    "tool": "write_file",
    "args": {"path": "a.txt", "content": "hi"},
    "risk": "write",
    "reason": "writes a file",
    "purpose": "",
    "error": None,
}
QUESTION = {"kind": "clarification", "question": "Which file?", "round": 1, "max_rounds": 2}


def test_an_approval_is_shown_as_a_human_in_the_loop_request() -> None:
    shown = shown_value(APPROVAL)
    (action,) = shown["action_requests"]
    assert (action["name"], action["args"]) == ("write_file", APPROVAL["args"])
    assert "write_file" in action["description"]
    (review,) = shown["review_configs"]
    assert review["action_name"] == "write_file"
    assert review["allowed_decisions"] == ["approve", "edit", "reject"]
    assert shown["action_request"] == {"action": "write_file", "args": APPROVAL["args"]}
    assert shown["kind"] == "approval" and shown["step_id"] == "w1"


def test_a_question_is_shown_as_it_is() -> None:
    assert shown_value(QUESTION) == QUESTION


def test_an_interrupt_carries_its_response_schema_as_json_schema() -> None:
    from langgraph.types import Interrupt

    from lmsa.tools.approval import ApprovalDecision

    shown = shown_interrupt(Interrupt(APPROVAL, id="i1", response_schema=ApprovalDecision))
    assert shown["id"] == "i1" and shown["value"]["action_requests"]
    assert set(shown["response_schema"]["properties"]["decision"]["enum"]) == set(DECISIONS)
    assert "response_schema" not in shown_interrupt({"value": QUESTION, "id": "q1"})


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"decisions": [{"type": "approve"}]}, {"decision": "approve"}),
        (
            {"decisions": [{"type": "reject", "message": "not now"}]},
            {"decision": "reject", "reason": "not now"},
        ),
        (
            {
                "decisions": [
                    {"type": "edit", "edited_action": {"name": "write_file", "args": {"x": 1}}}
                ]
            },
            {"decision": "edit", "args": {"x": 1}},
        ),
        ([{"type": "accept", "args": None}], {"decision": "approve"}),
        ([{"type": "ignore", "args": None}], {"decision": "reject"}),
        (
            [{"type": "response", "args": "use b.txt"}],
            {"decision": "reject", "reason": "use b.txt"},
        ),
        (
            [{"type": "edit", "args": {"action": "write_file", "args": {"y": 2}}}],
            {"decision": "edit", "args": {"y": 2}},
        ),
        ({"decision": "approve"}, {"decision": "approve"}),
        ("yes", {"decision": "approve"}),
    ],
)
def test_decisions_become_lmsa_answers(sent: Any, expected: dict[str, Any]) -> None:
    assert translate_resume(sent, {"i1": APPROVAL}) == expected


def test_a_decision_is_mapped_per_interrupt_id() -> None:
    sent = {"i1": {"decisions": [{"type": "approve"}]}}
    assert translate_resume(sent, {"i1": APPROVAL}) == {"i1": {"decision": "approve"}}


@pytest.mark.parametrize(
    "sent",
    [
        {"decisions": [{"type": "approve"}, {"type": "approve"}]},
        {"decisions": [{"type": "launch"}]},
        "perhaps",
        {"decisions": [{"type": "edit"}]},
    ],
)
def test_unreadable_decisions_are_refused(sent: Any) -> None:
    with pytest.raises(ResumeError):
        translate_resume(sent, {"i1": APPROVAL})


@pytest.mark.parametrize(
    "sent",
    ["notes.txt", {"answer": "notes.txt"}, [{"type": "response", "args": "notes.txt"}]],
)
def test_a_clarification_is_answered_with_text(sent: Any) -> None:
    assert translate_resume(sent, {"q1": QUESTION}) == {"answer": "notes.txt"}


def test_nothing_pending_passes_the_resume_through() -> None:
    assert translate_resume({"x": 1}, {}) == {"x": 1}


def test_client_messages_lose_lmsa_marks() -> None:
    sent = {
        "messages": [
            {"type": "human", "content": "hi", "additional_kwargs": {"lmsa_screened": True, "k": 1}}
        ]
    }
    assert without_marks(sent)["messages"][0]["additional_kwargs"] == {"k": 1}


def _store_roundtrip(store: Any) -> None:
    async def scenario() -> None:
        first = new_record("t1", {"graph_id": "assistant", "tag": "a"})
        second = new_record("t2", {"graph_id": "assistant"})
        second["updated_at"] = "2999-01-01T00:00:00+00:00"
        await store.put("owner1:t1", "owner1", first)
        await store.put("owner1:t2", "owner1", second)
        await store.put("owner2:t1", "owner2", new_record("t1", {"tag": "b"}))
        assert (await store.get("owner1:t1"))["metadata"]["tag"] == "a"
        listed = [r["thread_id"] async for r in store.newest("owner1")]
        assert listed == ["t2", "t1"]
        assert [r["metadata"] async for r in store.newest("owner2")] == [{"tag": "b"}]
        await store.delete("owner1:t2", "owner1")
        assert await store.get("owner1:t2") is None
        assert [r["thread_id"] async for r in store.newest("owner1")] == ["t1"]

    asyncio.run(scenario())


def test_memory_records_are_per_owner_newest_first() -> None:
    _store_roundtrip(MemoryRecords())


def test_sqlite_records_are_per_owner_newest_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SqliteRecords.open(str(tmp_path / "threads.sqlite")) as store:
            await _async_roundtrip(store)

    asyncio.run(scenario())


async def _async_roundtrip(store: Any) -> None:
    record = new_record("t1", {"tag": "a"})
    await store.put("o:t1", "o", record)
    assert (await store.get("o:t1"))["metadata"] == {"tag": "a"}
    assert [r["thread_id"] async for r in store.newest("o")] == ["t1"]
    assert [r async for r in store.newest(None)] == []
    await store.delete("o:t1", "o")
    assert await store.get("o:t1") is None


def test_search_filter_matches_metadata_values_and_status() -> None:
    record = new_record("t1", {"graph_id": "assistant", "nested": {"a": 1, "b": 2}})
    record["values"] = {"answer": "x"}
    assert matches(record, metadata={"graph_id": "assistant"})
    assert matches(record, metadata={"nested": {"a": 1}}, values={"answer": "x"})
    assert not matches(record, metadata={"graph_id": "other"})
    assert not matches(record, status="busy")
    assert matches(record, status="idle", ids=["t1"])
    assert not matches(record, ids=["t2"])


def test_stream_modes_served_and_ignored() -> None:
    assert requested_modes(["values", "debug", "messages-tuple", "values"]) == [
        "values",
        "messages-tuple",
    ]
    assert requested_modes("updates") == ["updates"]
    assert graph_modes(["messages-tuple", "updates"]) == ["messages", "updates", "values"]


def _framer(tmp_path: Path, *modes: str) -> Framer:
    security = SecurityLayer.from_settings(Settings(data_dir=tmp_path))
    return Framer(list(modes), security, "owner:t1", "t1")


def test_message_tuples_carry_the_chunk_and_metadata(tmp_path: Path) -> None:
    framer = _framer(tmp_path, "messages-tuple")
    chunk = AIMessageChunk(content="he", id="m1")
    ((event, data),) = framer.frames("messages", (chunk, {"thread_id": "owner:t1", "n": 1}))
    assert event == "messages"
    assert data[0]["content"] == "he" and data[0]["type"] == "AIMessageChunk"
    assert data[1] == {"thread_id": "t1", "n": 1}


def test_messages_mode_sends_metadata_once_then_the_message_so_far(tmp_path: Path) -> None:
    framer = _framer(tmp_path, "messages")
    first = framer.frames("messages", (AIMessageChunk(content="he", id="m1"), {}))
    second = framer.frames("messages", (AIMessageChunk(content="llo", id="m1"), {}))
    assert [event for event, _ in first] == ["messages/metadata", "messages/partial"]
    assert second == [("messages/partial", [second[0][1][0]])]
    assert second[0][1][0]["content"] == "hello"
    whole = framer.frames("messages", (AIMessage(content="done", id="m2"), {}))
    assert [event for event, _ in whole] == ["messages/metadata", "messages/complete"]


def test_wait_result_prefers_error_then_interrupts_then_values(tmp_path: Path) -> None:
    framer = _framer(tmp_path, "values")
    framer.frames("values", {"answer": "a"})
    assert framer.wait_result(None) == {"answer": "a"}
    assert framer.wait_result({"error": "x", "message": "y"}) == {
        "__error__": {"error": "x", "message": "y"}
    }


def test_streamed_values_withhold_tool_output_and_redact_credentials(tmp_path: Path) -> None:
    framer = _framer(tmp_path, "values", "messages-tuple")
    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    ((_, values),) = framer.frames(
        "values", {"results": [{"tool": "read_file", "ok": True, "output": "x"}], "answer": secret}
    )
    assert values["results"] == [{"tool": "read_file", "ok": True, "output_withheld": True}]
    assert secret not in values["answer"]
    ((_, data),) = framer.frames("messages", (AIMessageChunk(content=secret, id="m"), {}))
    assert secret not in data[0]["content"]
