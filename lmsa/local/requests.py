"""The requests the local server accepts, translated into ``Llama.create_chat_completion``
arguments: messages normalised for chat templates, ``response_format`` and tool calls turned
into grammars, and the OpenAI/LM Studio request checks (a :class:`BadRequest` is a 400).

Pure functions, apart from building grammars, so they are unit-tested without a model; the
engine that runs a :class:`Prediction` is :mod:`lmsa.local.engine`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lmsa.local import tools as tool_calling
from lmsa.local.tools import ToolRequest, ToolRequestError

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

DEFAULT_TEMPERATURE = 0.2

_ROLE_ALIASES = {"developer": "system"}
_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "seed", "repeat_penalty")


def import_llama_cpp() -> Any:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    return llama_cpp


class BadRequest(ValueError):
    """A request the server refuses (HTTP 400), with an OpenAI-style ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class PredictionStats:
    """LM Studio's ``stats`` block: how fast this prediction was."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float | None = None
    generation_time: float = 0.0
    queue_wait: float = 0.0
    stop_reason: str | None = None

    @property
    def tokens_per_second(self) -> float:
        if self.completion_tokens <= 1 or self.generation_time <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.generation_time

    def as_lmstudio(self) -> dict[str, Any]:
        return {
            "tokens_per_second": round(self.tokens_per_second, 3),
            "time_to_first_token": (
                None if self.time_to_first_token is None else round(self.time_to_first_token, 4)
            ),
            "generation_time": round(self.generation_time, 4),
            "queue_wait": round(self.queue_wait, 4),
            "stop_reason": self.stop_reason,
        }

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass
class Prediction:
    """Arguments for ``Llama.create_chat_completion`` plus what the reply must look like."""

    messages: list[dict[str, Any]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    include_usage: bool = False
    tools: ToolRequest | None = None  # the reply may call these (parsed by the app)


# -- request translation (pure functions; unit-tested without llama.cpp) ----------------------


def normalise_messages(raw: Sequence[Any], *, native_tools: bool = False) -> list[dict[str, Any]]:
    """OpenAI messages -> the ``{"role", "content"}`` list chat templates accept. With
    ``native_tools`` (a template that renders tools) assistant ``tool_calls`` and ``tool``
    results stay structured; otherwise calls become text in the assistant's turn and results
    become user text."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, Mapping):
            raise BadRequest(f"messages[{index}] must be an object", "messages")
        role = _ROLE_ALIASES.get(str(message.get("role")), str(message.get("role")))
        if role not in ("system", "user", "assistant", "tool"):
            raise BadRequest(f"messages[{index}].role {role!r} is not supported", "messages")
        text = content_text(message.get("content"))
        if role == "system":
            system.append(text)
            continue
        calls: list[dict[str, Any]] = []
        if role == "assistant" and message.get("tool_calls"):
            try:
                calls = tool_calling.message_tool_calls(message["tool_calls"], index)
            except ToolRequestError as error:
                raise BadRequest(str(error), error.param) from error
        if native_tools and (calls or role == "tool"):
            turns.append(tool_calling.structured_turn(role, text, calls, message, turns))
            continue
        if calls:
            text = "\n".join(part for part in (text, tool_calling.tool_calls_text(calls)) if part)
        if role == "tool":
            role, text = "user", f"Tool result:\n{text}"
        if turns and turns[-1]["role"] == role and "tool_calls" not in turns[-1]:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    if not turns:
        raise BadRequest("messages must contain at least one user message", "messages")
    head = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    return head + turns


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise BadRequest("only text content parts are supported", "messages")
        return "".join(parts)
    raise BadRequest("message content must be a string or a list of text parts", "messages")


def response_schema(response_format: Any) -> tuple[bool, dict[str, Any] | None]:
    """``(constrained, schema)``: whether to constrain the reply to JSON, and to which schema
    (``None`` = any JSON object)."""
    if response_format is None:
        return False, None
    if not isinstance(response_format, Mapping):
        raise BadRequest("'response_format' must be an object", "response_format")
    kind = response_format.get("type")
    if kind == "text":
        return False, None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise BadRequest(
                "'response_format.json_schema.schema' must be a JSON schema object",
                "response_format",
            )
        return True, dict(schema)
    if kind == "json_object":
        schema = response_format.get("schema")
        if schema is not None and not isinstance(schema, Mapping):
            raise BadRequest("'response_format.schema' must be an object", "response_format")
        return True, None if schema is None else dict(schema)
    raise BadRequest(
        "'response_format.type' must be 'json_schema', 'json_object' or 'text'", "response_format"
    )


