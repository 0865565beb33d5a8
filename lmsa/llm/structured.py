"""Schema-constrained JSON replies that work on small local models.

:func:`ainvoke_structured` asks for JSON through ``response_format`` (see
:mod:`lmsa.llm.replies` for why that way), and gives a reply that still does not parse exactly
one repair round before reporting a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.constants import TAG_NOSTREAM
from pydantic import BaseModel, ValidationError

from lmsa.llm.provider import LLMProvider
from lmsa.llm.replies import ModelT, OutputStyle, content_text, parse_reply, response_format_for


class StructuredOutputError(RuntimeError):
    """The model did not produce valid JSON for the schema, even after one repair round."""

    def __init__(self, schema_name: str, detail: str) -> None:
        super().__init__(
            f"The model's reply could not be read as {schema_name} after one repair attempt "
            f"({detail})."
        )
        self.schema_name = schema_name


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
    text = content_text(reply.content)
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
