"""Tool calling for the local server as LM Studio offers it: OpenAI ``tools`` and ``tool_choice``
in, OpenAI ``tool_calls`` out, with the model's own chat template doing the prompting.

* A template that renders tools (Qwen 2.5's and most recent instruct models') gets them, because
  its format is the one the model was trained on: ``<tool_call>{"name": .., "arguments": ..}
  </tool_call>`` in the reply, ``<tool_response>`` for results. Any other template gets the same
  instructions in its system message and sees calls and results as text.
* Small models write broken calls, so a call is parsed leniently (``strict=False``, code fences,
  trailing junk, a bare call object without the tags) and then checked: the name against the
  offered tools, the arguments against the tool's JSON schema. When the model tried to call a
  tool and failed, the caller generates once more under a grammar that admits exactly one valid
  call; ``tool_choice`` ``"required"`` or a named tool use that grammar from the start.
* A streamed reply must never show part of a call as content: :class:`ContentGate` holds back
  any tail that could still start one and captures everything from its start on.

Arguments are validated with ``jsonschema`` (in the ``[local]`` extra). Nothing here needs
llama.cpp. Longer than most modules because it holds one wire format whole (request checks,
parsing, grammar schema, stream gating): split, its rules would sit in several places.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TEMPLATE_TOOLS = re.compile(r"\btools\b")
_CALL_RULE = "lmsa-tool-call"
_BARE_CALL = re.compile(
    r'(?P<fence>```(?:json|xml)?[ \t]*\n\s*)?(?P<object>\{\s*"name"\s*:\s*"(?P<name>[^"\\]*)"'
    r'(?P<arguments>\s*,\s*"(?:arguments|parameters)")?)'
)
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


class ToolRequestError(ValueError):
    """A malformed ``tools`` / ``tool_choice`` / tool message (HTTP 400), with its ``param``."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


# -- the request -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Tool:
    name: str
    parameters: dict[str, Any]
    description: str | None = None

    def as_openai(self) -> dict[str, Any]:
        described = {"description": self.description} if self.description else {}
        function = {"name": self.name, **described, "parameters": self.parameters}
        return {"type": "function", "function": function}


@dataclass(frozen=True, eq=False)
class ToolRequest:
    """The tools a request offers and how the reply may use them."""

    tools: tuple[Tool, ...]
    choice: str = "auto"  # "auto", "required" or "function" (one named tool)
    forced: str | None = None
    parallel: bool = True

    @property
    def constrained(self) -> bool:
        """Whether the reply must be a tool call (grammar from the first token)."""
        return self.choice != "auto"

    @property
    def callable(self) -> tuple[Tool, ...]:
        """The tools a reply may call."""
        return tuple(tool for tool in self.tools if self.forced in (None, tool.name))

    def template_tools(self) -> list[dict[str, Any]]:
        return [tool.as_openai() for tool in self.tools]

    def tool(self, name: str) -> Tool | None:
        return next((tool for tool in self.callable if tool.name == name), None)


