"""The approval gate's vocabulary: what an interface is shown and what it answers.

A call pauses the graph when its risk is above ``LMSA_AUTO_APPROVE`` (``none``: ask for
everything, ``read``: reads run, the rest is asked, ``write``: only dangerous calls are stopped,
and those are refused without asking). The interrupt carries an :class:`ApprovalRequest`; any
interface resumes with an :class:`ApprovalDecision`, e.g. ``Command(resume={"decision":
"approve"})`` from Python or ``{"command": {"resume": {"decision": "reject", "reason": "..."}}}``
through the LangGraph HTTP API / Studio.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from lmsa.tools.registry import RiskLevel

AutoApprove = Literal["none", "read", "write"]
_AUTO_RANK = {"none": -1, "read": 0, "write": 1}
_RISK_RANK = {"read": 0, "write": 1, "dangerous": 2}


class ApprovalRequest(BaseModel):
    """The interrupt's value: the exact call that is waiting."""

    kind: Literal["approval"] = "approval"
    step_id: str
    tool: str
    args: dict[str, Any]
    risk: RiskLevel
    reason: str
    purpose: str = ""
    error: str | None = Field(
        default=None, description="Why the previous edit was not accepted, when re-asking."
    )


class ApprovalDecision(BaseModel):
    """How a caller answers an approval interrupt."""

    decision: Literal["approve", "reject", "edit"]
    args: dict[str, Any] | None = Field(
        default=None, description="With 'edit': the complete replacement arguments."
    )
    reason: str | None = Field(default=None, description="With 'reject': why (told to the model).")


def needs_approval(risk: RiskLevel, auto: AutoApprove) -> bool:
    return _RISK_RANK[risk] > _AUTO_RANK[auto]


def parse_reply(text: str) -> ApprovalDecision | None:
    """A typed answer: ``y``/``yes``, ``n``/``no`` [reason], or edited arguments as a JSON
    object (optionally after ``e``/``edit``). ``None`` for ``e``/``edit`` alone (the caller asks
    for the arguments) and for anything it cannot read."""
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    lowered = word.lower().rstrip(":,.")
    if lowered in ("y", "yes", "approve", "ok", "a"):
        return ApprovalDecision(decision="approve")
    if lowered in ("n", "no", "reject", "r", "deny"):
        return ApprovalDecision(decision="reject", reason=rest.strip() or None)
    if lowered in ("e", "edit"):
        stripped = rest.strip()
        if not stripped:
            return None
    if stripped.startswith("{"):
        try:
            args = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        if isinstance(args, dict):
            return ApprovalDecision(decision="edit", args=args)
    return None
