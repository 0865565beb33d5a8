"""The local server speaks LM Studio's dialect with a real model: model lists, plain and streamed
completions with usage and stats, and grammar-enforced JSON in both request styles."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from lmsa.llm.endpoints import probe_endpoint
from lmsa.llm.replies import response_format_for
from lmsa.nodes.intent import IntentResult
from lmsa.nodes.plan import Plan
from lmsa.nodes.validate import Validation
from lmsa.prompts import INTENT_SYSTEM, VALIDATE_SYSTEM

pytestmark = pytest.mark.e2e


def _chat(server: Any, path: str = "/v1/chat/completions", **body: Any) -> httpx.Response:
    payload = {"model": server.model_id, "temperature": 0, "max_tokens": 24, **body}
    payload.setdefault("messages", [{"role": "user", "content": "Say hello."}])
    return httpx.post(f"{server.root_url}{path}", json=payload, timeout=300)


def _sse_events(response: httpx.Response) -> list[Any]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


async def test_model_lists_report_the_model_loaded(local_server: Any) -> None:
    probe = await probe_endpoint(local_server.base_url, "lm-studio")
    assert probe.reachable
    assert probe.models == [local_server.model_id]
    assert probe.loaded == [local_server.model_id]
    assert probe.context_lengths[local_server.model_id] == local_server.context_length
    native = httpx.get(f"{local_server.root_url}/api/v0/models/{local_server.model_id}").json()
    assert native["state"] == "loaded"
    assert native["type"] == "llm"
    missing = httpx.get(f"{local_server.root_url}/api/v0/models/no-such-model")
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]["message"]


def test_plain_completion_has_text_usage_and_native_stats(local_server: Any) -> None:
    reply = _chat(local_server).json()
    assert reply["object"] == "chat.completion"
    assert reply["model"] == local_server.model_id
    choice = reply["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = reply["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 25
    assert "stats" not in reply

    native = _chat(local_server, "/api/v0/chat/completions").json()
    stats = native["stats"]
    assert stats["tokens_per_second"] > 0
    assert stats["time_to_first_token"] > 0
    assert stats["stop_reason"] in ("eosFound", "maxPredictedTokensReached")


def test_max_tokens_caps_the_reply(local_server: Any) -> None:
    reply = _chat(local_server, max_tokens=3).json()
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] <= 4


def test_streaming_sends_sse_chunks_then_usage_then_done(local_server: Any) -> None:
    response = _chat(local_server, stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if e["choices"]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    assert sum(1 for p in pieces if p) > 1, "the reply must arrive in several chunks"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    usage_events = [e for e in events[:-1] if not e["choices"]]
    assert len(usage_events) == 1
    assert usage_events[0]["usage"]["completion_tokens"] > 0


async def test_langchain_streams_tokens_and_usage(local_server: Any) -> None:
    model = ChatOpenAI(
        base_url=local_server.base_url,
        api_key="lm-studio",
        model=local_server.model_id,
        temperature=0,
        max_tokens=24,
        stream_usage=True,
    )
    chunks = [chunk async for chunk in model.astream([HumanMessage(content="Count to five.")])]
    text = "".join(str(c.content) for c in chunks)
    assert text.strip()
    assert len([c for c in chunks if c.content]) > 1
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] > 0


def test_roles_that_do_not_alternate_are_merged_not_rejected(local_server: Any) -> None:
    messages = [
        {"role": "user", "content": "Hello."},
        {"role": "user", "content": "Say hello back."},
        {"role": "system", "content": "Be brief."},
    ]
    response = _chat(local_server, messages=messages)
    assert response.status_code == 200, response.text


def test_unknown_response_format_is_a_400_in_openai_shape(local_server: Any) -> None:
    response = _chat(local_server, response_format={"type": "yaml"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "response_format"
    assert "json_schema" in error["message"]


CASES: list[tuple[type[BaseModel], str, str]] = [
    (IntentResult, INTENT_SYSTEM, "Please read the file notes.txt."),
    (IntentResult, INTENT_SYSTEM, "hm"),
    (Validation, VALIDATE_SYSTEM, "Did the tool find the file?"),
    (
        Plan,
        "Plan tool steps for the request. Tools: read_file(path), list_dir(path). Reply in JSON.",
        "Show me what is in notes.txt",
    ),
]


@pytest.mark.parametrize("style", ["json_schema", "json_object"])
@pytest.mark.parametrize(("schema", "system", "user"), CASES)
def test_structured_replies_always_parse(
    local_server: Any, style: str, schema: type[BaseModel], system: str, user: str
) -> None:
    """The grammar, not luck, makes the reply valid: raw replies parse on the first try, for
    LM Studio's ``json_schema`` and llama.cpp's ``json_object`` + ``schema`` alike."""
    response = _chat(
        local_server,
        max_tokens=512,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        response_format=response_format_for(schema, style),  # type: ignore[arg-type]
    )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop", "a reply cut by max_tokens cannot be valid JSON"
    schema.model_validate_json(choice["message"]["content"])


def test_json_object_without_schema_is_constrained_to_json(local_server: Any) -> None:
    """Without a schema the grammar is "any JSON object": it forces the shape, not an end, so a
    reply cut by max_tokens is a JSON prefix and a finished one parses."""
    response = _chat(
        local_server,
        max_tokens=48,
        messages=[
            {"role": "system", "content": "Reply with a JSON object."},
            {"role": "user", "content": "Describe a cat."},
        ],
        response_format={"type": "json_object"},
    )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    content = choice["message"]["content"]
    assert content.lstrip().startswith("{")
    if choice["finish_reason"] == "stop":
        assert isinstance(json.loads(content), dict)


def test_messages_must_not_be_empty(local_server: Any) -> None:
    response = _chat(local_server, messages=[])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


def test_a_grammar_llama_cpp_cannot_parse_is_a_400_and_the_server_lives_on(
    local_server: Any,
) -> None:
    """llama.cpp rejects a grammar whose repetitions exceed its limit; unchecked, the null
    sampler it leaves kills the server process."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 4000}},
        "required": ["a"],
    }
    response = _chat(
        local_server,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "response_format"
    assert _chat(local_server).status_code == 200
