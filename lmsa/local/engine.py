"""llama.cpp (through llama-cpp-python's ``Llama``) behind the request shapes the server accepts.

Why hand-written rather than llama-cpp-python's own server: that server is a separate install
(``llama-cpp-python[server]``), speaks llama.cpp's dialect rather than LM Studio's (no
``/api/v0/models`` with ``state``, no ``json_schema`` response format) and brings its own settings
system; lmsa needs only one model, one prediction at a time, and a few translations, which fit
in this module.

* One prediction at a time: a ``Llama`` object holds one KV cache and is not thread-safe, so every
  prediction runs in its own thread under one lock (waiting requests queue in arrival order and
  never block the event loop).
* Streaming: the worker thread pushes chunks into an asyncio queue through
  ``loop.call_soon_threadsafe``; a client that goes away sets a flag the thread checks between
  tokens, so an abandoned stream frees the model within one token.
* Structured output: ``json_schema`` (LM Studio, OpenAI) and ``json_object`` with or without a
  ``schema`` (llama.cpp) become a GBNF grammar via ``LlamaGrammar.from_json_schema``, so every
  reply parses. Grammars are cached per schema (lmsa sends the same three schemas every turn).
* Chat templates: GGUF templates (Gemma's among them) raise when roles do not alternate or a
  system message is not first; messages are normalised (system messages joined in front,
  consecutive same-role messages merged) instead of failing the request. A Gemma GGUF without
  an embedded template (the packaged Gemma 3 270M is the *base* model and has none) gets
  Gemma 3's own template: llama-cpp-python would otherwise fall back to Llama 2's format, and
  its built-in "gemma" format drops system messages, which carry all of lmsa's instructions.
* Threads: llama.cpp's OpenMP workers spin while they wait. On a small machine shared with the
  caller's own Python (the graph, the tests) that spinning starves everyone: measured here with
  2 threads under load, 32 tokens took 8.6-13 s spinning and 1.8 s with ``OMP_WAIT_POLICY=
  PASSIVE``, which is therefore the default (set before llama.cpp loads; an explicit value wins).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsa.local.model import model_id_for

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

# Gemma 3's chat template (text only): the system message becomes the first user turn's prefix.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\\n\\n' %}"
    "{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)


def _import_llama_cpp() -> Any:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    return llama_cpp


DEFAULT_CONTEXT_LENGTH = 8192
DEFAULT_THREADS = 2
DEFAULT_TEMPERATURE = 0.2

_ROLE_ALIASES = {"developer": "system"}
_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "seed", "repeat_penalty")


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

    messages: list[dict[str, str]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    include_usage: bool = False


# -- request translation (pure functions; unit-tested without llama.cpp) ----------------------


def normalise_messages(raw: Sequence[Any]) -> list[dict[str, str]]:
    """OpenAI messages -> the ``{"role", "content"}`` list chat templates accept."""
    system: list[str] = []
    turns: list[dict[str, str]] = []
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
        if role == "tool":  # no native tool calling here: a tool result is context for the user
            role, text = "user", f"Tool result:\n{text}"
        if turns and turns[-1]["role"] == role:
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
    _import_llama_cpp()
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


def build_prediction(body: Mapping[str, Any], default_max_tokens: int | None) -> Prediction:
    """An OpenAI/LM Studio chat completion request -> a :class:`Prediction`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list", "messages")
    tools = body.get("tools")
    if tools and body.get("tool_choice", "auto") != "none":
        raise BadRequest(
            "tool calling is not supported by lmsa's local server; ask for JSON with "
            "response_format instead",
            "tools",
        )
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
    if constrained:
        kwargs["grammar"] = grammar_for(
            None if schema is None else json.dumps(schema, sort_keys=True)
        )
        # llama-cpp-python's default repeat penalty (1.1) punishes the quotes, commas and colons
        # JSON is made of, pushing a small model to never close a string.
        kwargs.setdefault("repeat_penalty", 1.0)
    options = body.get("stream_options")
    include_usage = bool(isinstance(options, Mapping) and options.get("include_usage"))
    return Prediction(normalise_messages(messages), kwargs, include_usage)


# -- the engine --------------------------------------------------------------------------------


