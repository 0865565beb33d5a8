"""Tool calling in the local server without llama.cpp: request validation, parsing and
validating the model's calls, the call grammar's schema, message shaping, and the streaming
gate that must never show part of a tool call as content."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lmsa.local.app import create_app
from lmsa.local.requests import (
    BadRequest,
    Prediction,
    PredictionStats,
    build_prediction,
    normalise_messages,
)
from lmsa.local.tools import (
    ContentGate,
    ParsedReply,
    ToolRequest,
    ToolRequestError,
    call_schema,
    call_start_state,
    interpret,
    needs_fallback,
    parse_tool_request,
    split_blocks,
    template_supports_tools,
    wrap_call_grammar,
)
from tests.deps import require_module

READ_FILE = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["path"],
        },
    },
}
LIST_DIR = {"type": "function", "function": {"name": "list_dir"}}
USER = [{"role": "user", "content": "read notes.txt"}]


def request(choice: Any = None, **extra: Any) -> ToolRequest:
    body: dict[str, Any] = {"tools": [READ_FILE, LIST_DIR], **extra}
    if choice is not None:
        body["tool_choice"] = choice
    parsed = parse_tool_request(body)
    assert parsed is not None
    return parsed


def call(name: str, **arguments: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


# -- the request -------------------------------------------------------------------------------


def test_tool_choices() -> None:
    assert request().choice == "auto"
    assert not request().constrained
    assert request("required").constrained
    named = request({"type": "function", "function": {"name": "list_dir"}})
    assert (named.choice, named.forced) == ("function", "list_dir")
    assert [tool.name for tool in named.callable] == ["list_dir"]
    assert [tool.name for tool in request().callable] == ["read_file", "list_dir"]
    # a tool without parameters takes an empty object
    assert named.callable[0].parameters == {"type": "object", "properties": {}}
    assert not request(parallel_tool_calls=False).parallel


def test_no_tools_or_tool_choice_none_means_a_plain_reply() -> None:
    assert parse_tool_request({}) is None
    assert parse_tool_request({"tools": []}) is None
    assert parse_tool_request({"tool_choice": "auto"}) is None
    assert parse_tool_request({"tools": [READ_FILE], "tool_choice": "none"}) is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": "read_file"}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"tools": [{"type": "retrieval", "function": {"name": "x"}}]}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "has space"}}]}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}, "tools"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]},
            "tools",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "description": 3}}]},
            "tools",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "string"}},
                    }
                ]
            },
            "tools",
        ),
        ({"tools": [READ_FILE, READ_FILE]}, "tools"),
        ({"tools": [READ_FILE], "tool_choice": "always"}, "tool_choice"),
        (
            {"tools": [READ_FILE], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tools": [READ_FILE], "tool_choice": {"type": "function"}}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [READ_FILE], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ],
)
def test_malformed_tool_requests_are_400s(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ToolRequestError) as caught:
        parse_tool_request(body)
    assert caught.value.param == param
    with pytest.raises(BadRequest) as wrapped:
        build_prediction({"messages": USER, **body}, None)
    assert wrapped.value.param == param


def test_tools_and_a_json_response_format_do_not_mix() -> None:
    body = {
        "messages": USER,
        "tools": [READ_FILE],
        "response_format": {"type": "json_object"},
    }
    with pytest.raises(BadRequest) as caught:
        build_prediction(body, None)
    assert caught.value.param == "response_format"
    build_prediction({**body, "tool_choice": "none"}, None)


def test_a_template_that_renders_tools_gets_them_and_others_get_instructions() -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}, *USER], "tools": [READ_FILE]}
    native = build_prediction(body, None, native_tools=True)
    assert native.kwargs["tools"] == [READ_FILE]
    assert native.messages[0] == {"role": "system", "content": "Be brief."}
    assert native.tools is not None
    assert "grammar" not in native.kwargs  # auto: free output, parsed afterwards

    other = build_prediction(body, None)
    assert "tools" not in other.kwargs
    system = other.messages[0]["content"]
    assert system.startswith("Be brief.\n\n# Tools")
    assert '"name": "read_file"' in system
    assert "<tool_call>" in system
    bare = build_prediction({"messages": USER, "tools": [READ_FILE]}, None)
    assert bare.messages[0]["role"] == "system"
    assert build_prediction({"messages": USER}, None).tools is None


def test_template_support_is_read_from_the_template() -> None:
    assert template_supports_tools("{%- if tools %}{{ tools | tojson }}{% endif %}")
    assert not template_supports_tools("{{ messages[0]['content'] }}")
    assert not template_supports_tools(None)


def test_required_and_named_tools_are_constrained_by_a_cached_grammar() -> None:
    require_module("llama_cpp", "grammars need the [local] extra")
    body = {"messages": USER, "tools": [READ_FILE, LIST_DIR], "tool_choice": "required"}
    prediction = build_prediction(body, None, native_tools=True)
    assert prediction.kwargs["grammar"] is build_prediction(body, None).kwargs["grammar"]
    assert prediction.kwargs["repeat_penalty"] == 1.0
    grammar = prediction.kwargs["grammar"]._grammar
    assert grammar.startswith('root ::= "<tool_call>\\n" lmsa-tool-call "\\n</tool_call>"')
    named = {**body, "tool_choice": {"type": "function", "function": {"name": "list_dir"}}}
    assert build_prediction(named, None).kwargs["grammar"] is not prediction.kwargs["grammar"]


# -- the grammar's schema ----------------------------------------------------------------------


def test_call_schema_is_one_call_to_a_callable_tool() -> None:
    schema = call_schema(request({"type": "function", "function": {"name": "read_file"}}))
    assert schema["properties"]["name"] == {"const": "read_file"}
    assert schema["properties"]["arguments"] == READ_FILE["function"]["parameters"]  # type: ignore[index]
    assert schema["required"] == ["name", "arguments"]
    both = call_schema(request("required"))
    assert [option["properties"]["name"]["const"] for option in both["anyOf"]] == [
        "read_file",
        "list_dir",
    ]


def test_call_schema_moves_definitions_to_the_root() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "move",
            "parameters": {
                "type": "object",
                "properties": {"to": {"$ref": "#/$defs/Place"}},
                "$defs": {"Place": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            },
        },
    }
    parsed = parse_tool_request({"tools": [tool, READ_FILE], "tool_choice": "required"})
    assert parsed is not None
    schema = call_schema(parsed)
    arguments = schema["anyOf"][0]["properties"]["arguments"]
    assert arguments["properties"]["to"] == {"$ref": "#/$defs/move.Place"}
    assert "$defs" not in arguments
    assert schema["$defs"]["move.Place"]["properties"]["x"] == {"type": "integer"}


def test_call_grammar_wraps_the_call_in_its_tags() -> None:
    gbnf = 'char ::= [a-z]\nroot ::= "{" char "}"\nspace ::= " "?'
    wrapped = wrap_call_grammar(gbnf).splitlines()
    assert wrapped[0] == 'root ::= "<tool_call>\\n" lmsa-tool-call "\\n</tool_call>"'
    assert 'lmsa-tool-call ::= "{" char "}"' in wrapped
    assert sum(line.startswith("root ::=") for line in wrapped) == 1


# -- parsing the reply -------------------------------------------------------------------------


def test_one_call_becomes_an_openai_tool_call() -> None:
    reply = interpret(call("read_file", path="notes.txt"), request())
    assert reply.ok
    assert reply.finish_reason("stop") == "tool_calls"
    message = reply.message()
    assert message["content"] is None
    [tool_call] = message["tool_calls"]
    assert tool_call["id"].startswith("call_")
    assert tool_call["type"] == "function"
    assert tool_call["function"]["name"] == "read_file"
    assert json.loads(tool_call["function"]["arguments"]) == {"path": "notes.txt"}


def test_several_calls_and_the_text_around_them() -> None:
    text = f"Let me look.\n{call('read_file', path='a')}\n{call('list_dir')}\nDone."
    reply = interpret(text, request())
    assert [c.name for c in reply.calls] == ["read_file", "list_dir"]
    assert reply.message()["content"] == "Let me look.\n\n\nDone."
    assert len({c.id for c in reply.calls}) == 2
    single = interpret(text, request(parallel_tool_calls=False))
    assert [c.name for c in single.calls] == ["read_file"]


def test_lenient_json() -> None:
    newline_in_string = (
        '<tool_call>{"name": "read_file", "arguments": {"path": "a\nb"}}</tool_call>'
    )
    assert interpret(newline_in_string, request()).calls[0].arguments == {"path": "a\nb"}
    fenced = '<tool_call>\n```json\n{"name": "list_dir", "arguments": {}}\n```\n</tool_call>'
    assert interpret(fenced, request()).ok
    trailing = '<tool_call>{"name": "list_dir", "arguments": {}}}</tool_call>'
    assert interpret(trailing, request()).ok
    as_string = '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"x\\"}"}</tool_call>'
    assert interpret(as_string, request()).calls[0].arguments == {"path": "x"}
    unclosed = 'Sure. <tool_call>\n{"name": "list_dir", "arguments": {}}'
    reply = interpret(unclosed, request())
    assert reply.ok
    assert reply.content == "Sure."


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "read_file", "arguments": {"path": </tool_call>',
        "<tool_call>not json at all</tool_call>",
        '<tool_call>["read_file"]</tool_call>',
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": "read_file", "arguments": [1]}</tool_call>',
        '<tool_call>{"name": "delete_everything", "arguments": {}}</tool_call>',
        '<tool_call>{"name": "read_file", "arguments": {}}</tool_call>',
        '<tool_call>{"name": "read_file", "arguments": {"path": 7}}</tool_call>',
        '<tool_call>{"name": "read_file", "arguments": {"path": "a", "limit": "ten"}}</tool_call>',
        f"{call('list_dir')}<tool_call>{{broken</tool_call>",
    ],
)
def test_broken_or_invalid_calls_ask_for_the_grammar_fallback(text: str) -> None:
    reply = interpret(text, request())
    assert reply.attempted
    assert not reply.ok
    assert reply.errors
    assert needs_fallback(reply, request())
    assert not needs_fallback(reply, request("required"))  # already constrained: no retry
    assert reply.message() == {"role": "assistant", "content": text}
    assert reply.finish_reason("length") == "length"


def test_schema_errors_name_the_field() -> None:
    reply = interpret(call("read_file", path="a", limit="ten"), request())
    assert reply.errors == ["read_file: limit: 'ten' is not of type 'integer'"]
    forced = request({"type": "function", "function": {"name": "list_dir"}})
    assert (
        interpret(call("read_file", path="a"), forced)
        .errors[0]
        .startswith("unknown tool 'read_file'")
    )


def test_plain_text_is_left_alone() -> None:
    for text in ["", "Hello <b>there</b>", 'Here: {"name": "Bob", "age": 3}']:
        reply = interpret(text, request())
        assert not reply.attempted
        assert not needs_fallback(reply, request())
        assert reply.message() == {"role": "assistant", "content": text}


def test_a_bare_call_object_naming_an_offered_tool_is_a_call() -> None:
    fenced = (
        'I will read it.\n```json\n{\n  "name": "read_file",\n  "arguments": {"path": "a"}\n}\n```'
    )
    reply = interpret(fenced, request())
    assert reply.ok
    assert reply.content == "I will read it."
    outside, blocks = split_blocks('{"name": "list_dir", "arguments": {}} then', ["list_dir"])
    assert (outside, blocks) == (["", " then"], ['{"name": "list_dir", "arguments": {}}'])
    # a call-shaped object naming no offered tool is still an attempt (the fallback fixes it)
    wrong_name = interpret('```json\n{"name": "notes.txt", "arguments": {}}\n```', request())
    assert wrong_name.attempted
    assert wrong_name.errors[0].startswith("unknown tool 'notes.txt'")
    assert needs_fallback(wrong_name, request())
    assert not interpret('{"name": "notes.txt", "size": 3}', request()).attempted
    cut_short = interpret('{"name": "read_file", "arguments": {"pa', request())
    assert cut_short.attempted
    assert needs_fallback(cut_short, request())


def test_a_fallback_call_keeps_the_first_replys_text() -> None:
    first = interpret("Reading.\n<tool_call>{oops</tool_call>", request())
    retry = interpret(call("read_file", path="a"), request())
    merged = retry.instead_of(first)
    assert merged.ok
    assert merged.message()["content"] == "Reading."
    assert merged.calls == retry.calls
    failed = interpret("<tool_call>{still broken", request()).instead_of(first)
    assert failed is first
    assert ParsedReply("x").message() == {"role": "assistant", "content": "x"}


# -- streaming ---------------------------------------------------------------------------------


def stream(text: str, pieces: list[str], names: tuple[str, ...] = ("read_file",)) -> ContentGate:
    assert "".join(pieces) == text
    gate = ContentGate(names)
    shown = [gate.feed(piece) for piece in pieces]
    if not gate.captured:
        shown.append(gate.flush())
    assert "".join(shown) == gate.shown
    assert gate.text == text
    return gate


def random_pieces(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 12))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def test_the_gate_never_shows_part_of_a_tool_call_tag() -> None:
    text = "Let me check. " + call("read_file", path="notes.txt")
    rng = random.Random(7)
    for _ in range(300):
        pieces = random_pieces(text, rng)
        gate = ContentGate(["read_file"])
        for piece in pieces:
            assert "<" not in gate.feed(piece)
        assert gate.captured
        assert gate.shown == "Let me check. "


def test_the_gate_holds_only_while_a_tag_is_possible() -> None:
    gate = ContentGate(["read_file"])
    assert gate.feed("a <tool") == "a "
    assert gate.feed("bar> b") == "<toolbar> b"
    assert gate.feed(" <") == " "
    assert gate.flush() == "<"
    assert not gate.captured


@pytest.mark.parametrize(
    "text",
    [
        "<div>hello</div>",
        "<",
        "a < b and b <= c",
        "```python\nprint({'name': 1})\n```",
        '{"name": "Bob"}',
        '{"name": "Bob", "age": 3}',
        "<tool_cal",
        "`",
    ],
)
def test_text_that_merely_starts_like_a_call_is_shown(text: str) -> None:
    rng = random.Random(text)
    for _ in range(50):
        pieces = random_pieces(text, rng) if len(text) > 1 else [text]
        gate = stream(text, pieces)
        assert not gate.captured
        assert gate.shown == text


def test_the_gate_captures_a_bare_call() -> None:
    text = 'OK\n```json\n{\n  "name": "read_file", "arguments": {}}\n```'
    rng = random.Random(3)
    for _ in range(100):
        gate = stream(text, random_pieces(text, rng))
        assert gate.captured
        assert gate.shown == "OK\n"


def test_call_start_states() -> None:
    names = ["read_file"]
    assert call_start_state("<tool_call>", names) == "yes"
    assert call_start_state("<tool_", names) == "maybe"
    assert call_start_state("<tr>", names) == "no"
    assert call_start_state("``", names) == "maybe"
    assert call_start_state("```js", names) == "maybe"  # could still be ```json
    assert call_start_state("```jsx", names) == "no"
    assert call_start_state('```json\n{"name": "read', names) == "maybe"
    assert call_start_state('{"name": "read_file"', names) == "yes"
    assert call_start_state('{"name": "write_file"', names) == "maybe"  # "arguments" next?
    assert call_start_state('{"name": "write_file", "argu', names) == "maybe"
    assert call_start_state('{"name": "write_file", "arguments"', names) == "yes"
    assert call_start_state('{"name": "Bob", "age"', names) == "no"
    assert call_start_state('{"id": 1}', names) == "no"


# -- messages ----------------------------------------------------------------------------------

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "read a and b"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "a"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "b"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_a", "content": "AAA"},
    {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "BBB"}]},
    {"role": "assistant", "content": "Both read."},
    {"role": "user", "content": "thanks"},
]


def test_a_template_with_tools_gets_calls_and_results_as_structures() -> None:
    messages = normalise_messages(HISTORY, native_tools=True)
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
    ]
    calls = messages[2]["tool_calls"]
    assert messages[2]["content"] == ""
    assert [c["function"]["arguments"] for c in calls] == [{"path": "a"}, {"path": "b"}]
    assert [c["id"] for c in calls] == ["call_a", "call_b"]
    assert messages[3] == {
        "role": "tool",
        "content": "AAA",
        "tool_call_id": "call_a",
        "name": "read_file",
    }
    assert messages[4]["content"] == "BBB"
    assert messages[5] == {"role": "assistant", "content": "Both read."}


def test_a_template_without_tools_gets_calls_and_results_as_text() -> None:
    messages = normalise_messages(HISTORY)
    roles = ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["role"] for m in messages] == roles
    assistant = messages[2]["content"]
    assert assistant.startswith('<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}')
    assert assistant.count("<tool_call>") == 2
    assert assistant.endswith("</tool_call>")
    assert messages[3]["content"] == "Tool result:\nAAA\n\nTool result:\nBBB"


def test_undecodable_arguments_stay_text_and_malformed_calls_are_400s() -> None:
    odd = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{not json"}}],
    }
    messages = normalise_messages([*USER, odd], native_tools=True)
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == "{not json"
    for calls in ["f", [{"id": "c"}], [{"function": {"arguments": "{}"}}]]:
        with pytest.raises(BadRequest) as caught:
            normalise_messages([*USER, {**odd, "tool_calls": calls}], native_tools=True)
        assert caught.value.param == "messages"


# -- the HTTP wiring, with a scripted engine ---------------------------------------------------


class ScriptedEngine:
    """Stands in for :class:`LlamaEngine`: replies with the given texts in order."""

    model_id = "scripted"
    default_max_tokens = None
    supports_tools = True

    def __init__(self, *replies: list[str]) -> None:
        self.replies = list(replies)
        self.predictions: list[Prediction] = []

    def check_grammars(self, prediction: Prediction) -> None:
        """Grammars are parsed by llama.cpp itself (tests/e2e/test_local_server.py)."""

    async def complete(self, prediction: Prediction) -> tuple[str, str, PredictionStats]:
        self.predictions.append(prediction)
        return "".join(self.replies.pop(0)), "stop", PredictionStats(10, 5, 0.1, 1.0)

    async def stream(self, prediction: Prediction) -> AsyncIterator[tuple[str | None, Any]]:
        self.predictions.append(prediction)
        for piece in self.replies.pop(0):
            yield piece, None
        yield None, "stop"
        yield None, PredictionStats(10, 5, 0.1, 1.0)


def post(engine: ScriptedEngine, **body: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(engine))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            payload = {"messages": USER, "tools": [READ_FILE, LIST_DIR], **body}
            return await client.post("/api/v0/chat/completions", json=payload)

    return asyncio.run(send())


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_a_broken_call_is_generated_again_under_the_grammar() -> None:
    require_module("llama_cpp", "grammars need the [local] extra")
    engine = ScriptedEngine(["Reading.\n<tool_call>{oops</tool_call>"], [call("list_dir")])
    reply = post(engine).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Reading."
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "list_dir"
    assert "grammar" not in engine.predictions[0].kwargs
    assert "grammar" in engine.predictions[1].kwargs
    assert reply["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
    assert reply["stats"]["generation_time"] == 2.0


def test_a_valid_call_needs_no_second_prediction_and_text_stays_text() -> None:
    engine = ScriptedEngine([call("read_file", path="a")], ["Just text."])
    first = post(engine).json()["choices"][0]
    assert first["message"]["tool_calls"][0]["function"]["name"] == "read_file"
    plain = post(engine).json()["choices"][0]
    assert plain == {
        "index": 0,
        "message": {"role": "assistant", "content": "Just text."},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert len(engine.predictions) == 2
    bad = post(engine, tool_choice={"type": "function", "function": {"name": "nope"}})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "tool_choice"


def test_a_streamed_reply_shows_text_then_sends_the_calls_as_deltas() -> None:
    require_module("llama_cpp", "grammars need the [local] extra")
    pieces = ["Sure", ". <", "tool", "_call>{oo", "ps</tool_call>"]
    engine = ScriptedEngine(pieces, [call("read_file", path="a")])
    response = post(engine, stream=True, stream_options={"include_usage": True})
    events = sse_events(response)
    deltas = [event["choices"][0]["delta"] for event in events if event["choices"]]
    assert "".join(delta.get("content") or "" for delta in deltas) == "Sure. "
    [tool_delta] = [delta for delta in deltas if "tool_calls" in delta]
    [streamed_call] = tool_delta["tool_calls"]
    assert streamed_call["index"] == 0
    assert streamed_call["function"] == {"name": "read_file", "arguments": '{"path": "a"}'}
    final = [event for event in events if event["choices"]][-1]
    assert final["choices"][0]["finish_reason"] == "tool_calls"
    assert "stats" in final
    assert events[-1]["usage"]["completion_tokens"] == 10


def test_a_streamed_plain_reply_is_unchanged_even_when_it_starts_like_a_tag() -> None:
    engine = ScriptedEngine(["<", "b>bold</b> and ", "<tool"])
    events = sse_events(post(engine, stream=True))
    deltas = [event["choices"][0]["delta"] for event in events]
    assert "".join(delta.get("content") or "" for delta in deltas) == "<b>bold</b> and <tool"
    assert not any("tool_calls" in delta for delta in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
