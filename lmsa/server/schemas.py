"""Request and response bodies of the HTTP API. They are the OpenAPI contract served at
``/docs``; anything a client can get wrong is rejected here, before a turn starts, with a 4xx.

The OpenAI-compatible models accept (and ignore) the sampling parameters real clients send, so
any OpenAI SDK or chat UI can talk to the assistant unchanged; only what the assistant uses is
validated strictly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from lmsa.tools.approval import ApprovalDecision
from lmsa.turns import InterruptInfo

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
ThreadId = Annotated[str, StringConstraints(pattern=THREAD_ID_PATTERN, max_length=128)]
NON_BLANK = r"[^\s\x1c-\x1f]"
"""At least one non-blank character. ``\x1c-\x1f`` are spelled out because Python's ``\\s``
counts them as whitespace and the Rust engine pydantic validates with does not; so clients that
check the OpenAPI pattern with either engine agree with the server."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=100_000, pattern=NON_BLANK)]
"""Text with at least one non-blank character (the pattern puts that rule in the OpenAPI)."""
STRICT = ConfigDict(strict=True, extra="forbid")
"""Request bodies: a JSON ``0`` is not ``false`` and unknown fields are mistakes."""
LENIENT = ConfigDict(strict=True, extra="allow")
"""OpenAI-compatible bodies: clients send sampling parameters lmsa ignores."""
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}

ASSISTANT_MODEL_ID = "lmsa"


# -- errors -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error,")
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    """Every error, in the OpenAI SDKs' shape, so their exceptions carry the message."""

    error: ErrorDetail


# -- OpenAI-compatible ------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = LENIENT

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = LENIENT

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    model_config = LENIENT

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. The thread is ``X-Thread-Id`` (header) or ``user``; with
    neither, each request is its own thread seeded with the messages sent."""

    model_config = LENIENT

    model: str | None = Field(default=None, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=2_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: ThreadId | None = Field(default=None, description="Thread id when no X-Thread-Id.")

    @model_validator(mode="after")
    def _last_message_is_a_question(self) -> ChatCompletionRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError("the last message must have role 'user'")
        if not last.text().strip():
            raise ValueError("the last user message is empty")
        return self


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class TurnInfo(BaseModel):
    """lmsa's extension to the completion: where the conversation stands."""

    thread_id: str
    status: Literal["completed", "interrupted"]
    interrupt: InterruptInfo | None = None
    intent: str | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = ASSISTANT_MODEL_ID
    choices: list[Choice]
    usage: Usage
    lmsa: TurnInfo


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "lmsa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- threads and runs -------------------------------------------------------------------------


class ThreadCreate(BaseModel):
    model_config = STRICT

    thread_id: ThreadId | None = Field(default=None, description="Omit for a generated id.")


class Thread(BaseModel):
    thread_id: str
    created_at: str | None = None


class MessageOut(BaseModel):
    type: str
    content: Any
    id: str | None = None


class ThreadState(BaseModel):
    thread_id: str
    status: Literal["idle", "interrupted"]
    checkpoint_id: str | None = None
    created_at: str | None = None
    next: list[str] = Field(default_factory=list)
    interrupts: list[InterruptInfo] = Field(default_factory=list)
    messages: list[MessageOut] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict, description="Other state fields.")


class CheckpointInfo(BaseModel):
    checkpoint_id: str
    parent_checkpoint_id: str | None = None
    created_at: str | None = None
    step: int | None = None
    next: list[str] = Field(default_factory=list)
    messages: int = 0


class ThreadHistory(BaseModel):
    thread_id: str
    checkpoints: list[CheckpointInfo]


class RunCreate(BaseModel):
    """A new user message on an existing thread."""

    model_config = STRICT

    message: Text
    stream: bool = Field(default=False, description="true: Server-Sent Events instead of JSON.")


class ResumeRequest(BaseModel):
    """The answer to the thread's pending interrupt: ``answer`` for a clarification question;
    for an approval request the fields of :class:`~lmsa.tools.approval.ApprovalDecision`:
    ``decision``, ``args`` with ``edit`` (the complete replacement arguments), an optional
    ``reason`` with ``reject`` (told to the model)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["answer"]}, {"required": ["decision"]}]},
    )

    answer: Text | None = None
    decision: Literal["approve", "reject", "edit"] | None = None
    args: dict[str, Any] | None = Field(
        default=None, description="With 'edit': the complete replacement arguments."
    )
    reason: str | None = Field(
        default=None, max_length=10_000, description="With 'reject': why (told to the model)."
    )
    interrupt_id: str | None = Field(
        default=None,
        max_length=128,
        description="The id of the interrupt this answers (the run's `interrupt.id`). When "
        "given, an answer that arrives after the thread moved on to another question is "
        "refused with 409 `stale_interrupt` instead of answering that one.",
    )
    stream: bool = False

    @model_validator(mode="after")
    def _one_consistent_answer(self) -> ResumeRequest:
        if self.answer is None and self.decision is None:
            raise ValueError("give an 'answer' or a 'decision'")
        if self.answer is not None and self.decision is not None:
            raise ValueError("give an 'answer' (question) or a 'decision' (approval), not both")
        if self.decision == "edit" and self.args is None:
            raise ValueError("'edit' needs 'args': the complete replacement arguments")
        if self.args is not None and self.decision != "edit":
            raise ValueError("'args' goes with the decision 'edit'")
        if self.reason is not None and self.decision != "reject":
            raise ValueError("'reason' goes with the decision 'reject'")
        return self

    def resume_value(self) -> dict[str, Any]:
        if self.decision is None:
            return {"answer": self.answer}
        return ApprovalDecision(
            decision=self.decision, args=self.args, reason=self.reason
        ).model_dump(exclude_none=True)


class RunResult(BaseModel):
    thread_id: str
    run_id: str
    status: Literal["completed", "interrupted"]
    answer: str | None = None
    interrupt: InterruptInfo | None = None
    intent: str | None = None
    nodes: dict[str, float] = Field(default_factory=dict, description="Seconds per graph node.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class CheckResult(BaseModel):
    ok: bool
    detail: str
    # What an anonymous caller may see (endpoint names, the store's kind); never serialised.
    public: str = Field(default="", exclude=True)


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    reasons: list[str] = Field(default_factory=list)
    checks: dict[str, CheckResult] = Field(default_factory=dict)
