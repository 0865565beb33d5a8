"""Schema-constrained JSON helpers: schema inlining, request formats, reply parsing, repair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.constants import TAG_NOSTREAM
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from lmsa.config import Settings
from lmsa.llm.provider import LLMProvider
from lmsa.llm.replies import inline_refs, parse_reply, response_format_for
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured, dumps
from lmsa.nodes.intent import IntentResult
from lmsa.nodes.plan import Plan
from lmsa.nodes.validate import Validation
from lmsa.testing import ScriptedChatModel
from tests.unit.helpers import intent, plan, step


class Inner(BaseModel):
    name: str


class Outer(BaseModel):
    first: Inner
    rest: list[Inner] = []


class Deep(BaseModel):
    outer: Outer


def _walk_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | set().union(*(_walk_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_walk_keys(v) for v in node)) if node else set()
    return set()


# --- inline_refs -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Outer, Deep, Plan])
def test_inline_refs_removes_refs_and_defs(model: type[BaseModel]) -> None:
    raw = model.model_json_schema()
    assert "$defs" in raw  # the test is only meaningful for schemas that use references
    inlined = inline_refs(raw)
    keys = _walk_keys(inlined)
    assert "$ref" not in keys
    assert "$defs" not in keys


def test_inline_refs_substitutes_the_definition() -> None:
    inlined = inline_refs(Deep.model_json_schema())
    first = inlined["properties"]["outer"]["properties"]["first"]
    assert first["properties"]["name"]["type"] == "string"
    items = inlined["properties"]["outer"]["properties"]["rest"]["items"]
    assert items["required"] == ["name"]


def test_inline_refs_keeps_siblings_of_a_ref() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/X", "description": "the x"}},
        "$defs": {"X": {"type": "integer"}},
    }
    assert inline_refs(schema)["properties"]["x"] == {"type": "integer", "description": "the x"}


def test_inline_refs_does_not_mutate_its_input() -> None:
    raw = Outer.model_json_schema()
    before = json.dumps(raw, sort_keys=True)
    inline_refs(raw)
    assert json.dumps(raw, sort_keys=True) == before


# --- response_format_for ---------------------------------------------------------------------


def test_response_format_json_schema_style() -> None:
    fmt = response_format_for(Plan, "json_schema")
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Plan"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert "$defs" not in schema
    assert schema["properties"]["steps"]["items"]["properties"]["tool"]["type"] == "string"


def test_response_format_json_object_style() -> None:
    fmt = response_format_for(IntentResult, "json_object")
    assert fmt["type"] == "json_object"
    assert "json_schema" not in fmt
    assert fmt["schema"]["title"] == "IntentResult"
    assert "intent" in fmt["schema"]["properties"]


# --- parse_reply -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"complete": true}',
        '```json\n{"complete": true}\n```',
        '```\n{"complete": true}\n```',
        '  ```json {"complete": true} ```  ',
    ],
)
def test_parse_reply_accepts_plain_and_fenced_json(text: str) -> None:
    assert parse_reply(Validation, text) == Validation(complete=True)


def test_parse_reply_accepts_content_parts() -> None:
    parts = [{"type": "text", "text": '{"complete": '}, {"type": "text", "text": "false}"}]
    assert parse_reply(Validation, parts).complete is False


def test_parse_reply_rejects_invalid_json_and_schema_violations() -> None:
    with pytest.raises(ValidationError):
        parse_reply(Validation, "not json")
    with pytest.raises(ValidationError):
        parse_reply(Validation, '{"missing": "x"}')
    with pytest.raises(ValidationError):
        parse_reply(IntentResult, json.dumps(intent(confidence=1.5)))


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert dumps({"a": [1, 2], "b": "ü"}) == '{"a":[1,2],"b":"ü"}'


# --- ainvoke_structured ----------------------------------------------------------------------


def _provider(
    tmp_path: Path, script: dict[str, list[Any]]
) -> tuple[LLMProvider, ScriptedChatModel]:
    llm = ScriptedChatModel(script=script)
    return LLMProvider(Settings(workspace=tmp_path), chat_model=llm), llm


async def test_ainvoke_structured_valid_first_reply(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Validation": [{"complete": True}]})
    result = await ainvoke_structured(provider, [HumanMessage("q")], Validation)
    assert result == Validation(complete=True)
    (call,) = llm.calls
    assert call["kwargs"]["response_format"] == response_format_for(Validation, "json_schema")


async def test_ainvoke_structured_passes_the_requested_style(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Validation": [{"complete": True}]})
    await ainvoke_structured(provider, [HumanMessage("q")], Validation, style="json_object")
    assert llm.calls[0]["kwargs"]["response_format"]["type"] == "json_object"


async def test_ainvoke_structured_repairs_once(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Plan": ["{broken", plan(step("s1", "read_file"))]})
    result = await ainvoke_structured(provider, [SystemMessage("sys"), HumanMessage("q")], Plan)
    assert result.steps[0].tool == "read_file"
    first, second = llm.calls
    assert len(second["messages"]) == len(first["messages"]) + 2
    assert second["messages"][-2].content == "{broken"
    repair = second["messages"][-1]
    assert isinstance(repair, HumanMessage)
    assert "not valid JSON for the Plan schema" in repair.content


async def test_ainvoke_structured_gives_up_after_one_repair(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Validation": ["nope", '{"complete": "maybe"}']})
    with pytest.raises(StructuredOutputError) as caught:
        await ainvoke_structured(provider, [HumanMessage("q")], Validation)
    assert caught.value.schema_name == "Validation"
    assert "Validation" in str(caught.value)
    assert "complete" in str(caught.value)  # names the field that failed the second time
    assert len(llm.calls) == 2


async def test_ainvoke_structured_is_tagged_nostream(tmp_path: Path) -> None:
    provider, _ = _provider(tmp_path, {"Validation": [{"complete": True}]})
    seen: list[list[str]] = []

    class Tags(AsyncCallbackHandler):
        async def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            seen.append(list(kw.get("tags") or []))

    await ainvoke_structured(
        provider, [HumanMessage("q")], Validation, config={"callbacks": [Tags()]}
    )
    assert seen and TAG_NOSTREAM in seen[0]


def _cut_off() -> openai.LengthFinishReasonError:
    completion = ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": '{"complete": tr'},
                }
            ],
        }
    )
    return openai.LengthFinishReasonError(completion=completion)


async def test_reply_cut_at_the_token_limit_gets_the_repair_round(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Validation": [_cut_off(), {"complete": True}]})

    verdict = await ainvoke_structured(provider, [HumanMessage("q")], Validation)

    assert verdict.complete is True
    repair = llm.calls[1]["messages"]
    assert '{"complete": tr' in str(repair[-2].content)  # the partial reply is shown back
    assert "cut off at the token limit" in str(repair[-1].content)


async def test_reply_cut_twice_is_a_structured_output_error(tmp_path: Path) -> None:
    provider, llm = _provider(tmp_path, {"Validation": [_cut_off()]})

    with pytest.raises(StructuredOutputError, match="token limit"):
        await ainvoke_structured(provider, [HumanMessage("q")], Validation)
    assert len(llm.calls) == 2