def parse_tool_request(body: Mapping[str, Any]) -> ToolRequest | None:
    """``tools``, ``tool_choice`` and ``parallel_tool_calls`` -> a :class:`ToolRequest`, or
    ``None`` when the reply is plain text (no tools, or ``tool_choice: "none"``)."""
    raw_tools = body.get("tools")
    choice = body.get("tool_choice")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise ToolRequestError("'tools' must be a list of function tools", "tools")
    tools = tuple(_parse_tool(index, raw) for index, raw in enumerate(raw_tools or []))
    names = [tool.name for tool in tools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ToolRequestError(f"duplicate tool names: {', '.join(duplicates)}", "tools")
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise ToolRequestError("'parallel_tool_calls' must be a boolean", "parallel_tool_calls")
    kind, forced = _parse_choice(choice, names)
    if kind != "none" and kind != "auto" and not tools:
        raise ToolRequestError("'tool_choice' needs 'tools'", "tool_choice")
    if kind == "none" or not tools:
        return None
    return ToolRequest(tools, kind, forced, parallel is not False)


def _parse_tool(index: int, raw: Any) -> Tool:
    where = f"tools[{index}]"
    if not isinstance(raw, Mapping) or raw.get("type") != "function":
        raise ToolRequestError(f"{where} must be an object with type 'function'", "tools")
    function = raw.get("function")
    if not isinstance(function, Mapping):
        raise ToolRequestError(f"{where}.function must be an object", "tools")
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ToolRequestError(
            f"{where}.function.name must be 1-64 letters, digits, '_', '-' or '.'", "tools"
        )
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise ToolRequestError(f"{where}.function.description must be a string", "tools")
    parameters = function.get("parameters")
    if parameters is None:
        parameters = dict(_EMPTY_PARAMETERS)
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise ToolRequestError(
            f"{where}.function.parameters must be a JSON schema of type 'object'", "tools"
        )
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(parameters).check_schema(parameters)
    except SchemaError as error:
        message = f"{where}.function.parameters is not a valid JSON schema: {error.message}"
        raise ToolRequestError(message, "tools") from None
    return Tool(name, dict(parameters), description)


def _parse_choice(choice: Any, names: Sequence[str]) -> tuple[str, str | None]:
    if choice is None:
        return "auto", None
    if choice in ("none", "auto", "required"):
        return str(choice), None
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str):
            raise ToolRequestError("'tool_choice.function.name' must be a string", "tool_choice")
        if name not in names:
            raise ToolRequestError(f"'tool_choice' names an unknown tool {name!r}", "tool_choice")
        return "function", name
    raise ToolRequestError(
        "'tool_choice' must be 'none', 'auto', 'required' or "
        '{"type": "function", "function": {"name": ...}}',
        "tool_choice",
    )


def template_supports_tools(template: str | None) -> bool:
    """Whether a GGUF chat template renders a ``tools`` list."""
    return bool(template) and _TEMPLATE_TOOLS.search(template or "") is not None


# -- messages ----------------------------------------------------------------------------------


