"""Tool calling through the local server with a real model and the real clients (the openai SDK
and langchain's ChatOpenAI). Only structure is asserted: a call to an offered tool whose
arguments satisfy its schema, OpenAI's stream shape, and a text answer once the tool result is
in; never the model's wording."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import validate
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import OpenAI

pytestmark = pytest.mark.e2e

READ_FILE_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "path relative to the workspace"}},
    "required": ["path"],
}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a text file from the workspace and return its contents.",
            "parameters": READ_FILE_SCHEMA,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Return the current time in a timezone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": ["timezone"],
            },
        },
    },
]
ASK: list[Any] = [{"role": "user", "content": "Read the file notes.txt and tell me what it says."}]


@tool
def read_file(path: str) -> str:
    """Read a text file from the workspace and return its contents."""
    return "The launch code is PINEAPPLE-42."


def _client(server: Any) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="x", timeout=600, max_retries=0)


def _chat_model(server: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=server.base_url,
        api_key="x",  # type: ignore[arg-type]
        model=server.model_id,
        temperature=0,
        max_retries=0,
        timeout=600,
    )


def test_required_tool_choice_returns_a_schema_valid_call(local_server: Any) -> None:
    reply = _client(local_server).chat.completions.create(
        model=local_server.model_id,
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "read_file"
    validate(json.loads(call.function.arguments), READ_FILE_SCHEMA)


def test_a_named_tool_is_called_and_native_stats_are_kept(local_server: Any) -> None:
    reply = httpx.post(
        f"{local_server.base_url.removesuffix('/v1')}/api/v0/chat/completions",
        json={
            "model": local_server.model_id,
            "messages": ASK,
            "tools": TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            "temperature": 0,
        },
        timeout=600,
    ).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
    validate(json.loads(call["function"]["arguments"]), TOOLS[1]["function"]["parameters"])
    assert reply["stats"]["tokens_per_second"] >= 0
    assert reply["usage"]["completion_tokens"] > 0


def test_an_unknown_tool_choice_is_an_openai_400(local_server: Any) -> None:
    reply = httpx.post(
        f"{local_server.base_url}/chat/completions",
        json={
            "model": local_server.model_id,
            "messages": ASK,
            "tools": TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "launch_rocket"}},
        },
        timeout=60,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "tool_choice"


def test_a_streamed_required_call_arrives_as_tool_call_deltas(local_server: Any) -> None:
    chunks = list(
        _client(local_server).chat.completions.create(
            model=local_server.model_id,
            messages=ASK,
            tools=TOOLS,
            tool_choice="required",
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert "<tool_call" not in "".join(delta.content or "" for delta in deltas)
    calls = [call for delta in deltas for call in delta.tool_calls or []]
    assert [call.index for call in calls] == [0]
    [call] = calls
    assert call.id is not None
    assert call.id.startswith("call_")
    assert call.function is not None
    assert call.function.name == "read_file"
    validate(json.loads(call.function.arguments or ""), READ_FILE_SCHEMA)
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_langchain_bind_tools_then_a_text_answer_from_the_tool_result(local_server: Any) -> None:
    model = _chat_model(local_server)
    question = HumanMessage("Read the file notes.txt and tell me what it says.")
    asked = model.bind_tools([read_file], tool_choice="required").invoke([question])
    assert isinstance(asked, AIMessage)
    [call] = asked.tool_calls
    assert call["name"] == "read_file"
    validate(call["args"], READ_FILE_SCHEMA)
    assert call["id"]

    result = ToolMessage(read_file.invoke(call["args"]), tool_call_id=call["id"])
    answer = model.invoke([question, asked, result])
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert isinstance(answer.content, str)
    assert answer.content.strip()
