"""The approval gate of the execute node: every step's risk is judged before any step runs,
dangerous calls are refused without asking, and calls above ``LMSA_AUTO_APPROVE`` pause the graph
with ``interrupt()`` carrying the exact call (see :mod:`lmsa.nodes.execute` for why all approvals
are gathered first)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langgraph.types import interrupt

from lmsa.tools import ToolCallRejected, ToolRegistry
from lmsa.tools.approval import ApprovalDecision, ApprovalRequest, AutoApprove, needs_approval

MAX_EDIT_ROUNDS = 3


@dataclass(frozen=True)
class StepVerdict:
    """The gate's outcome for one step: run it with ``args``, or refuse with ``error``."""

    args: dict[str, Any]
    approval: str  # "auto", "approved", "edited", "rejected", "refused"
    error: str | None = None
    risk: str = "read"


class ApprovalGate:
    """Decides each step of a plan: run it (as planned or as the user edited it) or refuse it."""

    def __init__(self, registry: ToolRegistry, auto_approve: AutoApprove) -> None:
        self.registry = registry
        self.auto = auto_approve

    async def assess(self, tool: str, args: dict[str, Any]) -> tuple[Any, str]:
        # Judging resolves paths (stat, readlink): off the event loop, which the HTTP server
        # and ``langgraph dev`` share with every other run.
        return await asyncio.to_thread(self.registry.assess, tool, args)

    async def judge(self, step: dict[str, Any]) -> StepVerdict:
        """Decide one step, asking the user when its risk calls for it. Side-effect free apart
        from ``interrupt`` (see the module docstring)."""
        args = dict(step.get("args") or {})
        try:
            risk, reason = await self.assess(step["tool"], args)
        except ToolCallRejected as rejection:
            return StepVerdict(args, "refused", str(rejection), "write")
        if risk == "dangerous":
            return StepVerdict(
                args,
                "refused",
                f"Refused without asking: {reason}. Dangerous actions are "
                "never run; find a safer way or tell the user what they could do themselves.",
                risk,
            )
        if not needs_approval(risk, self.auto):
            return StepVerdict(args, "auto", risk=risk)
        problem: str | None = None
        for _ in range(MAX_EDIT_ROUNDS):
            request = ApprovalRequest(
                step_id=str(step["id"]),
                tool=step["tool"],
                args=args,
                risk=risk,
                reason=reason,
                purpose=str(step.get("purpose") or ""),
                error=problem,
            )
            reply = interrupt(request.model_dump(), response_schema=ApprovalDecision)
            decision = (
                reply
                if isinstance(reply, ApprovalDecision)
                else ApprovalDecision.model_validate(reply)
            )
            if decision.decision == "approve":
                return StepVerdict(args, "approved", risk=risk)
            if decision.decision == "reject":
                why = f" ({decision.reason})" if decision.reason else ""
                return StepVerdict(
                    args,
                    "rejected",
                    f"The user declined this call{why}; it did not run. "
                    "Do not repeat it unless the user asks.",
                    risk,
                )
            try:
                edited = self.registry.validate_call(step["tool"], decision.args or {})
            except ToolCallRejected as rejection:
                problem = str(rejection)
                continue
            edited_risk, edited_reason = await self.assess(step["tool"], edited)
            if edited_risk == "dangerous":
                return StepVerdict(
                    edited,
                    "refused",
                    f"Refused without asking: {edited_reason}. Dangerous actions are never run.",
                    edited_risk,
                )
            return StepVerdict(edited, "edited", risk=edited_risk)
        return StepVerdict(
            args,
            "rejected",
            f"The user's edited arguments were invalid {MAX_EDIT_ROUNDS} "
            f"times ({problem}); the call did not run.",
            risk,
        )

    async def gather(self, layers: list[list[dict[str, Any]]]) -> dict[str, StepVerdict]:
        verdicts: dict[str, StepVerdict] = {}
        stopped: set[str] = set()
        for layer in layers:
            for step in layer:
                if any(dep in stopped for dep in step.get("depends_on") or []):
                    stopped.add(step["id"])  # will be reported as skipped; don't ask
                    continue
                verdict = await self.judge(step)
                verdicts[step["id"]] = verdict
                if verdict.error is not None:
                    stopped.add(step["id"])
        return verdicts

    async def audit(
        self,
        layers: list[list[dict[str, Any]]],
        verdicts: dict[str, StepVerdict],
        security: Any,
    ) -> None:
        """One audit line per human decision and per refused call. Reached only once every
        approval of the plan is in (earlier runs of this node stopped at an interrupt), so each
        decision is written once. Arguments are not logged: they may carry secrets."""
        ids = security.run_ids()
        for step in (s for layer in layers for s in layer):
            verdict = verdicts.get(step["id"])
            if verdict is None or verdict.approval == "auto":
                continue
            event = "tool_refused" if verdict.approval == "refused" else "approval_decision"
            await security.audit_event(
                event,
                ids=ids,
                tool=step["tool"],
                step_id=step["id"],
                decision=verdict.approval,
                risk=verdict.risk,
                reason=verdict.error,
            )
