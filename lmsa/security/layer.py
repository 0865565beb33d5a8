"""What the graph's nodes share for security: the policy, the audit log and this graph's canary,
built once per :class:`~lmsa.context.Services` so the respond node checks the same canary the
prompts carry, plus the small amount of glue (metrics, audit records, the judge) the nodes need.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from lmsa.observability.metrics import GUARD_VERDICTS
from lmsa.security import ngram_model
from lmsa.security.audit import AuditLog
from lmsa.security.canary import contains_canary, new_canary
from lmsa.security.checks import (
    QUARANTINE_NOTICE,
    check_input,
    check_output,
    quarantine,
    scan_tool_output,
)
from lmsa.security.policy import SecurityPolicy
from lmsa.security.secret_scan import REDACTION_PREFIX, SecretFinding, find_secrets, redact_values
from lmsa.security.stream import SLOT_KEY, StreamGuardSlot, StreamRedactor, redact_stream_text
from lmsa.security.verdict import Verdict

log = logging.getLogger(__name__)

_QUARANTINE_PREFIX = QUARANTINE_NOTICE.split("{", 1)[0]
_LONG = 2_000
"""Texts longer than this are checked in a worker thread."""


class SecurityLayer:
    def __init__(self, policy: SecurityPolicy, audit: AuditLog) -> None:
        self.policy = policy
        self.audit = audit

    @classmethod
    def from_settings(cls, settings: Any) -> SecurityLayer:
        canary = getattr(settings, "canary_token", None) or new_canary()
        layer = cls(
            SecurityPolicy.from_settings(settings, canary=canary), AuditLog.from_settings(settings)
        )
        # Imports happen here, at graph build time, not on the event loop during a turn
        # (``langgraph dev`` fails blocking calls made on its loop).
        find_secrets("")
        if layer.policy.injection_model != "off":
            ngram_model.default_model()  # a 1 MB file read, about 3 ms
        if layer.policy.engine == "guardrails":
            from lmsa.security.guardrails_guard import input_guard

            input_guard(layer.policy)
        return layer

    @staticmethod
    def run_ids() -> dict[str, str | None]:
        """Thread and request ids of the current graph run, for audit records."""
        return run_ids()

    @property
    def canary(self) -> str:
        return self.policy.canary

    def redact_secrets(self, text: str) -> str:
        """``text`` with every credential the scanner finds replaced by a placeholder."""
        secrets = find_secrets(text)
        return redact_values(text, secrets) if secrets else text

    def carries_redaction(self, text: str) -> bool:
        """Whether ``text`` contains a placeholder :meth:`redact_secrets` put in."""
        return REDACTION_PREFIX in text

    def secrets_in(self, text: str) -> list[SecretFinding]:
        """The credentials the scanner finds in ``text``."""
        return find_secrets(text)

    def redact(self, text: str, secrets: list[SecretFinding]) -> str:
        """``text`` with the given findings replaced by placeholders."""
        return redact_values(text, secrets)

    def screen_tool_output(self, text: str, *, source: str) -> Verdict:
        """A tool result scanned for indirect prompt injection under this layer's policy (its
        switch and threshold); not allowed means quarantine."""
        return scan_tool_output(text, source=source, policy=self.policy)

    def quarantine(self, text: str, verdict: Verdict, *, source: str) -> str:
        """A flagged tool result as quoted data with a warning, for a model to read, not obey."""
        return quarantine(text, verdict, source=source)

    def is_quarantined(self, text: str) -> bool:
        """Whether a tool result was quarantined by :meth:`quarantine`."""
        return text.startswith(_QUARANTINE_PREFIX)

    def check_output(
        self, text: str, *, known_secrets: list[SecretFinding], allow: list[str]
    ) -> Verdict:
        """The answer checked before it is stored: canary, secrets (those redacted from the
        model's input above all), PII per the policy; ``allow`` lists values the user asked for.
        The stored text is what the stream redactor (:meth:`arm_stream`) showed while the
        answer streamed, checked once more as a whole."""
        verdict = check_output(text, policy=self.policy, known_secrets=known_secrets, allow=allow)
        streamed = redact_stream_text(text, canary=self.canary, known=known_secrets, allow=allow)
        final = check_output(
            streamed, policy=self.policy, known_secrets=known_secrets, allow=allow
        ).redacted_text
        return dataclasses.replace(verdict, redacted_text=final)

    def screen_tool_args(self, args: dict[str, Any], *, egress: bool) -> str | None:
        """Arguments a person typed at approval, checked like any text that enters the turn:
        the reason they may not be used as they are, or ``None``. The canary and (for a call
        that sends data out) credentials are never passed on; text that reads as instructions
        to an AI is sent back for another edit."""
        texts = [v for v in _strings(args) if v.strip()]
        if any(contains_canary(text, self.canary) for text in texts):
            return "canary: they carry the system prompt's canary token"
        if egress and any(find_secrets(text) for text in texts):
            return "secret: they carry a credential, and this call sends data out"
        for text in texts:
            verdict = scan_tool_output(text, source="edited arguments", policy=self.policy)
            if not verdict.allowed:
                kinds = ", ".join(c for c in verdict.categories if c not in ("indirect", "secret"))
                return f"injection: they read like instructions to an AI ({kinds})"
        return None

    def arm_stream(self, *, known_secrets: list[SecretFinding], allow: list[str]) -> None:
        """Arms the current run's stream redactor (put in the run's config by the turn driver)
        with this graph's canary and this turn's secrets, before the answer streams."""
        slot = _stream_slot()
        if slot is not None:
            slot.arm(StreamRedactor(canary=self.canary, known=known_secrets, allow=allow))

    def check_input(self, text: str, *, max_chars: int) -> Verdict:
        policy = self.policy
        if policy.max_input_chars != max_chars:
            policy = dataclasses.replace(policy, max_input_chars=max_chars)
        if policy.engine == "guardrails":
            from lmsa.security.guardrails_guard import input_guard, validate

            return validate(input_guard(policy), text)
        return check_input(text, policy=policy)

    async def screen_input(
        self, text: str, *, max_chars: int, llm: Any, style: str, source: str = "message"
    ) -> Verdict:
        """The one entry for text a person sends that will become model input (a message, an
        earlier message of a conversation a client sends whole, an answer to a question):
        checked, judged by the LLM when unsure and the policy says so, and audited."""
        if len(text) > _LONG:
            # the learned scorer's review of a long text is pure-Python CPU work (about 12 ms
            # per KB): off the event loop, which other runs share
            verdict = await asyncio.to_thread(self.check_input, text, max_chars=max_chars)
        else:
            verdict = self.check_input(text, max_chars=max_chars)
        if verdict.allowed and verdict.suspect and self.policy.llm_judge:
            verdict = await self.judge(llm, verdict, text, style=style)
        where = {} if source == "message" else {"source": source}
        await self.record("input", verdict, ids=run_ids(), chars=len(text), **where)
        return verdict

    async def judge(self, llm: Any, verdict: Verdict, text: str, *, style: str) -> Verdict:
        """Lets the LLM judge settle an unsure verdict; on any failure the local verdict stands."""
        from lmsa.security.judge import judge_injection

        try:
            judgement = await judge_injection(llm, text, style=style)
        except Exception as error:
            log.warning("injection judge failed, keeping the local verdict: %s", error)
            return verdict
        reasons = [*verdict.reasons, f"judge: {judgement.reasoning}"]
        if judgement.is_injection and judgement.confidence >= 0.5:
            return dataclasses.replace(
                verdict,
                allowed=False,
                score=max(verdict.score, judgement.confidence),
                categories=["prompt_injection", *verdict.categories],
                reasons=reasons,
                refusal="I can't act on this message: it reads like an attempt to manipulate the "
                "assistant. If that was not your intent, please rephrase the request.",
            )
        return dataclasses.replace(verdict, reasons=reasons)

    async def audit_event(self, event: str, *, ids: dict[str, str | None], **fields: Any) -> None:
        """An audit line for a decision that is not a guard verdict (approvals, refused tool
        calls)."""
        self.audit.record(event, **ids, **fields)

    async def record(
        self, guard: str, verdict: Verdict, *, ids: dict[str, str | None], **fields: Any
    ) -> None:
        """Counts the verdict and queues the audit record (written by the audit log's own
        thread, see :mod:`lmsa.security.audit`)."""
        if not verdict.allowed:
            outcome = "block" if guard != "tool_output" else "quarantine"
        elif "redacted" in verdict.categories:
            outcome = "redact"
        elif verdict.categories:
            outcome = "flag"
        else:
            outcome = "allow"
        for category in verdict.categories or ["none"]:
            GUARD_VERDICTS.labels(guard=guard, verdict=outcome, category=category).inc()
        if outcome != "allow" or guard == "input":
            self.audit.record(
                "guard_verdict",
                guard=guard,
                outcome=outcome,
                **ids,
                **verdict.to_dict(),
                **fields,
            )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def _stream_slot() -> StreamGuardSlot | None:
    try:
        from langgraph.config import get_config

        slot = (get_config().get("configurable") or {}).get(SLOT_KEY)
    except Exception:
        return None
    return slot if isinstance(slot, StreamGuardSlot) else None


def run_ids() -> dict[str, str | None]:
    """Thread, request and caller ids of the current graph run (None outside a run). The
    caller is the API key's digest the HTTP server put in ``metadata.caller``. The request id is
    the caller's (``metadata.request_id`` or ``configurable.request_id``, which the HTTP server
    sets), else the id of the current node run from LangGraph's callbacks."""
    try:
        from langgraph.config import get_config

        config = get_config()
    except Exception:
        return {"thread_id": None, "request_id": None, "caller": None}
    configurable = config.get("configurable") or {}
    metadata = config.get("metadata") or {}
    request = metadata.get("request_id") or configurable.get("request_id") or config.get("run_id")
    if not request:
        request = getattr(config.get("callbacks"), "parent_run_id", None)
    return {
        "thread_id": configurable.get("thread_id"),
        "request_id": str(request) if request else None,
        "caller": metadata.get("caller"),
    }
