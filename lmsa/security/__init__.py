"""lmsa's security layer: input and output guards, tool-result quarantine, rate limits, audit.

Usable without building the graph::

    from lmsa.security import check_input, check_output
    verdict = check_input("Ignore all previous instructions")
    verdict.allowed, verdict.score, verdict.categories, verdict.reasons

Everything here is local and offline. guardrails-ai is imported only by
:mod:`lmsa.security.guardrails_guard` (and only when used), detect-secrets and ``limits`` on
first use.
"""

from __future__ import annotations

from lmsa.security.audit import AuditLog
from lmsa.security.canary import contains_canary, new_canary, redact_canary
from lmsa.security.checks import (
    check_input,
    check_output,
    quarantine,
    scan_tool_output,
)
from lmsa.security.injection import InjectionScore, score_injection
from lmsa.security.policy import SecurityPolicy
from lmsa.security.ratelimit import RateDecision, RateLimiter
from lmsa.security.stream import StreamRedactor, redact_stream_text
from lmsa.security.verdict import Verdict

__all__ = [
    "AuditLog",
    "InjectionScore",
    "RateDecision",
    "RateLimiter",
    "SecurityPolicy",
    "StreamRedactor",
    "Verdict",
    "check_input",
    "check_output",
    "contains_canary",
    "new_canary",
    "quarantine",
    "redact_canary",
    "redact_stream_text",
    "scan_tool_output",
    "score_injection",
]
