"""The bottom of the LLM layer: what a request asks for and how a reply is read back.

A JSON reply is requested through ``response_format`` of type ``json_schema`` (LM Studio
constrains decoding with a grammar for it; it rejects ``json_object`` and the object form of
``tool_choice`` that LangChain's ``with_structured_output`` sends), with ``$ref``s inlined because
grammar builders differ in how much JSON Schema they follow. Every chat model lmsa ships (the
router and the scripted test model) takes its ``with_structured_output`` from here, so tests
exercise the same path as production. Nothing here imports the rest of :mod:`lmsa.llm`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Literal, TypeVar

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
OutputStyle = Literal["json_schema", "json_object"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str | dict)
        )
    return str(content)


def message_text(message: BaseMessage) -> str:
    return content_text(message.content)


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local ``$ref``s with their definitions (lmsa's schemas are not recursive)."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = dict(definitions[ref.split("/")[-1]])
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**target, **extra})
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


@lru_cache(maxsize=64)
def _inlined_schema_json(schema: type[BaseModel]) -> str:
    # Building a pydantic JSON schema costs more than a whole graph step; schemas are fixed
    # classes, so build each once. Kept as a string so no caller can mutate the cached copy.
    return json.dumps(inline_refs(schema.model_json_schema()))


def response_format_for(schema: type[BaseModel], style: OutputStyle) -> dict[str, Any]:
    json_schema = json.loads(_inlined_schema_json(schema))
    if style == "json_object":
        return {"type": "json_object", "schema": json_schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.__name__, "strict": True, "schema": json_schema},
    }


def parse_reply(schema: type[ModelT], content: Any) -> ModelT:
    text = content_text(content)
    match = _FENCE.match(text)
    if match:
        text = match.group(1)
    try:
        return schema.model_validate_json(text)
    except ValidationError as error:
        if not any(e["type"] == "json_invalid" for e in error.errors()):
            raise
        # A grammar lets raw control characters (a newline, a tab) into a JSON string; strict
        # JSON forbids them, but the meaning is clear, so read the reply leniently.
        try:
            value = json.loads(text, strict=False)
        except ValueError:
            raise error from None
        return schema.model_validate(value)


def structured_output(
    model: BaseChatModel, schema: Any, *, include_raw: bool = False
) -> Runnable[LanguageModelInput, Any]:
    """``with_structured_output`` for lmsa's chat models: JSON through ``response_format``,
    parsed here. ``schema`` is a pydantic class or a JSON schema dict."""
    if isinstance(schema, dict):
        name = str(schema.get("title") or "Output")
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }

        def parse(message: BaseMessage) -> Any:
            text = message.content if isinstance(message.content, str) else str(message.content)
            return json.loads(text)
    else:
        response_format = response_format_for(schema, "json_schema")

        def parse(message: BaseMessage) -> Any:
            return parse_reply(schema, message.content)

    bound = model.bind(response_format=response_format)
    if not include_raw:
        return bound | parse

    def with_raw(message: BaseMessage) -> dict[str, Any]:
        try:
            return {"raw": message, "parsed": parse(message), "parsing_error": None}
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            return {"raw": message, "parsed": None, "parsing_error": error}

    return bound | with_raw
