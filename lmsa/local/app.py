"""The HTTP face of the local model: the part of LM Studio's API that lmsa (and OpenAI clients)
use, so ``LMSA_BASE_URL`` can point here exactly as it points at LM Studio.

* ``GET /v1/models`` - OpenAI model list.
* ``GET /api/v0/models`` (and ``/api/v0/models/{id}``) - LM Studio's native list, ``state:
  "loaded"``; the model is loaded before the server listens, so a listed model always answers.
* ``POST /v1/chat/completions`` - plain or SSE-streamed (``stream_options.include_usage`` adds a
  usage chunk), ``response_format`` ``json_schema`` / ``json_object`` (+``schema``) enforced by
  grammar, and OpenAI tool calling (``tools``, ``tool_choice``; see :mod:`lmsa.local.tools`): a
  streamed reply shows text until a tool call starts and sends the calls as ``tool_calls``
  deltas at the end, after the one grammar-constrained retry a broken call may need.
* ``POST /api/v0/chat/completions`` - the same, plus LM Studio's ``stats`` (tokens per second,
  time to first token) in the reply or the final stream chunk.

Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from lmsa.local.engine import LlamaEngine, new_completion_id
from lmsa.local.requests import (
    BadRequest,
    Prediction,
    PredictionStats,
    build_prediction,
    tool_fallback,
)
from lmsa.local.tools import ContentGate, ParsedReply, ToolRequest, interpret, needs_fallback


def error_response(
    status: int, message: str, *, param: str | None = None, error_type: str | None = None
) -> JSONResponse:
    kind = error_type or ("invalid_request_error" if status < 500 else "server_error")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": None}},
        status_code=status,
    )


def create_app(engine: LlamaEngine) -> FastAPI:
    app = FastAPI(title="lmsa local model", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine

    @app.get("/v1/models")
    async def openai_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": engine.model_id, "object": "model", "owned_by": "organization_owner"}],
        }

    @app.get("/api/v0/models")
    async def native_models() -> dict[str, Any]:
        return {"object": "list", "data": [engine.describe()]}

    @app.get("/api/v0/models/{model_id:path}", response_model=None)
    async def native_model(model_id: str) -> dict[str, Any] | JSONResponse:
        if model_id != engine.model_id:
            return error_response(404, f"Model {model_id!r} not found", param="model")
        return engine.describe()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        return await _chat(engine, request, with_stats=False)

    @app.post("/api/v0/chat/completions", response_model=None)
    async def native_chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        return await _chat(engine, request, with_stats=True)

    return app


async def _chat(
    engine: LlamaEngine, request: Request, *, with_stats: bool
) -> JSONResponse | StreamingResponse:
    try:
        body = await request.json()
    except ValueError:
        return error_response(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return error_response(400, "The request body must be a JSON object.")
    try:
        prediction = build_prediction(
            body, engine.default_max_tokens, native_tools=engine.supports_tools
        )
        engine.check_grammars(prediction)
    except BadRequest as error:
        return error_response(400, str(error), param=error.param)
    completion_id = new_completion_id()
    created = int(time.time())
    if body.get("stream"):
        return await _stream_response(engine, prediction, completion_id, created, with_stats)
    try:
        text, finish_reason, stats = await engine.complete(prediction)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if prediction.tools is not None:
            reply, stats = await _tool_reply(engine, prediction, prediction.tools, text, stats)
            message, finish_reason = reply.message(), reply.finish_reason(finish_reason)
    except Exception as error:
        return _prediction_error(error)
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": engine.model_id,
        "system_fingerprint": engine.model_id,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": stats.usage(),
    }
    if with_stats:
        payload["stats"] = stats.as_lmstudio()
    return JSONResponse(payload)


async def _tool_reply(
    engine: LlamaEngine,
    prediction: Prediction,
    request: ToolRequest,
    text: str,
    stats: PredictionStats,
) -> tuple[ParsedReply, PredictionStats]:
    """The reply's tool calls; a broken call in a free reply is generated once more under the
    call grammar (its stats are added: the client waited for both)."""
    reply = interpret(text, request)
    fallback = tool_fallback(prediction) if needs_fallback(reply, request) else None
    if fallback is None:
        return reply, stats
    retry_text, _, retry_stats = await engine.complete(fallback)
    return interpret(retry_text, request).instead_of(reply), _added(stats, retry_stats)


def _added(first: PredictionStats, second: PredictionStats) -> PredictionStats:
    return PredictionStats(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        time_to_first_token=first.time_to_first_token,
        generation_time=first.generation_time + second.generation_time,
        queue_wait=first.queue_wait + second.queue_wait,
        stop_reason=second.stop_reason,
    )


def _prediction_error(error: BaseException) -> JSONResponse:
    # A chat template that rejects the conversation is the caller's problem (400); anything
    # else is ours.
    if type(error).__module__.startswith("jinja2") or isinstance(error, ValueError):
        return error_response(400, f"The model's chat template rejected the messages: {error}")
    return error_response(500, f"The local model failed: {type(error).__name__}: {error}")


async def _stream_response(
    engine: LlamaEngine,
    prediction: Prediction,
    completion_id: str,
    created: int,
    with_stats: bool,
) -> JSONResponse | StreamingResponse:
    events = engine.stream(prediction)
    # Pull the first event before answering, so a request that fails at once (a chat template
    # that rejects the messages) gets an HTTP error instead of a broken stream.
    try:
        first = await anext(events)
    except Exception as error:
        await events.aclose()
        return _prediction_error(error)

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": engine.model_id,
            "system_fingerprint": engine.model_id,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    async def body() -> AsyncIterator[str]:
        finish_reason = "stop"
        tools = prediction.tools
        gate = None if tools is None else ContentGate([tool.name for tool in tools.tools])
        try:
            yield _sse(chunk({"role": "assistant", "content": ""}))
            event: tuple[str | None, Any] | None = first
            while event is not None:
                piece, extra = event
                if piece is not None:
                    shown = piece if gate is None else gate.feed(piece)
                    if shown:
                        yield _sse(chunk({"content": shown}))
                elif isinstance(extra, PredictionStats):
                    if tools is not None and gate is not None:
                        deltas, finish_reason, extra = await _streamed_tool_calls(
                            engine, prediction, tools, gate, finish_reason, extra
                        )
                        for delta in deltas:
                            yield _sse(chunk(delta))
                    final = chunk({}, finish_reason)
                    if with_stats:
                        final["stats"] = extra.as_lmstudio()
                    yield _sse(final)
                    if prediction.include_usage:
                        yield _sse(
                            {
                                "id": completion_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": engine.model_id,
                                "choices": [],
                                "usage": extra.usage(),
                            }
                        )
                    break
                elif extra is not None:
                    finish_reason = str(extra)
                event = await anext(events, None)
            yield "data: [DONE]\n\n"
        except Exception as error:
            message = f"The local model failed: {type(error).__name__}: {error}"
            yield _sse({"error": {"message": message, "type": "server_error"}})
        finally:
            await events.aclose()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _streamed_tool_calls(
    engine: LlamaEngine,
    prediction: Prediction,
    request: ToolRequest,
    gate: ContentGate,
    finish_reason: str,
    stats: PredictionStats,
) -> tuple[list[dict[str, Any]], str, PredictionStats]:
    """The end of a streamed reply that may call tools: the deltas still to send (text held
    back or after the calls, then one ``tool_calls`` delta per call), the finish reason and the
    stats."""
    if not gate.captured:
        tail = gate.flush()
        return ([{"content": tail}] if tail else []), finish_reason, stats
    reply, stats = await _tool_reply(engine, prediction, request, gate.text, stats)
    if not reply.ok:  # no usable call: the rest of the text is plain content after all
        return [{"content": gate.text[len(gate.shown) :]}], finish_reason, stats
    deltas: list[dict[str, Any]] = []
    rest = reply.rest.strip()
    if rest:
        deltas.append({"content": rest})
    deltas += [{"tool_calls": [call.as_delta(index)]} for index, call in enumerate(reply.calls)]
    return deltas, reply.finish_reason(finish_reason), stats


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
