"""A scripted fake LM Studio server for integration tests.

The stub is a small HTTP/1.1 server written directly on :mod:`asyncio` streams, so every fault it
injects is real at the socket level: a *reset* closes the TCP connection with an RST and no
response, a *cut* stream stops mid-body without the chunked terminator, and latency is an
``asyncio.sleep`` per request (concurrent requests are never serialised).

It speaks LM Studio's OpenAI-compatible dialect:

* ``GET /v1/models`` - OpenAI model list (downloaded models are listed even when not loaded).
* ``GET /api/v0/models`` - LM Studio's REST model list with ``state`` / ``max_context_length``.
* ``POST /v1/chat/completions`` - plain and SSE-streamed completions, tool calls, usage,
  ``response_format`` limited to ``json_schema`` / ``text`` and ``tool_choice`` limited to
  ``none`` / ``auto`` / ``required``; with no model loaded it answers LM Studio's 400 error.

Replies come from a *scenario*::

    {
        "model": "test-model",        # id reported by the model endpoints
        "loaded": True,               # False -> chat completions fail with "No models loaded"
        "context_length": 8192,
        "latency_ms": 0,              # added to every scripted chat completion
        "max_concurrency": None,      # N: at most N completions in progress (like LM Studio's
                                      # parallel slots); later requests wait for a free slot
        "echo": False,                # unmatched plain-text requests -> "echo: <last user text>"
        "text": ["Hello there!", {"status": 500}, "second"],
        "IntentResult": [{"intent": "chat"}],   # keyed by response_format.json_schema.name
        "replies": {"model": [...]},  # optional explicit form (for queue names that collide)
    }

A request is routed to the queue named after ``response_format.json_schema.name`` when present,
else to ``"text"``. Replies are consumed in order and the last one repeats forever. A reply is a
string (assistant content), a JSON value for schema queues (encoded for you) or an options object
whose keys are all in :data:`REPLY_OPTION_KEYS`::

    {"content": ..., "tool_calls": [{"name": "f", "arguments": {...}, "id": "call_1"}],
     "status": 500, "error": "message", "retry_after": 2, "delay_ms": 300,
     "chunk_delay_ms": 50, "cut_after_chunks": 3, "reset": True, "finish_reason": "length",
     "hold": True, "chunk_chars": 3}

``chunk_chars`` streams the content in pieces of that many characters (default: word by word).

``hold`` keeps the reply (after its delay) until the test calls ``stub.release()``, so a turn
stays in flight for as long as the test needs; ``stub.wait_held(n)`` waits until n requests are
held. ``set_scenario``/``reset`` close the gate again.

Fault semantics: ``reset`` drops the connection (RST) after the delay without answering;
``status`` (or ``error`` alone, which implies 500) answers an OpenAI-style error object, with a
``Retry-After`` header when ``retry_after`` is set; ``cut_after_chunks=N`` sends N SSE events and
then aborts the connection (``0`` = headers only, the stream fails before its first chunk), or,
when ``error`` is also set, sends an in-band ``data: {"error": ...}`` event and ends the stream.
For a non-streaming request ``cut_after_chunks`` sends the headers and a truncated body.

In-process use (pytest)::

    with LMStudioStub(scenario={"text": ["hi"]}) as stub:
        ChatOpenAI(base_url=stub.base_url, api_key="lm-studio", model="test-model")
        stub.chat_requests()

As a process: ``python -m tests.stubs.lmstudio --port N --scenario FILE.json [--latency-ms MS]
[--no-models-loaded]`` prints ``READY http://127.0.0.1:N/v1`` once listening. Control endpoints
(not recorded): ``POST /_stub/scenario`` (replace the scenario), ``GET /_stub/requests``
(recorded requests and per-path counts) and ``POST /_stub/reset`` (forget recordings and rewind
the reply queues).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import itertools
import json
import math
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import urlsplit

__all__ = [
    "NO_MODELS_LOADED_MESSAGE",
    "REPLY_OPTION_KEYS",
    "LMStudioStub",
    "RecordedRequest",
    "Reply",
    "Scenario",
    "ScenarioError",
    "StubServer",
    "ToolCall",
    "main",
]

NO_MODELS_LOADED_MESSAGE = (
    "No models loaded. Please load a model in the developer page or use the 'lms load' command."
)
RESPONSE_FORMAT_MESSAGE = "'response_format.type' must be 'json_schema' or 'text'"
TOOL_CHOICE_MESSAGE = "'tool_choice' must be one of 'none', 'auto' or 'required'"

DEFAULT_MODEL = "test-model"
DEFAULT_CONTEXT_LENGTH = 8192
CHAT_PATH = "/v1/chat/completions"
TEXT_QUEUE = "text"
CONTROL_PREFIX = "/_stub/"

REPLY_OPTION_KEYS = frozenset(
    {
        "content",
        "tool_calls",
        "status",
        "error",
        "retry_after",
        "delay_ms",
        "chunk_delay_ms",
        "cut_after_chunks",
        "reset",
        "finish_reason",
        "hold",
        "chunk_chars",
    }
)
SCENARIO_OPTION_KEYS = frozenset(
    {"model", "loaded", "context_length", "latency_ms", "echo", "replies", "max_concurrency"}
)

_MAX_HEAD_BYTES = 1 << 20
_TOOL_ARGUMENT_SLICE = 16


class ScenarioError(ValueError):
    """The scenario (or one of its replies) is malformed."""


# --------------------------------------------------------------------------------------------
# Scenario model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str  # JSON-encoded, exactly as sent on the wire
    id: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> ToolCall:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ScenarioError(f"tool call needs a string 'name': {raw!r}")
        unknown = set(raw) - {"name", "arguments", "id"}
        if unknown:
            raise ScenarioError(f"unknown tool call keys {sorted(unknown)}")
        arguments = raw.get("arguments", {})
        encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
        call_id = None if raw.get("id") is None else str(raw["id"])
        return cls(name=raw["name"], arguments=encoded, id=call_id)


@dataclass(frozen=True, slots=True)
class Reply:
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    delay_ms: float = 0
    chunk_delay_ms: float = 0
    cut_after_chunks: int | None = None
    reset: bool = False
    finish_reason: str | None = None
    hold: bool = False
    chunk_chars: int | None = None

    @property
    def error_status(self) -> int | None:
        """HTTP status to answer with, or ``None`` for a normal 200 reply."""
        if self.status is not None:
            return self.status
        if self.error is not None and self.cut_after_chunks is None:
            return 500
        return None

    @classmethod
    def parse(cls, raw: Any, *, structured: bool) -> Reply:
        if isinstance(raw, str):
            return cls(content=raw)
        if isinstance(raw, Mapping) and not raw and not structured:
            raise ScenarioError("an empty object is not a reply")
        if isinstance(raw, Mapping) and raw and set(raw) <= REPLY_OPTION_KEYS:
            return cls._from_options(raw)
        if structured:
            return cls(content=json.dumps(raw))
        if isinstance(raw, Mapping):
            unknown = sorted(set(raw) - REPLY_OPTION_KEYS)
            raise ScenarioError(f"unknown reply option(s) {unknown}; allowed: {_sorted_keys()}")
        raise ScenarioError(f"a text reply must be a string or an options object, got {raw!r}")

    @classmethod
    def _from_options(cls, raw: Mapping[str, Any]) -> Reply:
        content = raw.get("content")
        if content is not None and not isinstance(content, str):
            content = json.dumps(content)
        tool_calls = raw.get("tool_calls") or []
        if not isinstance(tool_calls, list):
            raise ScenarioError("'tool_calls' must be a list")
        status = raw.get("status")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise ScenarioError(f"'status' must be an HTTP status code, got {status!r}")
        cut = raw.get("cut_after_chunks")
        if cut is not None and (not isinstance(cut, int) or cut < 0):
            raise ScenarioError(f"'cut_after_chunks' must be an int >= 0, got {cut!r}")
        error = raw.get("error")
        retry_after = raw.get("retry_after")
        finish_reason = raw.get("finish_reason")
        return cls(
            content=content,
            tool_calls=tuple(ToolCall.parse(call) for call in tool_calls),
            status=status,
            error=None if error is None else str(error),
            retry_after=None if retry_after is None else float(retry_after),
            delay_ms=float(raw.get("delay_ms", 0)),
            chunk_delay_ms=float(raw.get("chunk_delay_ms", 0)),
            cut_after_chunks=cut,
            reset=bool(raw.get("reset", False)),
            finish_reason=None if finish_reason is None else str(finish_reason),
            hold=bool(raw.get("hold", False)),
            chunk_chars=None if raw.get("chunk_chars") is None else int(raw["chunk_chars"]),
        )


def _sorted_keys() -> list[str]:
    return sorted(REPLY_OPTION_KEYS)


@dataclass(frozen=True, slots=True)
class Scenario:
    model: str = DEFAULT_MODEL
    loaded: bool = True
    context_length: int = DEFAULT_CONTEXT_LENGTH
    latency_ms: float = 0
    echo: bool = False
    max_concurrency: int | None = None
    queues: Mapping[str, tuple[Reply, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | Scenario | None) -> Scenario:
        """Build a scenario from a dict; ``None`` means an echo server with no scripted replies."""
        if raw is None:
            return cls(echo=True)
        if isinstance(raw, Scenario):
            return raw
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"a scenario must be an object, got {type(raw).__name__}")
        queue_specs = {k: v for k, v in raw.items() if k not in SCENARIO_OPTION_KEYS}
        explicit = raw.get("replies", {})
        if not isinstance(explicit, Mapping):
            raise ScenarioError("'replies' must map queue names to reply lists")
        queue_specs.update(explicit)
        queues: dict[str, tuple[Reply, ...]] = {}
        for name, spec in queue_specs.items():
            items = spec if isinstance(spec, list) else [spec]
            if not items:
                raise ScenarioError(f"reply queue {name!r} is empty")
            structured = name != TEXT_QUEUE
            try:
                queues[name] = tuple(Reply.parse(item, structured=structured) for item in items)
            except (ScenarioError, TypeError, ValueError) as exc:
                raise ScenarioError(f"queue {name!r}: {exc}") from exc
        return cls(
            model=str(raw.get("model", DEFAULT_MODEL)),
            loaded=bool(raw.get("loaded", True)),
            context_length=int(raw.get("context_length", DEFAULT_CONTEXT_LENGTH)),
            latency_ms=float(raw.get("latency_ms", 0)),
            max_concurrency=_positive_int_or_none(raw.get("max_concurrency")),
            echo=bool(raw.get("echo", False)),
            queues=queues,
        )


def _positive_int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ScenarioError(f"'max_concurrency' must be an int >= 1, got {value!r}")
    return value


class RecordedRequest(NamedTuple):
    method: str
    path: str
    body: Any  # decoded JSON body, or None (no body / not JSON)


class StubState:
    """Scenario, reply-queue positions and recordings; shared between threads under a lock."""

    def __init__(self, scenario: Scenario) -> None:
        self._lock = threading.Lock()
        self._scenario = scenario
        self._positions: Counter[str] = Counter()
        self._requests: list[RecordedRequest] = []
        self._counts: Counter[str] = Counter()
        self._held = threading.Condition(self._lock)
        self.held = 0  # requests waiting at the gate (``hold`` replies) right now
        self.gate_open = False

    @property
    def scenario(self) -> Scenario:
        with self._lock:
            return self._scenario

    def set_scenario(self, scenario: Scenario) -> None:
        with self._lock:
            self._scenario = scenario
            self._positions.clear()
            self.gate_open = False

    def reset(self) -> None:
        with self._lock:
            self.gate_open = False
            self._positions.clear()
            self._requests.clear()
            self._counts.clear()

    def record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, body))
            self._counts[path] += 1

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def hold_changed(self, delta: int) -> None:
        with self._held:
            self.held += delta
            self._held.notify_all()

    def open_gate(self) -> None:
        with self._held:
            self.gate_open = True
            self._held.notify_all()

    def wait_held(self, count: int, timeout: float) -> bool:
        with self._held:
            return self._held.wait_for(lambda: self.held >= count, timeout)

    def next_reply(self, key: str) -> Reply | None:
        """Pop the next reply of queue ``key`` (the last one repeats); ``None`` if no queue."""
        with self._lock:
            queue = self._scenario.queues.get(key)
            if queue is None:
                return None
            index = min(self._positions[key], len(queue) - 1)
            self._positions[key] += 1
            return queue[index]


# --------------------------------------------------------------------------------------------
# Minimal HTTP/1.1 over asyncio streams
# --------------------------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


@dataclass(slots=True)
class _HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest("truncated request head") from exc
        return None  # the client closed an idle keep-alive connection
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request head too large") from exc
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise _BadRequest(f"malformed request line {request_line!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked_body(reader)
    else:
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError as exc:
            raise _BadRequest("invalid Content-Length") from exc
        body = await reader.readexactly(length) if length > 0 else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection == "keep-alive" or (version == "HTTP/1.1" and connection != "close")
    return _HttpRequest(method.upper(), urlsplit(target).path, headers, body, keep_alive)


async def _read_chunked_body(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _BadRequest("invalid chunk size") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


class _Connection:
    """Writes HTTP responses on one client connection and injects socket-level faults."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.aborted = False

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json; charset=utf-8",
        keep_alive: bool,
        extra_headers: Mapping[str, str] | None = None,
        truncate_to: int | None = None,
    ) -> None:
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Connection": "keep-alive" if keep_alive else "close",
            **(extra_headers or {}),
        }
        payload = body if truncate_to is None else body[:truncate_to]
        self.writer.write(self._head(status, headers) + payload)
        await self.writer.drain()
        if truncate_to is not None:
            self.abort()

    async def send_json(
        self,
        status: int,
        payload: Any,
        *,
        keep_alive: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload).encode()
        await self.send(status, body, keep_alive=keep_alive, extra_headers=extra_headers)

    async def start_stream(self, *, keep_alive: bool) -> None:
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            "Connection": "keep-alive" if keep_alive else "close",
        }
        self.writer.write(self._head(200, headers))
        await self.writer.drain()

    async def send_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.writer.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        await self.writer.drain()

    async def end_stream(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    def abort(self, *, rst: bool = False) -> None:
        """Drop the connection immediately; with ``rst`` the peer sees ECONNRESET."""
        if rst:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.aborted = True


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error_payload(
    message: str,
    *,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _error_type_for(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


# --------------------------------------------------------------------------------------------
# LM Studio dialect
# --------------------------------------------------------------------------------------------


def _message_text(message: Any) -> str:
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def _approx_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _split_words(text: str) -> list[str]:
    """Split into word-sized pieces (each keeps its trailing whitespace) that rejoin exactly."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def _slices(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _validate_chat_request(body: Any) -> str | None:
    """Return an error message if LM Studio would reject the request, else ``None``."""
    if not isinstance(body, Mapping):
        return "Request body must be a JSON object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    response_format = body.get("response_format")
    if response_format is not None:
        if not isinstance(response_format, Mapping):
            return RESPONSE_FORMAT_MESSAGE
        kind = response_format.get("type")
        if kind not in ("json_schema", "text"):
            return RESPONSE_FORMAT_MESSAGE
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
                return "'response_format.json_schema.schema' must be an object"
    tool_choice = body.get("tool_choice")
    if tool_choice is not None and tool_choice not in ("none", "auto", "required"):
        return TOOL_CHOICE_MESSAGE
    return None


def _queue_key(body: Mapping[str, Any]) -> tuple[str, bool]:
    """The reply queue for a request, and whether it asks for a json_schema response."""
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        name = spec.get("name") if isinstance(spec, Mapping) else None
        return (name if isinstance(name, str) and name else "json_schema"), True
    return TEXT_QUEUE, False


class _Completion:
    """Renders one scripted reply as a ``chat.completion`` or a sequence of chunks."""

    _ids = itertools.count(1)

    def __init__(self, model: str, reply: Reply, request: Mapping[str, Any]) -> None:
        seq = next(self._ids)
        self.id = f"chatcmpl-stub{seq:06d}"
        self.created = int(time.time())
        self.model = model
        self.reply = reply
        self.tool_calls = [
            (call.id or f"call_{seq}_{index}", call) for index, call in enumerate(reply.tool_calls)
        ]
        prompt = "".join(_message_text(m) for m in request.get("messages", []))
        completion = (reply.content or "") + "".join(c.name + c.arguments for c in reply.tool_calls)
        prompt_tokens, completion_tokens = _approx_tokens(prompt), _approx_tokens(completion)
        self.usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    @property
    def finish_reason(self) -> str:
        if self.reply.finish_reason is not None:
            return self.reply.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def _envelope(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.model,
        }

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call_id, call in self.tool_calls
            ]
        if message["content"] is None and not self.tool_calls:
            message["content"] = ""
        return {
            **self._envelope("chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage,
            "stats": {},
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            **self._envelope("chat.completion.chunk"),
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    def chunks(self, *, include_usage: bool) -> Iterator[dict[str, Any]]:
        content = self.reply.content or ""
        size = self.reply.chunk_chars
        pieces = _slices(content, size) if size and content else _split_words(content)
        deltas: list[dict[str, Any]] = [{"content": piece} for piece in pieces]
        for index, (call_id, call) in enumerate(self.tool_calls):
            name_delta = {"name": call.name, "arguments": ""}
            deltas.append(
                {
                    "tool_calls": [
                        {"index": index, "id": call_id, "type": "function", "function": name_delta}
                    ]
                }
            )
            deltas += [
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in _slices(call.arguments, _TOOL_ARGUMENT_SLICE)
            ]
        if not deltas:
            deltas.append({"content": ""})
        deltas[0] = {"role": "assistant", **deltas[0]}
        for delta in deltas:
            yield self._chunk(delta)
        yield self._chunk({}, self.finish_reason)
        if include_usage:
            yield {**self._envelope("chat.completion.chunk"), "choices": [], "usage": self.usage}


class StubServer:
    """The asyncio server. Use :class:`LMStudioStub` unless you manage the event loop yourself."""

    def __init__(
        self,
        scenario: Mapping[str, Any] | Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = StubState(Scenario.parse(scenario))
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: tuple[int, asyncio.Semaphore] | None = None
        self.peak_in_progress = 0
        self._in_progress = 0
        self.slot_seconds = 0.0  # time completions spent holding a slot, for utilisation

    def _slot(self, scenario: Scenario) -> contextlib.AbstractAsyncContextManager[Any]:
        """A completion slot when the scenario limits concurrency (the semaphore is made on the
        server's loop, and anew when the limit changes)."""
        limit = scenario.max_concurrency
        if limit is None:
            return contextlib.nullcontext()
        if self._slots is None or self._slots[0] != limit:
            self._slots = (limit, asyncio.Semaphore(limit))
        return self._slots[1]

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the stub server is not started")
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self._requested_port, limit=_MAX_HEAD_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- connection handling -----------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Connection(writer)
        try:
            while not conn.aborted:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    await conn.send_json(400, _error_payload(str(exc)), keep_alive=False)
                    break
                if request is None:
                    break
                await self._dispatch(request, conn)
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            # Server shutdown. Not re-raised: asyncio's stream callback logs cancelled handlers.
            conn.abort()
        except Exception:  # a stub bug: make it visible and fail the client loudly
            traceback.print_exc()
            conn.abort()
        finally:
            self._tasks.discard(task)
            if not conn.aborted:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    async def _dispatch(self, request: _HttpRequest, conn: _Connection) -> None:
        body: Any = None
        json_error = False
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                json_error = True
        route = (request.method, request.path)
        keep_alive = request.keep_alive

        if request.path.startswith(CONTROL_PREFIX):
            await self._control(route, body, conn, keep_alive)
            return

        self.state.record(request.method, request.path, body)
        scenario = self.state.scenario
        if route == ("GET", "/v1/models"):
            await conn.send_json(200, self._openai_models(scenario), keep_alive=keep_alive)
        elif route == ("GET", "/api/v0/models"):
            await conn.send_json(200, self._rest_models(scenario), keep_alive=keep_alive)
        elif route == ("POST", CHAT_PATH):
            if json_error:
                await conn.send_json(
                    400, _error_payload("Request body is not valid JSON"), keep_alive=keep_alive
                )
            else:
                await self._chat(scenario, body, conn, keep_alive)
        else:
            message = f"Unexpected endpoint or method. ({request.method} {request.path})"
            await conn.send_json(404, _error_payload(message), keep_alive=keep_alive)

    async def _control(
        self, route: tuple[str, str], body: Any, conn: _Connection, keep_alive: bool
    ) -> None:
        if route == ("POST", "/_stub/scenario"):
            try:
                self.state.set_scenario(Scenario.parse(body))
            except (ScenarioError, TypeError, ValueError) as exc:
                await conn.send_json(400, _error_payload(str(exc)), keep_alive=keep_alive)
                return
            await conn.send_json(200, {"ok": True}, keep_alive=keep_alive)
        elif route == ("GET", "/_stub/requests"):
            payload = {
                "requests": [r._asdict() for r in self.state.requests()],
                "counts": self.state.counts(),
                "peak_in_progress": self.peak_in_progress,
                "in_progress": self._in_progress,
                "slot_seconds": round(self.slot_seconds, 6),
            }
            await conn.send_json(200, payload, keep_alive=keep_alive)
        elif route == ("GET", "/_stub/stats"):
            # The counters without the request log: cheap enough to poll during a load test.
            payload = {
                "counts": self.state.counts(),
                "peak_in_progress": self.peak_in_progress,
                "in_progress": self._in_progress,
                "slot_seconds": round(self.slot_seconds, 6),
            }
            await conn.send_json(200, payload, keep_alive=keep_alive)
        elif route == ("POST", "/_stub/reset"):
            self.state.reset()
            await conn.send_json(200, {"ok": True}, keep_alive=keep_alive)
        else:
            message = f"Unknown stub control endpoint ({route[0]} {route[1]})"
            await conn.send_json(404, _error_payload(message), keep_alive=keep_alive)

    # ---- LM Studio endpoints -----------------------------------------------------------------

    @staticmethod
    def _openai_models(scenario: Scenario) -> dict[str, Any]:
        model = {"id": scenario.model, "object": "model", "owned_by": "organization_owner"}
        return {"object": "list", "data": [model]}

    @staticmethod
    def _rest_models(scenario: Scenario) -> dict[str, Any]:
        model = {
            "id": scenario.model,
            "object": "model",
            "type": "llm",
            "publisher": "lmstudio-community",
            "arch": "gemma3",
            "compatibility_type": "gguf",
            "quantization": "Q4_K_M",
            "state": "loaded" if scenario.loaded else "not-loaded",
            "max_context_length": scenario.context_length,
            "capabilities": ["tool_use"],
        }
        return {"object": "list", "data": [model]}

    async def _chat(
        self, scenario: Scenario, body: Any, conn: _Connection, keep_alive: bool
    ) -> None:
        problem = _validate_chat_request(body)
        if problem is not None:
            await conn.send_json(400, _error_payload(problem), keep_alive=keep_alive)
            return
        if not scenario.loaded:
            payload = _error_payload(
                NO_MODELS_LOADED_MESSAGE, param="model", code="model_not_found"
            )
            await conn.send_json(400, payload, keep_alive=keep_alive)
            return

        key, structured = _queue_key(body)
        reply = self.state.next_reply(key)
        if reply is None:
            if structured or not scenario.echo:
                message = (
                    f"LM Studio stub: the scenario has no reply for json_schema {key!r}"
                    if structured
                    else "LM Studio stub: the scenario has no 'text' replies and echo is off"
                )
                payload = _error_payload(message, error_type="server_error", code="stub_no_reply")
                await conn.send_json(500, payload, keep_alive=keep_alive)
                return
            last_user = next(
                (
                    _message_text(m)
                    for m in reversed(body["messages"])
                    if isinstance(m, Mapping) and m.get("role") == "user"
                ),
                "",
            )
            reply = Reply(content=f"echo: {last_user}")

        async with self._slot(scenario):
            self._in_progress += 1
            self.peak_in_progress = max(self.peak_in_progress, self._in_progress)
            started = time.perf_counter()
            try:
                await self._reply(scenario, reply, body, conn, keep_alive)
            finally:
                self._in_progress -= 1
                self.slot_seconds += time.perf_counter() - started

    async def _reply(
        self, scenario: Scenario, reply: Reply, body: Any, conn: _Connection, keep_alive: bool
    ) -> None:
        delay = (scenario.latency_ms + reply.delay_ms) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.hold and not self.state.gate_open:
            self.state.hold_changed(+1)
            try:
                while not self.state.gate_open:
                    await asyncio.sleep(0.01)
            finally:
                self.state.hold_changed(-1)
        if reply.reset:
            conn.abort(rst=True)
            return

        status = reply.error_status
        if status is not None:
            message = reply.error or f"LM Studio stub: scripted HTTP {status}"
            headers = {}
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            payload = _error_payload(message, error_type=_error_type_for(status))
            await conn.send_json(status, payload, keep_alive=keep_alive, extra_headers=headers)
            return

        completion = _Completion(scenario.model, reply, body)
        if body.get("stream"):
            stream_options = body.get("stream_options") or {}
            include_usage = bool(
                isinstance(stream_options, Mapping) and stream_options.get("include_usage")
            )
            await self._stream(completion, conn, keep_alive, include_usage=include_usage)
        else:
            encoded = json.dumps(completion.message()).encode()
            truncate = None if reply.cut_after_chunks is None else len(encoded) // 2
            await conn.send(200, encoded, keep_alive=keep_alive, truncate_to=truncate)

    async def _stream(
        self, completion: _Completion, conn: _Connection, keep_alive: bool, *, include_usage: bool
    ) -> None:
        reply = completion.reply
        await conn.start_stream(keep_alive=keep_alive)
        for sent, chunk in enumerate(completion.chunks(include_usage=include_usage)):
            if reply.cut_after_chunks is not None and sent >= reply.cut_after_chunks:
                if reply.error is None:
                    conn.abort()
                    return
                payload = _error_payload(reply.error, error_type="server_error")
                await conn.send_event(json.dumps(payload))
                break
            if sent and reply.chunk_delay_ms > 0:
                await asyncio.sleep(reply.chunk_delay_ms / 1000)
            await conn.send_event(json.dumps(chunk))
        else:
            await conn.send_event("[DONE]")
        await conn.end_stream()


# --------------------------------------------------------------------------------------------
# Threaded facade for synchronous tests
# --------------------------------------------------------------------------------------------


class LMStudioStub:
    """Runs a :class:`StubServer` on its own event loop in a background thread.

    Usable as ``with LMStudioStub(...) as stub`` or ``async with LMStudioStub(...) as stub``; the
    server thread never shares the caller's event loop, so sync and async clients both work.
    """

    def __init__(
        self,
        scenario: Mapping[str, Any] | Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 5.0,
    ) -> None:
        self._server = StubServer(scenario, host=host, port=port)
        self._startup_timeout = startup_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the stub is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._server.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._server.close())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="lmstudio-stub", daemon=True)
        thread.start()
        if not ready.wait(self._startup_timeout):
            raise RuntimeError("the LM Studio stub did not start in time")
        if failure:
            thread.join()
            raise RuntimeError("the LM Studio stub failed to start") from failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ---- accessors -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server.port is None:
            raise RuntimeError("the stub server is not started")
        return self._server.port

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return self._server.base_url

    @property
    def root_url(self) -> str:
        """Server root (for ``/api/v0/...`` and ``/_stub/...``), e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self._server.host}:{self.port}"

    @property
    def scenario(self) -> Scenario:
        return self._server.state.scenario

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every non-control request received, in arrival order, as (method, path, body)."""
        return self._server.state.requests()

    @property
    def counts(self) -> dict[str, int]:
        """Number of requests received per path."""
        return self._server.state.counts()

    @property
    def peak_in_progress(self) -> int:
        """Most chat completions that were in progress at once."""
        return self._server.peak_in_progress

    def count(self, path: str = CHAT_PATH) -> int:
        return self.counts.get(path, 0)

    def chat_requests(self) -> list[Any]:
        """Bodies of the ``POST /v1/chat/completions`` requests, in arrival order."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == CHAT_PATH]

    def set_scenario(self, scenario: Mapping[str, Any] | Scenario | None) -> None:
        """Replace the scenario and rewind the reply queues (recordings are kept)."""
        self._server.state.set_scenario(Scenario.parse(scenario))

    def reset(self) -> None:
        """Forget recorded requests and rewind the reply queues."""
        self._server.state.reset()

    def release(self) -> None:
        """Let every ``hold`` reply through (now and until the next set_scenario/reset)."""
        self._server.state.open_gate()

    def held(self) -> int:
        """Requests held at the gate right now."""
        return self._server.state.held

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests are held; False on timeout."""
        return self._server.state.wait_held(count, timeout)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.stubs.lmstudio", description="Scripted fake LM Studio server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1234, help="0 picks a free port")
    parser.add_argument("--scenario", type=Path, help="scenario JSON file (default: echo)")
    parser.add_argument("--latency-ms", type=float, help="override the scenario's latency_ms")
    parser.add_argument(
        "--max-concurrency", type=int, help="completions in progress at once (parallel slots)"
    )
    parser.add_argument(
        "--no-models-loaded", action="store_true", help="report the model as not loaded"
    )
    return parser.parse_args(argv)


async def _serve(scenario: Scenario, host: str, port: int) -> None:
    server = StubServer(scenario, host=host, port=port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {server.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    raw: dict[str, Any] = {"echo": True}
    if args.scenario is not None:
        raw = json.loads(args.scenario.read_text(encoding="utf-8"))
    if args.latency_ms is not None:
        raw["latency_ms"] = args.latency_ms
    if args.max_concurrency is not None:
        raw["max_concurrency"] = args.max_concurrency
    if args.no_models_loaded:
        raw["loaded"] = False
    try:
        scenario = Scenario.parse(raw)
    except ScenarioError as exc:
        print(f"invalid scenario: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(scenario, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