@lru_cache(maxsize=32)
def grammar_for(schema_json: str | None) -> LlamaGrammar:
    """GBNF for a schema (``None``: any JSON). An unsupported schema is a 400, not a silent
    fall back to unconstrained JSON: the caller relies on the shape."""
    import_llama_cpp()
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import JSON_GBNF

    if schema_json is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as error:
        raise BadRequest(
            f"the JSON schema cannot be turned into a grammar: {error}", "response_format"
        ) from error


@lru_cache(maxsize=32)
def tool_grammar_for(schema_json: str) -> LlamaGrammar:
    """GBNF for exactly one ``<tool_call>`` block holding a call that matches ``schema_json``
    (:func:`lmsa.local.tools.call_schema`)."""
    import_llama_cpp()
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = tool_calling.wrap_call_grammar(json_schema_to_gbnf(schema_json))
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as error:
        raise BadRequest(
            f"the tools' parameter schemas cannot be turned into a grammar: {error}", "tools"
        ) from error


def tool_grammar(request: ToolRequest) -> LlamaGrammar:
    # Key order is kept: the grammar makes the model write properties in schema order ("name"
    # before "arguments", required arguments first as the tool lists them).
    return tool_grammar_for(json.dumps(tool_calling.call_schema(request)))


def tool_fallback(prediction: Prediction) -> Prediction | None:
    """The same prediction constrained to one valid tool call (``None``: no tools, or their
    schemas have no grammar)."""
    if prediction.tools is None:
        return None
    try:
        grammar = tool_grammar(prediction.tools)
    except BadRequest:
        return None
    kwargs = {"repeat_penalty": 1.0, **prediction.kwargs, "grammar": grammar}
    return replace(prediction, kwargs=kwargs)


def build_prediction(
    body: Mapping[str, Any], default_max_tokens: int | None, *, native_tools: bool = False
) -> Prediction:
    """An OpenAI/LM Studio chat completion request -> a :class:`Prediction`. ``native_tools``:
    the model's chat template renders ``tools`` itself."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list", "messages")
    try:
        tools = tool_calling.parse_tool_request(body)
    except ToolRequestError as error:
        raise BadRequest(str(error), error.param) from error
    kwargs: dict[str, Any] = {"temperature": DEFAULT_TEMPERATURE}
    for key in _SAMPLING_KEYS:
        if body.get(key) is not None:
            kwargs[key] = body[key]
    for key in ("presence_penalty", "frequency_penalty"):
        if body.get(key) is not None:
            kwargs[key] = float(body[key])
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None or (isinstance(max_tokens, int) and max_tokens < 0):
        max_tokens = default_max_tokens  # LM Studio's -1 means "no limit" (up to the context)
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or max_tokens == 0:
            raise BadRequest("'max_tokens' must be a positive integer or -1", "max_tokens")
        kwargs["max_tokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        kwargs["stop"] = [stop] if isinstance(stop, str) else list(stop)
    constrained, schema = response_schema(body.get("response_format"))
    if constrained and tools is not None:
        raise BadRequest(
            "'response_format' cannot constrain a reply that may call tools; send one or the "
            "other (or tool_choice 'none')",
            "response_format",
        )
    if constrained:
        # Not sort_keys: the grammar writes properties in the order the schema lists them, and
        # that order is part of the request (a reasoning field first lets the model think
        # before it commits to a label).
        kwargs["grammar"] = grammar_for(None if schema is None else json.dumps(schema))
        # llama-cpp-python's default repeat penalty (1.1) punishes the quotes, commas and colons
        # JSON is made of, pushing a small model to never close a string.
        kwargs.setdefault("repeat_penalty", 1.0)
    options = body.get("stream_options")
    include_usage = bool(isinstance(options, Mapping) and options.get("include_usage"))
    shaped = normalise_messages(messages, native_tools=native_tools)
    if tools is not None:
        if native_tools:
            kwargs["tools"] = tools.template_tools()
        else:
            shaped = tool_calling.with_instructions(shaped, tools)
        if tools.constrained:
            kwargs["grammar"] = tool_grammar(tools)
            kwargs.setdefault("repeat_penalty", 1.0)
    return Prediction(shaped, kwargs, include_usage, tools)
