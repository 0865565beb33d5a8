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
* Tool calling (:mod:`lmsa.local.tools` has the logic): a template that renders ``tools`` gets
  them and structured tool messages, so the model sees its trained format; ``tool_choice``
  ``required`` or a named tool add the one-call grammar.
* Chat templates: GGUF templates (Gemma's among them) raise when roles do not alternate or a
  system message is not first; messages are normalised (system messages joined in front,
  consecutive same-role messages merged) instead of failing the request. A Gemma GGUF without
  an embedded template (the packaged Gemma 3 270M is the *base* model and has none) gets
  Gemma 3's own template: llama-cpp-python would otherwise fall back to Llama 2's format, and
  its built-in "gemma" format drops system messages, which carry all of lmsa's instructions.
* Prompt states (:mod:`lmsa.local.prompt_cache`): the states after the last few prompts are
  kept, so a prompt sharing a long start with any of them (lmsa's fixed instructions per
  step) evaluates only the rest.
* Threads: llama.cpp's OpenMP workers spin while they wait. On a small machine shared with the
  caller's own Python (the graph, the tests) that spinning starves everyone, several times
  slower than with ``OMP_WAIT_POLICY=PASSIVE``, which is therefore the default (set before
  llama.cpp loads; an explicit value wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsa.local import tools as tool_calling
from lmsa.local.model import model_id_for
from lmsa.local.prompt_cache import DEFAULT_STATES, PromptStates
from lmsa.local.requests import (
    BadRequest,
    Prediction,
    PredictionStats,
    import_llama_cpp,
    tool_grammar,
)

if TYPE_CHECKING:
    from llama_cpp import Llama

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


_PARAMS_LOCK = threading.Lock()


@contextmanager
def model_params(*, safe: bool) -> Iterator[None]:
    """While ``Llama(...)`` loads a model: in safe mode, llama.cpp's model parameters with
    ``use_extra_bufts = False``, which keeps the CPU backend off its extra buffer types (weight
    repacking and AMX tiles), the code paths that trap on CPUs advertising features the kernel
    refuses. ``Llama.__init__`` takes no such argument and fills its parameters from
    ``llama_model_default_params()``, so that function is wrapped for the duration of the load
    (under a lock: two loads at once must not see each other's wrapper)."""
    if not safe:
        yield
        return
    from llama_cpp import llama_cpp as bindings

    with _PARAMS_LOCK:
        original = bindings.llama_model_default_params

        def safe_params() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = safe_params
        try:
            yield
        finally:
            bindings.llama_model_default_params = original


PROBE_PROMPT_WORDS = 64
DEFAULT_CONTEXT_LENGTH = 8192
DEFAULT_THREADS = 2


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
        cpu_mode: str = "native",
        prompt_states: int = DEFAULT_STATES,
    ) -> None:
        llama_cpp = import_llama_cpp()

        started = time.perf_counter()
        self.model_path = model_path
        self.model_id = model_id or model_id_for(model_path)
        self.default_max_tokens = default_max_tokens
        self.cpu_mode = cpu_mode
        self.cpu_mode_reason = "as requested"
        with model_params(safe=cpu_mode == "safe"):
            self._llama: Llama = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=context_length,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        self.prompt_states = PromptStates(prompt_states) if prompt_states > 0 else None
        self._llama.set_cache(self.prompt_states)  # type: ignore[arg-type]
        self.context_length = self._llama.n_ctx()
        self.load_seconds = time.perf_counter() - started
        metadata = self._llama.metadata
        self.architecture = metadata.get("general.architecture", "unknown")
        self.quantization = _quantization(metadata.get("general.file_type"))
        self.chat_format = self._use_known_template(metadata)
        self.supports_tools = self.chat_format == "chat_template.default" and (
            tool_calling.template_supports_tools(metadata.get("tokenizer.chat_template"))
        )
        self._lock = threading.Lock()
        self.predictions = 0  # how many predictions ran (the benchmark counts model calls)
        self._waiting = 0
        self._counter_lock = threading.Lock()
        self._parsed_grammars: set[str] = set()

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
            "capabilities": ["tool_use"] if self.supports_tools else [],
            "cpu_mode": self.cpu_mode,
        }

    def close(self) -> None:
        with self._lock:
            self._llama.close()

    def check_grammars(self, prediction: Prediction) -> None:
        """Refuses (400) a prediction whose grammar llama.cpp will not parse. llama-cpp-python
        hands a grammar to llama.cpp only when sampling starts, and a grammar llama.cpp rejects
        (a schema with a long ``maxLength`` inside a repeated rule exceeds its repetition
        limit) leaves a null sampler that kills the whole process; parsing it here first, once
        per grammar, turns that into an error for the one request."""
        grammars = [prediction.kwargs.get("grammar")]
        if prediction.tools is not None:
            with contextlib.suppress(BadRequest):
                grammars.append(tool_grammar(prediction.tools))
        for grammar in grammars:
            if grammar is None or grammar._grammar in self._parsed_grammars:
                continue
            llama_cpp = import_llama_cpp()
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._llama._model.vocab,
                grammar._grammar.encode("utf-8"),
                grammar._root.encode("utf-8"),
            )
            if not sampler:
                raise BadRequest(
                    "llama.cpp cannot use the grammar made from this JSON schema (too many "
                    "repetitions: lower maxLength/maxItems or simplify the schema)",
                    "response_format" if grammar is grammars[0] else "tools",
                )
            llama_cpp.llama_sampler_free(sampler)
            self._parsed_grammars.add(grammar._grammar)

    def probe_decode(self, tokens: int = 4) -> None:
        """Decodes a prompt of some length and a few tokens: the first decode is where a CPU
        feature the OS refuses traps. A one-word prompt is not enough: llama.cpp takes the
        repacked (AMX) matrix path only for batches of more than a few tokens."""
        with self._lock:
            self._llama.create_completion(
                "Hello, " * PROBE_PROMPT_WORDS, max_tokens=tokens, temperature=0.0
            )

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
