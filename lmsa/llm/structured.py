"""Schema-constrained JSON replies that work on small local models.

LM Studio constrains decoding with a grammar when it gets ``response_format`` of type
``json_schema``; it rejects ``json_object`` and the object form of ``tool_choice`` that LangChain's
``with_structured_output`` sends. So lmsa asks for JSON through ``response_format`` itself, inlines
``$ref``s (grammar builders differ in how much JSON Schema they follow), and gives a reply that
still does not parse exactly one repair round before reporting a clear error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal, TypeVar

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.constants import TAG_NOSTREAM
from pydantic import BaseModel, ValidationError

from lmsa.llm.models import LLMProvider

ModelT = TypeVar("ModelT", bound=BaseModel)
OutputStyle = Literal["json_schema", "json_object"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class StructuredOutputError(RuntimeError):
    """The model did not produce valid JSON for the schema, even after one repair round."""

    def __init__(self, schema_name: str, detail: str) -> None:
        super().__init__(
            f"The model's reply could not be read as {schema_name} after one repair attempt "
            f"({detail})."
        )
        self.schema_name = schema_name


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
    text = content if isinstance(content, str) else _text_of(content)
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


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str | dict)
        )
    return str(content)


async def ainvoke_structured(
    llm: LLMProvider,
    messages: Sequence[BaseMessage],
    schema: type[ModelT],
    *,
    style: OutputStyle = "json_schema",
    config: RunnableConfig | None = None,
    role: str | None = None,
    constrain_to: type[BaseModel] | None = None,
) -> ModelT:
    """Ask for ``schema`` as JSON; on a reply that does not validate, show the model its error
    once and ask again. Tagged ``nostream`` so graph token streams carry only the answer.

    ``role`` (``"fast"``/``"main"``) overrides the router's guess from the schema name
    (``LMSA_LLM_FAST_SCHEMAS``). ``constrain_to`` is a narrower schema to send to the server
    (its grammar then admits only replies of that shape) while the reply is still read as
    ``schema``, so a server that ignores the grammar gets the same checks and feedback."""
    response_format = response_format_for(constrain_to or schema, style)
    model = await llm.model(role=role, response_format=response_format)
    model = model.with_config(tags=[TAG_NOSTREAM], run_name=f"structured:{schema.__name__}")
    history = list(messages)
    parsed, reply_text, problem = await _attempt(model, history, schema, config)
    if parsed is not None:
        return parsed
    history += [
        AIMessage(content=reply_text),
        HumanMessage(
            content=(
                f"That reply is not valid JSON for the {schema.__name__} schema: {problem}. "
                "Reply again with only the corrected JSON object."
            )
        ),
    ]
    parsed, _, problem = await _attempt(model, history, schema, config)
    if parsed is not None:
        return parsed
    raise StructuredOutputError(schema.__name__, problem)


async def _attempt(
    model: Runnable, history: list[BaseMessage], schema: type[ModelT], config: RunnableConfig | None
) -> tuple[ModelT | None, str, str]:
    """One request: the parsed object, or the reply text and what was wrong with it. A reply
    cut off at the token limit is a bad reply to repair (ask for a shorter one), not a crash."""
    try:
        reply = await model.ainvoke(history, config=config)
    except openai.LengthFinishReasonError as error:
        partial = ""
        choices = getattr(getattr(error, "completion", None), "choices", None) or []
        if choices and choices[0].message.content:
            partial = str(choices[0].message.content)
        return None, partial, "the reply was cut off at the token limit; keep it much shorter"
    text = _text_of(reply.content)
    try:
        return parse_reply(schema, reply.content), text, ""
    except (ValidationError, ValueError) as error:
        if getattr(reply, "response_metadata", {}).get("finish_reason") == "length":
            return None, text, "the reply was cut off at the token limit; keep it much shorter"
        return None, text, _brief(error)


def _brief(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in error.errors()
        ]
        return "; ".join(problems[:5])
    return str(error).splitlines()[0][:300]


def dumps(value: Any) -> str:
    """Compact JSON for prompts (small models read fewer tokens faster)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
