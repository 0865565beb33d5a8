"""Interrupts at the LangGraph API's edge: shown in the shape chat UIs render, answered in the
shapes they send.

The graph pauses with lmsa's own payloads (:class:`~lmsa.tools.approval.ApprovalRequest`,
:class:`~lmsa.nodes.clarify.ClarificationRequest`) and validates resumes against its own
answers (``{"decision": ...}``, ``{"answer": ...}``); the CLI, the ``/v1`` API and ``langgraph
dev`` keep using those. Here an approval is also shown as a human-in-the-loop request
(LangChain's ``HumanInTheLoopMiddleware`` shape, ``action_requests`` + ``review_configs``, which
agent-chat-ui draws as buttons, plus the older Agent Inbox ``action_request`` + ``config``), and
the decisions those UIs send back are read into lmsa's answer.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from lmsa.tools.approval import approval_text, parse_reply

DECISIONS = ["approve", "edit", "reject"]


class ResumeError(ValueError):
    """A resume value that answers nothing the thread asked."""


# LangGraph's interrupt ids: a 128-bit hash in hex.
_INTERRUPT_ID = re.compile(r"[0-9a-f]{32}")


def named_interrupts(resume: Any) -> list[str]:
    """The interrupt ids a resume answers by name (LangGraph's ``{interrupt_id: answer}``
    form), or ``[]`` when it answers whatever is pending."""
    if (
        isinstance(resume, dict)
        and resume
        and all(isinstance(key, str) and _INTERRUPT_ID.fullmatch(key) for key in resume)
    ):
        return list(resume)
    return []


def is_approval(value: Any) -> bool:
    return isinstance(value, dict) and value.get("kind") == "approval"


def shown_value(value: Any) -> Any:
    """An interrupt's value as API clients see it (lmsa's own keys are kept)."""
    if not is_approval(value):
        return value
    tool = str(value.get("tool"))
    args = dict(value.get("args") or {})
    description = approval_text(value)
    return {
        **value,
        "action_requests": [
            {"name": tool, "action": tool, "args": args, "description": description}
        ],
        "review_configs": [
            {
                "action_name": tool,
                "allowed_decisions": list(DECISIONS),
                "allow_accept": True,
                "allow_edit": True,
                "allow_respond": True,
                "allow_ignore": True,
            }
        ],
        "action_request": {"action": tool, "args": args},
        "config": {
            "allow_accept": True,
            "allow_edit": True,
            "allow_respond": True,
            "allow_ignore": True,
        },
        "description": description,
    }


def shown_interrupt(interrupt: Any) -> dict[str, Any]:
    """``{"value", "id"}`` of a LangGraph ``Interrupt`` (or such a dict), value shown, with
    ``response_schema`` (JSON Schema) when the graph gave one."""
    get = interrupt.get if isinstance(interrupt, dict) else partial(getattr, interrupt)
    shown = {"value": shown_value(get("value", interrupt)), "id": get("id", None)}
    schema = get("response_schema", None)
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        schema = schema.model_json_schema()
    if isinstance(schema, dict):
        shown["response_schema"] = schema
    return shown


def shown_values(values: Any) -> Any:
    """A values or updates chunk with its ``__interrupt__`` entries shown."""
    if isinstance(values, dict) and "__interrupt__" in values:
        pending = values["__interrupt__"]
        items = pending if isinstance(pending, list | tuple) else [pending]
        return {**values, "__interrupt__": [shown_interrupt(i) for i in items]}
    return values


def translate_resume(resume: Any, pending: dict[str, Any]) -> Any:
    """The resume value the graph accepts, from what a client sent. ``pending`` maps interrupt
    ids to their (lmsa) values; a map of interrupt ids to answers is translated per id."""
    if isinstance(resume, dict) and resume and set(resume) <= set(pending):
        return {key: _answer(item, pending[key]) for key, item in resume.items()}
    if not pending:
        return resume
    return _answer(resume, next(iter(pending.values())))


def _answer(resume: Any, asked: Any) -> Any:
    if is_approval(asked):
        return approval_decision(resume)
    return clarification_answer(resume)


def approval_decision(resume: Any) -> dict[str, Any]:
    """lmsa's ``{"decision", "args", "reason"}`` from a native decision, a HITL
    ``{"decisions": [...]}``, an Agent Inbox response list, or a typed reply."""
    if isinstance(resume, dict) and "decision" in resume:
        return resume
    if isinstance(resume, dict) and isinstance(resume.get("decisions"), list):
        resume = resume["decisions"]
    if isinstance(resume, list):
        if len(resume) != 1:
            raise ResumeError(f"The thread waits for one decision; {len(resume)} were sent.")
        resume = resume[0]
    if isinstance(resume, str):
        decision = parse_reply(resume)
        if decision is None:
            raise ResumeError(
                "A typed reply to an approval is 'yes', 'no [reason]' or the edited arguments "
                "as a JSON object."
            )
        return decision.model_dump(exclude_none=True)
    if not isinstance(resume, dict) or not isinstance(resume.get("type"), str):
        raise ResumeError("An approval is answered with a decision of type approve/reject/edit.")
    kind = resume["type"]
    if kind in ("approve", "accept"):
        return {"decision": "approve"}
    if kind in ("reject", "ignore", "response"):
        reason = resume.get("message") if kind == "reject" else resume.get("args")
        out: dict[str, Any] = {"decision": "reject"}
        if isinstance(reason, str) and reason.strip():
            out["reason"] = reason.strip()
        return out
    if kind == "edit":
        action = resume.get("edited_action") or resume.get("args")
        args = action.get("args") if isinstance(action, dict) and "args" in action else action
        if not isinstance(args, dict):
            raise ResumeError("An edit decision carries the edited call's 'args' object.")
        return {"decision": "edit", "args": args}
    raise ResumeError(f"Unknown decision type {kind!r}; use approve, reject or edit.")


def clarification_answer(resume: Any) -> Any:
    """lmsa's ``{"answer"}`` from a string, an Agent Inbox ``response``, or itself."""
    if isinstance(resume, list) and len(resume) == 1:
        resume = resume[0]
    if isinstance(resume, str):
        return {"answer": resume}
    if isinstance(resume, dict) and isinstance(resume.get("decisions"), list):
        decisions = resume["decisions"]
        resume = decisions[0] if len(decisions) == 1 else resume
    if isinstance(resume, dict) and "answer" not in resume:
        for key in ("args", "message", "response", "text"):
            if isinstance(resume.get(key), str):
                return {"answer": resume[key]}
    return resume
