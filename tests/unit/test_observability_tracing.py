"""LangSmith tracing is on only with both the flag and a key; otherwise no library below is
left believing it should trace (which would try the network on every turn)."""

from __future__ import annotations

from lmsa.observability.tracing import (
    configure_tracing,
    run_metadata,
    trace_turn,
    tracing_enabled,
)


def test_flag_without_key_is_switched_off() -> None:
    env = {"LANGSMITH_TRACING": "true", "LANGCHAIN_TRACING_V2": "true"}
    assert configure_tracing(env) is False
    assert env["LANGSMITH_TRACING"] == "false"
    assert env["LANGCHAIN_TRACING_V2"] == "false"


def test_flag_and_key_enable_tracing() -> None:
    env = {"LANGSMITH_TRACING": "true", "LANGSMITH_API_KEY": "lsv2-test"}
    assert configure_tracing(env) is True
    assert env["LANGSMITH_TRACING"] == "true"


def test_key_alone_does_not_trace() -> None:
    env = {"LANGSMITH_API_KEY": "lsv2-test"}
    assert tracing_enabled(env) is False
    assert configure_tracing(env) is False
    assert "LANGSMITH_TRACING" not in env


def test_metadata_carries_thread_endpoint_and_request() -> None:
    metadata = run_metadata(
        thread_id="t1", endpoint="http://127.0.0.1:1234/v1", request_id="r1", intent=None
    )
    assert metadata == {
        "thread_id": "t1",
        "endpoint": "http://127.0.0.1:1234/v1",
        "request_id": "r1",
    }


async def test_trace_turn_is_a_no_op_when_off(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    async with trace_turn("turn", metadata={"thread_id": "t"}) as trace:
        assert trace.active is False
        trace.set_intent("conversation")  # must not fail without a run
        trace.set_outputs({"answer": "x"})
