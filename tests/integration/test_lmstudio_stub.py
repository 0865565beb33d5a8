"""Behaviour of the scripted LM Studio stub, exercised through real clients over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from tests.stubs.lmstudio import (
    NO_MODELS_LOADED_MESSAGE,
    LMStudioStub,
    RecordedRequest,
    ScenarioError,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"


def _schema_format(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


def _llm(stub: LMStudioStub, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=stub.base_url,
        api_key=SecretStr("lm-studio"),
        model="test-model",
        max_retries=0,
        **kwargs,
    )


def _client(stub: LMStudioStub, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=stub.base_url, api_key="lm-studio", **kwargs)


@pytest.fixture
def stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario={"echo": True}) as running:
        yield running


# ---- plain chat -----------------------------------------------------------------------------


def test_non_stream_reply_is_recorded() -> None:
    with LMStudioStub({"text": ["Hello from the stub."]}) as stub:
        reply = _llm(stub).invoke("hi there")

        assert reply.content == "Hello from the stub."
        assert reply.response_metadata["finish_reason"] == "stop"
        assert reply.usage_metadata is not None
        assert reply.usage_metadata["total_tokens"] > 0
        [body] = stub.chat_requests()
        assert body["messages"][-1] == {"role": "user", "content": "hi there"}
        assert stub.count(CHAT) == 1
        method, path, recorded = stub.requests[0]
        assert (method, path, recorded) == ("POST", CHAT, body)
        assert isinstance(stub.requests[0], RecordedRequest)


def test_streaming_reply_arrives_in_several_chunks() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    with LMStudioStub({"text": [text]}) as stub:
        chunks = [c for c in _llm(stub).stream("go") if c.content]

        assert len(chunks) > 1
        assert "".join(str(c.content) for c in chunks) == text
        assert stub.chat_requests()[0]["stream"] is True


def test_stream_include_usage_sends_a_usage_chunk() -> None:
    with LMStudioStub({"text": ["one two three"]}) as stub:
        events = list(
            _client(stub).chat.completions.create(
                model="test-model",
                messages=[{"role": "user", "content": "count"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    assert events[-2].choices[0].finish_reason == "stop"
    assert events[-1].choices == []
    assert events[-1].usage is not None and events[-1].usage.total_tokens > 0
    text = "".join(e.choices[0].delta.content or "" for e in events if e.choices)
    assert text == "one two three"


def test_replies_are_consumed_in_order_and_the_last_repeats() -> None:
    with LMStudioStub({"text": ["first", "second"]}) as stub:
        llm = _llm(stub)
        assert [llm.invoke("x").content for _ in range(4)] == [
            "first",
            "second",
            "second",
            "second",
        ]
        stub.set_scenario({"text": "fresh"})
        assert llm.invoke("x").content == "fresh"
        stub.reset()
        assert stub.requests == []


def test_echo_replies_with_the_last_user_message(stub: LMStudioStub) -> None:
    assert _llm(stub).invoke([("system", "be brief"), ("user", "ping")]).content == "echo: ping"


def test_missing_text_queue_without_echo_fails_loudly() -> None:
    with LMStudioStub({"Plan": [{"steps": []}]}) as stub, pytest.raises(openai.InternalServerError):
        _llm(stub).invoke("hello")


# ---- structured output ----------------------------------------------------------------------


def test_json_schema_requests_are_routed_by_schema_name() -> None:
    scenario = {
        "IntentResult": [{"intent": "chat"}, {"intent": "plan"}],
        "Plan": [{"steps": ["a", "b"]}],
        "text": ["plain text"],
    }
    with LMStudioStub(scenario) as stub:
        llm = _llm(stub)
        intent = llm.bind(response_format=_schema_format("IntentResult", {"intent": {}}))
        plan = llm.bind(response_format=_schema_format("Plan", {"steps": {}}))

        assert json.loads(str(intent.invoke("classify").content)) == {"intent": "chat"}
        assert json.loads(str(plan.invoke("plan it").content)) == {"steps": ["a", "b"]}
        assert llm.invoke("chat").content == "plain text"
        assert json.loads(str(intent.invoke("again").content)) == {"intent": "plan"}

        names = [
            b.get("response_format", {}).get("json_schema", {}).get("name")
            for b in stub.chat_requests()
        ]
        assert names == ["IntentResult", "Plan", None, "IntentResult"]


def test_with_structured_output_json_schema_parses_the_scripted_object() -> None:
    class IntentResult(BaseModel):
        intent: str
        confidence: float

    with LMStudioStub({"IntentResult": [{"intent": "chat", "confidence": 0.9}]}) as stub:
        structured = _llm(stub).with_structured_output(IntentResult, method="json_schema")
        result = structured.invoke("hello")

    assert result == IntentResult(intent="chat", confidence=0.9)


def test_json_schema_without_a_scripted_reply_fails_loudly(stub: LMStudioStub) -> None:
    llm = _llm(stub).bind(response_format=_schema_format("Validation", {"ok": {}}))
    with pytest.raises(openai.InternalServerError, match="no reply for json_schema 'Validation'"):
        llm.invoke("validate")


def test_json_object_response_format_is_rejected(stub: LMStudioStub) -> None:
    llm = _llm(stub).bind(response_format={"type": "json_object"})
    with pytest.raises(openai.BadRequestError) as excinfo:
        llm.invoke("json please")

    assert excinfo.value.status_code == 400
    assert "'response_format.type' must be 'json_schema' or 'text'" in str(excinfo.value)
    assert _llm(stub).bind(response_format={"type": "text"}).invoke("ok").content == "echo: ok"


# ---- tools ----------------------------------------------------------------------------------


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


TOOL_REPLY = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}


@pytest.mark.parametrize("streaming", [False, True])
def test_scripted_tool_calls(streaming: bool) -> None:
    with LMStudioStub({"text": [TOOL_REPLY]}) as stub:
        llm = _llm(stub).bind_tools([get_weather])
        if streaming:
            first, *rest = llm.stream("weather?")
            merged = sum(rest, first)
            assert isinstance(merged, AIMessageChunk)
            calls = merged.tool_calls
        else:
            calls = llm.invoke("weather?").tool_calls

        assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": "Paris"})]
        assert stub.chat_requests()[0]["tools"][0]["function"]["name"] == "get_weather"


def test_tool_choice_object_form_is_rejected(stub: LMStudioStub) -> None:
    llm = _llm(stub).bind_tools([get_weather], tool_choice="get_weather")
    with pytest.raises(openai.BadRequestError, match="tool_choice"):
        llm.invoke("weather?")
    assert _llm(stub).bind_tools([get_weather], tool_choice="required").invoke("x").content


# ---- model state ----------------------------------------------------------------------------


def test_no_models_loaded() -> None:
    with LMStudioStub({"loaded": False, "text": ["never"]}) as stub:
        with pytest.raises(openai.BadRequestError, match="No models loaded") as excinfo:
            _llm(stub).invoke("hello")
        body = excinfo.value.body
        assert isinstance(body, dict)
        assert body["message"] == NO_MODELS_LOADED_MESSAGE
        assert body["code"] == "model_not_found"

        listed = httpx.get(f"{stub.base_url}/models").json()
        assert [m["id"] for m in listed["data"]] == ["test-model"]
        rest = httpx.get(f"{stub.root_url}/api/v0/models").json()
        assert rest["data"][0]["state"] == "not-loaded"


def test_model_endpoints_shape() -> None:
    with LMStudioStub({"model": "gemma-3-4b-it", "context_length": 4096}) as stub:
        listed = _client(stub).models.list()
        assert [m.id for m in listed.data] == ["gemma-3-4b-it"]

        response = httpx.get(f"{stub.root_url}/api/v0/models")
        assert response.status_code == 200
        assert response.json() == {
            "object": "list",
            "data": [
                {
                    "id": "gemma-3-4b-it",
                    "object": "model",
                    "type": "llm",
                    "publisher": "lmstudio-community",
                    "arch": "gemma3",
                    "compatibility_type": "gguf",
                    "quantization": "Q4_K_M",
                    "state": "loaded",
                    "max_context_length": 4096,
                    "capabilities": ["tool_use"],
                }
            ],
        }
        assert stub.counts == {"/v1/models": 1, "/api/v0/models": 1}
        assert httpx.get(f"{stub.root_url}/nope").status_code == 404


# ---- fault injection ------------------------------------------------------------------------


def test_server_error_then_success_counts_attempts() -> None:
    with LMStudioStub({"text": [{"status": 500, "error": "model crashed"}, "recovered"]}) as stub:
        llm = _llm(stub)
        with pytest.raises(openai.InternalServerError, match="model crashed"):
            llm.invoke("try")
        assert llm.invoke("try again").content == "recovered"
        assert stub.count(CHAT) == 2


def test_sdk_retries_honour_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    flaky = {"status": 503, "retry_after": 0.01}
    with LMStudioStub({"text": [flaky, flaky, "third time lucky"]}) as stub:
        client = _client(stub, max_retries=2)
        with caplog.at_level(logging.INFO, logger="openai"):
            completion = client.chat.completions.create(
                model="test-model", messages=[{"role": "user", "content": "hi"}]
            )

        assert completion.choices[0].message.content == "third time lucky"
        assert stub.count(CHAT) == 3
    # The SDK logs each wait it chose: the stub's Retry-After, not its own backoff.
    waits = [r.args[1] for r in caplog.records if r.msg == "Retrying request to %s in %f seconds"]
    assert waits == [0.01, 0.01]


def test_rate_limit_carries_retry_after() -> None:
    with LMStudioStub({"text": [{"status": 429, "retry_after": 2, "error": "slow down"}]}) as stub:
        with pytest.raises(openai.RateLimitError, match="slow down") as excinfo:
            _llm(stub).invoke("hi")
        assert excinfo.value.response.headers["retry-after"] == "2"


def test_delay_triggers_client_timeout() -> None:
    with LMStudioStub({"text": [{"content": "late", "delay_ms": 1000}]}) as stub:
        with pytest.raises(openai.APITimeoutError):
            _llm(stub, timeout=0.2).invoke("hi")
        # One request that the client gave up on: the reply was still being held back (an
        # answer would have been returned, not a timeout) and there was no retry.
        assert stub.count(CHAT) == 1


# How a cut stream surfaces depends on the openai SDK: 3.x wraps it in APIConnectionError, 2.x
# (which guardrails-ai pins) lets httpx's transport error through. Both are "the connection
# broke", which is what lmsa's error classification keys on.
STREAM_BROKEN = (openai.APIConnectionError, httpx.TransportError)


def test_stream_cut_after_three_chunks_raises_on_the_client() -> None:
    words = "one two three four five six seven"
    with LMStudioStub({"text": [{"content": words, "cut_after_chunks": 3}]}) as stub:
        received: list[str] = []
        with pytest.raises(STREAM_BROKEN):
            for chunk in _llm(stub).stream("count"):
                received.append(str(chunk.content))

        assert "".join(received) == "one two three "


def test_stream_failing_before_the_first_chunk() -> None:
    with LMStudioStub({"text": [{"content": "never", "cut_after_chunks": 0}]}) as stub:
        received: list[Any] = []
        with pytest.raises(STREAM_BROKEN):
            received.extend(_llm(stub).stream("x"))
        assert received == []


def test_in_band_stream_error_event() -> None:
    reply = {"content": "a b c d", "cut_after_chunks": 2, "error": "generation failed"}
    with LMStudioStub({"text": [reply]}) as stub:
        received: list[str] = []
        with pytest.raises(openai.APIError, match="generation failed"):
            for chunk in _llm(stub).stream("x"):
                received.append(str(chunk.content))
        assert "".join(received) == "a b "


@pytest.mark.parametrize("streaming", [False, True])
def test_connection_reset_raises_api_connection_error(streaming: bool) -> None:
    with LMStudioStub({"text": [{"reset": True}, "after reset"]}) as stub:
        llm = _llm(stub, streaming=streaming)
        with pytest.raises(openai.APIConnectionError):
            llm.invoke("hi")
        assert llm.invoke("hi").content == "after reset"
        assert stub.count(CHAT) == 2


def test_truncated_non_stream_body_raises() -> None:
    reply = {"content": "truncated", "cut_after_chunks": 1}
    with LMStudioStub({"text": [reply]}) as stub, pytest.raises(openai.APIConnectionError):
        _llm(stub).invoke("hi")


def test_invalid_scenario_is_rejected_eagerly() -> None:
    with pytest.raises(ScenarioError, match="contnet"):
        LMStudioStub({"text": [{"contnet": "typo"}]})


# ---- concurrency and lifecycle --------------------------------------------------------------


async def test_latency_does_not_serialize_concurrent_requests() -> None:
    async with LMStudioStub({"latency_ms": 500, "echo": True}) as stub:
        llm = _llm(stub)
        replies = await asyncio.gather(*(llm.ainvoke(f"req {i}") for i in range(8)))
        peak = stub.peak_in_progress

    assert sorted(str(r.content) for r in replies) == sorted(f"echo: req {i}" for i in range(8))
    assert peak == 8  # all eight were in their latency wait at the same time


async def test_max_concurrency_queues_requests_beyond_the_slots() -> None:
    async with LMStudioStub({"latency_ms": 100, "echo": True, "max_concurrency": 2}) as stub:
        llm = _llm(stub)
        replies = await asyncio.gather(*(llm.ainvoke(f"req {i}") for i in range(6)))
        peak = stub.peak_in_progress

    assert sorted(str(r.content) for r in replies) == sorted(f"echo: req {i}" for i in range(6))
    assert peak == 2


def test_max_concurrency_must_be_a_positive_int() -> None:
    with pytest.raises(ScenarioError, match="max_concurrency"):
        LMStudioStub({"max_concurrency": 0})


def test_serves_as_soon_as_start_returns_and_stops_cleanly() -> None:
    stub = LMStudioStub().start()
    try:
        # No retry or wait: start() returns only once the port answers.
        assert httpx.get(f"{stub.base_url}/models").status_code == 200
        port = stub.port
    finally:
        stub.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")


def _read_ready_line(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("the stub process did not print READY in time")
    return proc.stdout.readline().strip()


def test_runs_as_a_subprocess_with_control_endpoints(tmp_path: Path) -> None:
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps({"model": "proc-model", "text": ["from file"]}))
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.stubs.lmstudio",
            "--port",
            "0",
            "--scenario",
            str(scenario_file),
            "--no-models-loaded",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            ready = _read_ready_line(proc)
            assert ready.startswith("READY http://127.0.0.1:") and ready.endswith("/v1")
            base_url = ready.removeprefix("READY ")
            root_url = base_url.removesuffix("/v1")
            client = openai.OpenAI(base_url=base_url, api_key="lm-studio", max_retries=0)
            messages: Any = [{"role": "user", "content": "hi"}]

            assert [m.id for m in client.models.list().data] == ["proc-model"]
            with pytest.raises(openai.BadRequestError, match="No models loaded"):
                client.chat.completions.create(model="proc-model", messages=messages)

            new_scenario = {"model": "proc-model", "text": ["swapped in"]}
            assert httpx.post(f"{root_url}/_stub/scenario", json=new_scenario).status_code == 200
            completion = client.chat.completions.create(model="proc-model", messages=messages)
            assert completion.choices[0].message.content == "swapped in"

            recorded = httpx.get(f"{root_url}/_stub/requests").json()
            assert [(r["method"], r["path"]) for r in recorded["requests"]] == [
                ("GET", "/v1/models"),
                ("POST", CHAT),
                ("POST", CHAT),
            ]
            assert recorded["counts"] == {"/v1/models": 1, CHAT: 2}
            assert recorded["requests"][-1]["body"]["messages"] == messages

            bad = httpx.post(f"{root_url}/_stub/scenario", json={"text": [{"bogus": 1}]})
            assert bad.status_code == 400
            assert httpx.post(f"{root_url}/_stub/reset").status_code == 200
            assert httpx.get(f"{root_url}/_stub/requests").json()["requests"] == []
        finally:
            proc.terminate()
            returncode = proc.wait(timeout=10)
    assert returncode == 0