class LlamaEngine:
    """One loaded GGUF model, predicting one request at a time."""

    def __init__(
        self,
        model_path: Path,
        *,
        context_length: int = DEFAULT_CONTEXT_LENGTH,
        threads: int = DEFAULT_THREADS,
        default_max_tokens: int | None = None,
        model_id: str | None = None,
    ) -> None:
        llama_cpp = _import_llama_cpp()

        started = time.perf_counter()
        self.model_path = model_path
        self.model_id = model_id or model_id_for(model_path)
        self.default_max_tokens = default_max_tokens
        self._llama: Llama = llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=context_length,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.context_length = self._llama.n_ctx()
        self.load_seconds = time.perf_counter() - started
        metadata = self._llama.metadata
        self.architecture = metadata.get("general.architecture", "unknown")
        self.quantization = _quantization(metadata.get("general.file_type"))
        self.chat_format = self._use_known_template(metadata)
        self._lock = threading.Lock()
        self.predictions = 0  # how many predictions ran (the benchmark counts model calls)
        self._waiting = 0
        self._counter_lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Requests queued behind the running prediction."""
        return self._waiting

    def _use_known_template(self, metadata: Mapping[str, str]) -> str:
        """The chat format in use, after giving a template-less Gemma GGUF Gemma 3's own."""
        if "tokenizer.chat_template" in metadata or not self.architecture.startswith("gemma"):
            return str(self._llama.chat_format)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        end_of_turn = self._llama.tokenize(b"<end_of_turn>", add_bos=False, special=True)
        formatter = Jinja2ChatFormatter(
            template=GEMMA3_TEMPLATE,
            eos_token="<end_of_turn>",
            bos_token="<bos>",
            stop_token_ids=[*end_of_turn[:1], self._llama.token_eos()],
        )
        self._llama.chat_handler = formatter.to_chat_handler()
        return "gemma3 (built-in template)"

    def describe(self) -> dict[str, Any]:
        """The model as LM Studio's ``/api/v0/models`` lists it."""
        return {
            "id": self.model_id,
            "object": "model",
            "type": "llm",
            "publisher": "local",
            "arch": self.architecture,
            "compatibility_type": "gguf",
            "quantization": self.quantization,
            "state": "loaded",
            "max_context_length": self.context_length,
            "loaded_context_length": self.context_length,
            "capabilities": [],
        }

    def close(self) -> None:
        with self._lock:
            self._llama.close()

    # -- predictions ---------------------------------------------------------------------------

    def _run(
        self,
        prediction: Prediction,
        emit: Any,
        cancelled: threading.Event,
    ) -> PredictionStats:
        """Runs one streamed prediction under the lock, calling ``emit(delta_text)`` per chunk
        and ``emit(None, finish_reason)`` at the end. Blocking: call it from a worker thread."""
        queued = time.perf_counter()
        with self._counter_lock:
            self._waiting += 1
        with self._lock:
            with self._counter_lock:
                self._waiting -= 1
                self.predictions += 1
            started = time.perf_counter()
            stats = PredictionStats(queue_wait=started - queued)
            text_parts: list[str] = []
            finish_reason: str | None = None
            first: float | None = None
            chunks: Any = self._llama.create_chat_completion(
                messages=prediction.messages,  # type: ignore[arg-type]
                stream=True,
                **prediction.kwargs,
            )
            try:
                for chunk in chunks:
                    choice: dict[str, Any] = chunk["choices"][0]
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    if piece:
                        if first is None:
                            first = time.perf_counter()
                        text_parts.append(piece)
                        emit(piece, None)
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                    if cancelled.is_set():
                        finish_reason = "cancelled"
                        break
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            ended = time.perf_counter()
            text = "".join(text_parts)
            stats.completion_tokens = self._count_tokens(text) + (finish_reason == "stop")
            stats.prompt_tokens = max(self._llama.n_tokens - stats.completion_tokens, 0)
            stats.time_to_first_token = None if first is None else first - started
            stats.generation_time = 0.0 if first is None else ended - first
            stats.stop_reason = _stop_reason(finish_reason)
        emit(None, finish_reason or "stop")
        return stats

    def _count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def complete(self, prediction: Prediction) -> tuple[str, str, PredictionStats]:
        """The whole reply: ``(text, finish_reason, stats)``."""
        parts: list[str] = []
        finish: list[str] = []

        def emit(piece: str | None, reason: str | None) -> None:
            if piece is not None:
                parts.append(piece)
            elif reason is not None:
                finish.append(reason)

        stats = await asyncio.to_thread(self._run, prediction, emit, threading.Event())
        return "".join(parts), (finish[0] if finish else "stop"), stats

    async def stream(self, prediction: Prediction) -> AsyncGenerator[tuple[str | None, Any]]:
        """Yields ``(piece, None)`` per text chunk, then ``(None, finish_reason)`` and finally
        ``(None, stats)``; stops the prediction if the consumer goes away."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(piece: str | None, reason: str | None) -> None:
            item = ("piece", piece) if piece is not None else ("finish", reason)
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                stats = self._run(prediction, emit, cancelled)
            except BaseException as error:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", error))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("stats", stats))

        thread = threading.Thread(target=work, name="lmsa-local-predict", daemon=True)
        thread.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    yield value, None
                elif kind == "finish":
                    yield None, value
                elif kind == "stats":
                    yield None, value
                    return
                else:
                    raise value
        finally:
            cancelled.set()


_STOP_REASONS = {
    "stop": "eosFound",
    "length": "maxPredictedTokensReached",
    "cancelled": "userStopped",
}


def _stop_reason(finish_reason: str | None) -> str | None:
    return _STOP_REASONS.get(finish_reason or "", finish_reason)


_FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
               10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
               16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 30: "BF16"}  # fmt: skip


def _quantization(file_type: Any) -> str:
    try:
        return _FILE_TYPES.get(int(file_type), f"type-{file_type}")
    except (TypeError, ValueError):
        return "unknown"


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"
