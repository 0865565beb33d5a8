"""The scripted chat model that drives the graph in tests (and in apps that embed lmsa)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import ValidationError

from lmsa.llm.replies import response_format_for
from lmsa.nodes.intent import IntentResult
from lmsa.nodes.validate import Validation
from lmsa.testing import ScriptedChatModel
from tests.unit.helpers import intent


@tool
def lookup(query: str) -> str:
    """Look something up."""
    return query


def test_text_replies_come_in_order_and_the_last_repeats() -> None:
    llm = ScriptedChatModel(script={"text": ["one", "two"]})
    replies = [llm.invoke("hi").content for _ in range(4)]
    assert replies == ["one", "two", "two", "two"]
    assert len(llm.calls_for("text")) == 4


def test_missing_key_raises_lookup_error() -> None:
    llm = ScriptedChatModel(script={"text": ["hello"]})
    with pytest.raises(LookupError, match="Validation"):
        llm.bind(response_format=response_format_for(Validation, "json_schema")).invoke("q")
    with pytest.raises(LookupError, match="text"):
        ScriptedChatModel(script={"text": []}).invoke("q")


def test_key_is_the_schema_name_in_both_styles() -> None:
    for style in ("json_schema", "json_object"):
        kwargs = {"response_format": response_format_for(Validation, style)}
        assert ScriptedChatModel.key_of(kwargs) == "Validation"
    assert ScriptedChatModel.key_of({}) == "text"
    assert ScriptedChatModel.key_of({"response_format": {"type": "text"}}) == "text"


def test_queues_are_independent_per_key() -> None:
    llm = ScriptedChatModel(script={"text": ["t1", "t2"], "Validation": [{"complete": True}]})
    structured = llm.bind(response_format=response_format_for(Validation, "json_schema"))
    assert llm.invoke("a").content == "t1"
    assert structured.invoke("b").content == '{"complete": true}'
    assert llm.invoke("c").content == "t2"
    assert [c["key"] for c in llm.calls] == ["text", "Validation", "text"]


def test_calls_record_messages_and_kwargs() -> None:
    llm = ScriptedChatModel(script={"text": ["ok"]})
    llm.bind(temperature=0.5).invoke([HumanMessage("hello")])
    (call,) = llm.calls
    assert call["messages"][0].content == "hello"
    assert call["kwargs"]["temperature"] == 0.5


def test_reply_kinds_dict_exception_and_callable() -> None:
    seen: list[list[BaseMessage]] = []

    def echo(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        seen.append(list(messages))
        return f"echo: {messages[-1].content}"

    llm = ScriptedChatModel(script={"text": [{"a": 1}, RuntimeError("boom"), echo]})
    assert llm.invoke("x").content == '{"a": 1}'
    with pytest.raises(RuntimeError, match="boom"):
        llm.invoke("y")
    assert llm.invoke("z").content == "echo: z"
    assert seen[0][-1].content == "z"


def test_bind_tools_returns_a_runnable_that_replies_with_tool_calls() -> None:
    call = {"name": "lookup", "args": {"query": "weather"}, "id": "call-1"}
    llm = ScriptedChatModel(script={"text": [AIMessage(content="", tool_calls=[call])]})
    bound = llm.bind_tools([lookup], tool_choice="auto")
    reply = bound.invoke("what is the weather?")
    assert reply.tool_calls == [{**call, "type": "tool_call"}]
    assert llm.calls[0]["kwargs"]["tool_choice"] == "auto"
    assert [t.name for t in llm.calls[0]["kwargs"]["tools"]] == ["lookup"]


async def test_streamed_tool_calls_reassemble() -> None:
    call = {"name": "lookup", "args": {"query": "q"}, "id": "call-9"}
    llm = ScriptedChatModel(script={"text": [AIMessage(content="Let me check", tool_calls=[call])]})
    total: AIMessageChunk | None = None
    count = 0
    async for chunk in llm.bind_tools([lookup]).astream("x"):
        total = chunk if total is None else total + chunk
        count += 1
    assert total is not None
    assert count > 2
    assert total.content == "Let me check"
    assert total.tool_calls[0]["name"] == "lookup"
    assert total.tool_calls[0]["args"] == {"query": "q"}


async def test_text_streams_word_by_word() -> None:
    llm = ScriptedChatModel(script={"text": ["one two three"]})
    pieces = [chunk.content async for chunk in llm.astream("x")]
    assert [p for p in pieces if p] == ["one ", "two ", "three"]


def test_with_structured_output_parses() -> None:
    llm = ScriptedChatModel(script={"IntentResult": [intent("analysis_task", language="de")]})
    result = llm.with_structured_output(IntentResult).invoke("Analysiere das")
    assert isinstance(result, IntentResult)
    assert result.intent == "analysis_task"
    assert result.language == "de"
    assert llm.calls[0]["key"] == "IntentResult"


def test_with_structured_output_rejects_invalid_reply() -> None:
    llm = ScriptedChatModel(script={"Validation": ['{"complete": "perhaps"}']})
    with pytest.raises(ValidationError):
        llm.with_structured_output(Validation).invoke("q")


def test_with_structured_output_include_raw() -> None:
    llm = ScriptedChatModel(script={"Validation": [{"complete": True}]})
    result = llm.with_structured_output(Validation, include_raw=True).invoke("q")
    assert isinstance(result, dict)
    assert result["parsed"] == Validation(complete=True)
    assert isinstance(result["raw"], AIMessage)
    assert result["parsing_error"] is None