def tool_instructions(request: ToolRequest) -> str:
    """The tool list and call format for a template that cannot render tools (Qwen 2.5's own
    wording, which Hermes-style models share)."""
    listed = "\n".join(json.dumps(tool, ensure_ascii=False) for tool in request.template_tools())
    return (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{listed}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


def message_tool_calls(raw: Any, index: int) -> list[dict[str, Any]]:
    """An assistant message's ``tool_calls`` with ``function.arguments`` decoded to an object,
    as chat templates expect (Qwen's applies ``tojson`` to it); undecodable arguments stay a
    string rather than failing the request."""
    if not isinstance(raw, list):
        raise ToolRequestError(f"messages[{index}].tool_calls must be a list", "messages")
    calls = []
    for position, call in enumerate(raw):
        function = call.get("function") if isinstance(call, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(name, str):
            raise ToolRequestError(
                f"messages[{index}].tool_calls[{position}] must have function.name", "messages"
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            with contextlib.suppress(json.JSONDecodeError):
                arguments = json.loads(arguments, strict=False) if arguments.strip() else {}
        calls.append(
            {
                "id": str(call.get("id") or new_call_id()),
                "type": "function",
                "function": {"name": name, "arguments": {} if arguments is None else arguments},
            }
        )
    return calls


def tool_calls_text(calls: Sequence[Mapping[str, Any]]) -> str:
    """Decoded tool calls (:func:`message_tool_calls`) written the way the model is asked to
    write them, for templates that cannot render ``tool_calls``."""
    payloads = [
        json.dumps(
            {key: call["function"][key] for key in ("name", "arguments")}, ensure_ascii=False
        )
        for call in calls
    ]
    return "\n".join(f"{TOOL_CALL_OPEN}\n{payload}\n{TOOL_CALL_CLOSE}" for payload in payloads)


def structured_turn(
    role: str, text: str, calls: list[dict[str, Any]], message: Mapping[str, Any], earlier: Any
) -> dict[str, Any]:
    """An assistant turn with decoded ``tool_calls``, or a ``tool`` result carrying its
    ``tool_call_id`` and the tool's name (looked up in the ``earlier`` turns: some templates
    print it, and OpenAI's tool messages do not send it)."""
    if calls:
        return {"role": role, "content": text, "tool_calls": calls}
    call_id = str(message.get("tool_call_id") or "")
    names = {
        str(call["id"]): str(call["function"]["name"])
        for turn in earlier
        for call in turn.get("tool_calls") or []
    }
    name = message.get("name") or names.get(call_id, "")
    return {"role": role, "content": text, "tool_call_id": call_id, "name": str(name)}


def with_instructions(messages: list[dict[str, Any]], request: ToolRequest) -> list[dict[str, Any]]:
    """Messages for a template that cannot render tools: :func:`tool_instructions` at the end
    of the system message."""
    text = tool_instructions(request)
    if messages and messages[0]["role"] == "system":
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


# -- the reply ---------------------------------------------------------------------------------


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=new_call_id)

    def as_openai(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": json.dumps(self.arguments, ensure_ascii=False)}
        return {"id": self.id, "type": "function", "function": function}

    def as_delta(self, index: int) -> dict[str, Any]:
        return {"index": index, **self.as_openai()}


@dataclass
class ParsedReply:
    """A reply split into text and tool calls."""

    text: str  # the reply as generated
    lead: str = ""  # text before the first tool call block
    rest: str = ""  # text outside blocks after the first one
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    attempted: bool = False  # the text contains a tool call block

    @property
    def ok(self) -> bool:
        return self.attempted and not self.errors and bool(self.calls)

    @property
    def content(self) -> str | None:
        """``message.content``: the text outside the blocks (``None`` if blank) for a tool call
        reply, the whole text otherwise."""
        if not self.ok:
            return self.text
        return (self.lead + self.rest).strip() or None

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.ok:
            message["tool_calls"] = [call.as_openai() for call in self.calls]
        return message

    def finish_reason(self, generated: str) -> str:
        return "tool_calls" if self.ok else generated

    def instead_of(self, first: ParsedReply) -> ParsedReply:
        """This (grammar-constrained) reply's calls with the text the first attempt wrote
        around its broken call (a streamed reply has already shown that lead)."""
        if not self.ok:
            return first
        return ParsedReply(first.text, first.lead, first.rest, self.calls, [], True)


def split_blocks(text: str, names: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """``(outside, blocks)``: the text outside tool call blocks (one more piece than there are
    blocks) and the blocks' bodies. Blocks are ``<tool_call>`` tags (an unclosed one runs to the
    next tag or the end); without tags, bare call objects, maybe in a code fence (small models
    write those; llama.cpp's Hermes parser accepts them too): ``{"name": ..`` naming one of
    ``names``, or followed by an ``"arguments"`` key (a call to a tool that does not exist is
    still an attempt, worth the grammar fallback)."""
    if TOOL_CALL_OPEN not in text:
        return _split_bare(text, names)
    outside: list[str] = []
    blocks: list[str] = []
    position = 0
    while (start := text.find(TOOL_CALL_OPEN, position)) >= 0:
        outside.append(text[position:start])
        body = start + len(TOOL_CALL_OPEN)
        close = text.find(TOOL_CALL_CLOSE, body)
        reopen = text.find(TOOL_CALL_OPEN, body)
        if close < 0 or 0 <= reopen < close:
            position = len(text) if reopen < 0 else reopen
            blocks.append(text[body:position])
        else:
            blocks.append(text[body:close])
            position = close + len(TOOL_CALL_CLOSE)
    outside.append(text[position:])
    return outside, blocks


def _split_bare(text: str, names: Sequence[str]) -> tuple[list[str], list[str]]:
    outside: list[str] = []
    blocks: list[str] = []
    position = 0
    for match in _BARE_CALL.finditer(text):
        if match.start() < position or not (match["name"] in names or match["arguments"]):
            continue
        outside.append(text[position : match.start()])
        body = match.start("object")
        try:
            _, end = json.JSONDecoder(strict=False).raw_decode(text, body)
        except json.JSONDecodeError:
            end = len(text)
        blocks.append(text[body:end])
        position = end
        if match.group("fence"):
            closing = re.match(r"\s*```", text[end:])
            position += closing.end() if closing else 0
    outside.append(text[position:])
    return outside, blocks


def decode_call(block: str) -> tuple[str, dict[str, Any]]:
    """A block's ``(name, arguments)``; ``ValueError`` when it is not a call object."""
    raw = block.strip()
    start = raw.find("{")  # after a code fence's opening line, if any
    if start < 0:
        raise ValueError("no JSON object")
    try:  # the first object; trailing text (a closing fence, a stray brace) is ignored
        value, _ = json.JSONDecoder(strict=False).raw_decode(raw, start)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    name = value.get("name")
    if not isinstance(name, str):
        raise ValueError("no 'name'")
    arguments = value.get("arguments", value.get("parameters"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments, strict=False) if arguments.strip() else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"'arguments' is not JSON: {error}") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ValueError("'arguments' is not an object")
    return name, arguments


def call_errors(request: ToolRequest, name: str, arguments: Mapping[str, Any]) -> list[str]:
    """Why a call is not acceptable (empty: it is): unknown tool, or arguments that fail the
    tool's schema."""
    tool = request.tool(name)
    if tool is None:
        offered = ", ".join(tool.name for tool in request.callable)
        return [f"unknown tool {name!r} (offered: {offered})"]
    from jsonschema.validators import validator_for

    validator = validator_for(tool.parameters)(tool.parameters)
    return [
        f"{name}: {'/'.join(str(part) for part in error.absolute_path) or 'arguments'}: "
        f"{error.message}"
        for error in validator.iter_errors(dict(arguments))
    ]


def interpret(text: str, request: ToolRequest) -> ParsedReply:
    """A generated reply -> its tool calls, each parsed and validated."""
    outside, blocks = split_blocks(text, [tool.name for tool in request.tools])
    reply = ParsedReply(text, outside[0], "".join(outside[1:]), attempted=bool(blocks))
    for index, block in enumerate(blocks):
        try:
            name, arguments = decode_call(block)
        except ValueError as error:
            reply.errors.append(f"tool call {index}: {error}")
            continue
        errors = call_errors(request, name, arguments)
        if errors:
            reply.errors.extend(errors)
        else:
            reply.calls.append(ToolCall(name, arguments))
    if not request.parallel:
        del reply.calls[1:]
    return reply


def needs_fallback(reply: ParsedReply, request: ToolRequest) -> bool:
    """An unconstrained reply that tried to call a tool and failed: generate it again under the
    call grammar (once)."""
    return not request.constrained and reply.attempted and not reply.ok


# -- grammar -----------------------------------------------------------------------------------


def call_schema(request: ToolRequest) -> dict[str, Any]:
    """The JSON schema of one call to any callable tool: ``{"name": const, "arguments":
    <parameters>}``, an ``anyOf`` over tools. Each tool's ``$defs`` / ``definitions`` move to
    the root under the tool's name (references resolve from the root)."""
    definitions: dict[str, Any] = {}
    options = []
    for tool in request.callable:
        parameters = _relocate_definitions(tool, definitions)
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": parameters},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    if definitions:
        schema = {**schema, "$defs": definitions}
    return schema


def _relocate_definitions(tool: Tool, definitions: dict[str, Any]) -> dict[str, Any]:
    parameters = dict(tool.parameters)
    moved: dict[str, Any] = {}
    local: dict[str, str] = {}
    for key in ("$defs", "definitions"):
        for name, schema in (parameters.pop(key, None) or {}).items():
            local[f"#/{key}/{name}"] = f"#/$defs/{tool.name}.{name}"
            moved[f"{tool.name}.{name}"] = schema

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {k: local.get(v, v) if k == "$ref" else rewrite(v) for k, v in node.items()}

    definitions.update({name: rewrite(schema) for name, schema in moved.items()})
    return dict(rewrite(parameters))


def wrap_call_grammar(gbnf: str) -> str:
    """A grammar for one call object (from ``json_schema_to_gbnf``) -> one whole
    ``<tool_call>`` block, the way the model writes it unconstrained."""
    rules = gbnf.splitlines()
    if any(line.startswith(f"{_CALL_RULE} ::=") for line in rules):
        raise ValueError(f"the grammar already has a rule named {_CALL_RULE}")
    renamed = [
        f"{_CALL_RULE} ::={line[len('root ::=') :]}" if line.startswith("root ::=") else line
        for line in rules
    ]
    head = f'root ::= "{TOOL_CALL_OPEN}\\n" {_CALL_RULE} "\\n{TOOL_CALL_CLOSE}"'
    return "\n".join([head, *renamed])


# -- streaming ---------------------------------------------------------------------------------


class ContentGate:
    """Decides, piece by streamed piece, which text is content the client may see now: all text
    before a tool call starts (a ``<tool_call>`` tag, or a bare call object naming one of
    ``names``, see :func:`split_blocks`). A tail that could still grow into such a start is held
    back until later pieces settle it; from the start on, everything is captured for parsing."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)
        self._parts: list[str] = []
        self._held = ""
        self.captured = False
        self.shown = ""

    @property
    def text(self) -> str:
        """Everything generated so far."""
        return "".join(self._parts)

    def feed(self, piece: str) -> str:
        """Takes one piece; returns the content to show now (maybe empty)."""
        self._parts.append(piece)
        if self.captured:
            return ""
        pending = self._held + piece
        for start, char in enumerate(pending):
            if char not in "<`{":
                continue
            state = call_start_state(pending[start:], self._names)
            if state != "no":
                self.captured = state == "yes"
                self._held = "" if self.captured else pending[start:]
                return self._show(pending[:start])
        self._held = ""
        return self._show(pending)

    def flush(self) -> str:
        """At the end of the stream: the held tail, which never became a tool call."""
        held, self._held = self._held, ""
        return self._show(held)

    def _show(self, text: str) -> str:
        self.shown += text
        return text


def call_start_state(text: str, names: Sequence[str]) -> str:
    """Whether ``text`` starts a tool call: ``"yes"``, ``"no"``, or ``"maybe"`` (it is a prefix
    of a start and the next characters decide)."""
    if text.startswith("<"):
        state, _ = _expect(text, (TOOL_CALL_OPEN,))
        return state or "yes"
    rest = text
    if rest.startswith("`"):
        if not rest.startswith("```"):
            return "maybe" if "```".startswith(rest) else "no"
        rest = rest[3:]
        language = next((name for name in ("json", "xml") if rest.startswith(name)), "")
        if not language and any(name.startswith(rest) for name in ("json", "xml")):
            return "maybe"
        rest = rest[len(language) :].lstrip(" \t")
        if not rest.startswith("\n"):
            return "no" if rest else "maybe"
    state, rest = _expect(rest, ("{", '"name"', ":", '"'))
    if state:
        return state
    name, quote, rest = rest.partition('"')
    if not quote:
        return "maybe"
    if name in names:
        return "yes"
    state, rest = _expect(rest, (",", '"'))
    if state:
        return state
    for key in ('arguments"', 'parameters"'):
        if rest.startswith(key):
            return "yes"
    return "maybe" if any(key.startswith(rest) for key in ('arguments"', 'parameters"')) else "no"


def _expect(text: str, parts: Sequence[str]) -> tuple[str | None, str]:
    """Consumes ``parts`` in order, whitespace allowed before each: ``(None, rest)`` when all
    are there, else ``("maybe" | "no", rest)``."""
    for part in parts:
        text = text.lstrip()
        if not text.startswith(part):
            return ("maybe" if part.startswith(text) else "no"), text
        text = text[len(part) :]
    return None, text
