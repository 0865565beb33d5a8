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
from collections.abc import Mapping
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


REPLY_HELP = (
    'Reply "yes" to run it, "no" (optionally followed by a reason) to refuse it, '
    "or the edited arguments as a JSON object."
)
"""What a chat client's user can answer; :func:`parse_reply` reads each of these."""


def approval_text(request: Mapping[str, Any]) -> str:
    """An approval request as a chat message: the exact call (tool and every argument: the
    user approves what runs), its risk and why, and how to answer in plain words."""
    args = json.dumps(request.get("args") or {}, ensure_ascii=False, indent=2)
    lines = [
        f"Approval needed: the assistant wants to run {request.get('tool')} "
        f"(risk: {request.get('risk')}) - {request.get('reason')}.",
    ]
    if request.get("purpose"):
        lines.append(f"Purpose: {request['purpose']}")
    lines += ["Arguments:", "```json", args, "```"]
    if request.get("error"):
        lines.append(f"Your previous edit was not accepted: {request['error']}")
    lines.append(REPLY_HELP)
    return "\n".join(lines)


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
