"""OpenAI-compatible chat completions, so any OpenAI client or chat UI can talk to the assistant.

The assistant keeps the conversation itself: with a thread (``X-Thread-Id`` header, else the
``user`` field) only the last user message is new input and the earlier ones the client resends
are ignored; without one, each request is a fresh thread seeded with all the messages sent. A
client's system messages are dropped (the assistant's nodes have their own). When the thread is
waiting on a clarification question, the next user message answers it; when it waits on an
approval, the content shows the exact call and the next user message decides it in plain words
(``yes``, ``no [reason]`` or edited JSON arguments), so a client that only speaks OpenAI can
finish a write. A reply that reads as none of these gets the request again, with a hint.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from sse_starlette import EventSourceResponse

from lmsa.server.errors import ERROR_RESPONSES, ApiError, classify, error_payload
from lmsa.server.schemas import (
    ASSISTANT_MODEL_ID,
    SSE_EVENT_SCHEMA,
    THREAD_ID_PATTERN,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ErrorBody,
    InterruptInfo,
    ModelCard,
    ModelList,
    TurnInfo,
    Usage,
)
from lmsa.server.state import ServerState, server_state
from lmsa.server.tenancy import CurrentTenant
from lmsa.server.turns import complete_turn, turn_events
from lmsa.turns import (
    TurnResult,
    first_question,
    message_input,
    question_text,
    reply_input,
    thread_status,
)

router = APIRouter(prefix="/v1", tags=["openai"])
UNREADABLE = "Could not read that as a decision on the call below; nothing ran."

State = Annotated[ServerState, Depends(server_state)]
_THREAD_ID = re.compile(THREAD_ID_PATTERN)


@router.get("/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(state: State) -> ModelList:
    """The assistant, as the one model this API serves."""
    return ModelList(data=[ModelCard(id=ASSISTANT_MODEL_ID, created=int(state.started))])


def _to_langchain(messages: list[ChatMessage]) -> list[BaseMessage]:
    converted: list[BaseMessage] = []
    for message in messages:
        if message.role == "user":
            converted.append(HumanMessage(content=message.text()))
        elif message.role == "assistant" and message.text():
            converted.append(AIMessage(content=message.text()))
    return converted


def _thread_of(body: ChatCompletionRequest, header: str | None) -> str | None:
    thread_id = header or body.user
    if thread_id is None:
        return None
    if not _THREAD_ID.match(thread_id):
        source = "X-Thread-Id" if header else "user"
        raise ApiError(
            422,
            f"{source} must be 1-128 characters of letters, digits and . _ : @ -",
            code="invalid_thread_id",
            param=source,
        )
    return thread_id


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "A turn is already running on the thread."},
        200: {
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
            "description": "A chat.completion, or chat.completion.chunk events when stream.",
        },
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    state: State,
    tenant: CurrentTenant,
    x_thread_id: Annotated[
        str | None, Header(pattern=THREAD_ID_PATTERN, max_length=128, description="Thread id.")
    ] = None,
) -> Any:
    """One assistant turn, OpenAI style. The response header ``X-Thread-Id`` names the thread
    to continue; ``lmsa.status == "interrupted"`` means the content is a question or an approval
    request, which the next user message answers."""
    import uuid

    thread_id = _thread_of(body, x_thread_id)
    stateless = thread_id is None
    thread_id = thread_id or f"chat-{uuid.uuid4().hex}"
    # Everything below works on the caller's own copy of the id (see lmsa.server.tenancy);
    # only what the client reads shows ``thread_id``.
    stored = tenant.stored(thread_id)
    last = body.messages[-1].text()
    payload: Any
    kind = "message"
    try:
        status = None if stateless else await thread_status(state.graph, stored)
    except Exception as error:
        raise classify(error, state.settings) from error
    unread: TurnResult | None = None
    if status is not None and status.interrupts:
        payload, kind = reply_input(last, first_question(status.interrupts)), "resume"
        if payload is None:
            unread = _still_waiting(thread_id, status.interrupts[0])
    elif status is not None and status.exists:
        payload = message_input(last)
    else:
        payload = {"messages": _to_langchain(body.messages)}

    headers = {"X-Thread-Id": thread_id}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventSourceResponse(
            _stream(state, stored, thread_id, payload, kind, include_usage, unread),
            headers=headers,
            ping=15,
        )
    result = unread or await complete_turn(state, stored, payload, kind, shown=thread_id)
    completion = ChatCompletion(
        id=f"chatcmpl-{result.run_id}",
        created=int(time.time()),
        choices=[Choice(message=AssistantMessage(content=_content(result, unread is not None)))],
        usage=Usage(**result.usage),
        lmsa=_turn_info(result, thread_id),
    )
    return JSONResponse(completion.model_dump(), headers=headers)


def _still_waiting(thread_id: str, pending: InterruptInfo) -> TurnResult:
    """The reply could not be read as a decision: no turn runs and the approval stays open."""
    import uuid

    return TurnResult(
        thread_id=thread_id,
        run_id=str(uuid.uuid4()),
        status="interrupted",
        answer=None,
        interrupt=pending,
        intent=None,
        nodes={},
    )


def _content(result: TurnResult, unreadable: bool = False) -> str:
    if result.interrupt is not None:
        question = question_text(result.interrupt)
        return f"{UNREADABLE}\n\n{question}" if unreadable else question
    return result.answer or ""


def _turn_info(result: TurnResult, thread_id: str) -> TurnInfo:
    return TurnInfo(
        thread_id=thread_id,
        status=result.status,
        interrupt=result.interrupt,
        intent=result.intent,
    )


async def _stream(
    state: ServerState,
    stored: str,
    thread_id: str,
    payload: Any,
    kind: str,
    include_usage: bool,
    unread: TurnResult | None = None,
) -> AsyncIterator[dict[str, str]]:
    import uuid

    run_id = str(uuid.uuid4())
    envelope = {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": ASSISTANT_MODEL_ID,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
        body = {
            **envelope,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return {"data": json.dumps(body, ensure_ascii=False)}

    yield chunk({"role": "assistant", "content": ""})
    results: list[TurnResult] = [unread] if unread else []
    try:
        if unread is None:
            async for event in turn_events(
                state, stored, payload, kind, results, run_id=run_id, shown=thread_id
            ):
                if event.kind == "token":
                    yield chunk({"content": event.data["text"]})
    except ApiError as error:
        yield {"data": json.dumps(error_payload(error.message, type=error.type, code=error.code))}
        return
    result = results[0]
    if not result.streamed:
        text = _content(result, unread is not None)
        if text:
            yield chunk({"content": text})
    yield chunk({}, "stop", lmsa=_turn_info(result, thread_id).model_dump())
    if include_usage:
        yield {"data": json.dumps({**envelope, "choices": [], "usage": result.usage})}
    yield {"data": "[DONE]"}
