"""The approval gate of the execute node: every step's risk is judged before any step runs,
dangerous calls are refused without asking, and calls above ``LMSA_AUTO_APPROVE`` pause the graph
with ``interrupt()`` carrying the exact call (see :mod:`lmsa.nodes.execute` for why all approvals
are gathered first).

Egress after untrusted input needs a person. Private data (the workspace), untrusted content (a
fetched page, search results, a tool result the scanner quarantined) and a way out (a tool whose
arguments leave the machine: ``egress`` in its metadata) together let planted text exfiltrate
data. So once the turn has taken in untrusted content, or the plan itself brings some in before
its egress call, every egress call asks the user whatever ``LMSA_AUTO_APPROVE`` says; and an
egress call whose arguments carry text the turn read from the workspace is refused outright.
Tools tagged ``egress`` are the web tools; ``run_command`` and ``run_python`` say per call
(``egress`` as a callable in their metadata): a command line that can reach the network
(``curl``, ``wget``, ``git push``/``fetch``, ``pip install`` ..., see
:mod:`lmsa.tools.command_policy.network`) or a snippet importing a network library is egress
too. Shell commands that upload (``curl -d``, ``scp``, ``nc`` ...) are refused outright by the
command policy.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langgraph.types import interrupt

from lmsa.tools import ToolCallRejected, ToolRegistry
from lmsa.tools.approval import ApprovalDecision, ApprovalRequest, AutoApprove, needs_approval

if TYPE_CHECKING:
    from lmsa.security.layer import SecurityLayer

MAX_EDIT_ROUNDS = 3


@dataclass(frozen=True)
class StepVerdict:
    """The gate's outcome for one step: run it with ``args``, or refuse with ``error``."""

    args: dict[str, Any]
    approval: str  # "auto", "approved", "edited", "rejected", "refused"
    error: str | None = None
    risk: str = "read"
    egress: bool = False  # the call can send data out (and what it brings back is untrusted)


# A run of this many characters from a workspace read, found in an egress call's arguments, is
# treated as the data being sent out (short runs would match ordinary words).
LEAK_RUN = 16
# Runs split at quotes, brackets and the separators of ``KEY=value`` / ``key: value`` lines, so
# a secret is compared as the value itself.
_URL = re.compile(r"\S+://\S+")
_TOKEN = re.compile(r"[^\s\"'<>()\[\]{},;=:]{" + str(LEAK_RUN) + ",}")


def untrusted(results: list[dict[str, Any]], egress_tools: frozenset[str]) -> bool:
    """Whether the turn has taken in content nobody vouches for."""
    return any(
        r.get("ok") and (r.get("tool") in egress_tools or r.get("egress") or r.get("quarantined"))
        for r in results
    )


def carried_workspace_text(
    args: dict[str, Any], results: list[dict[str, Any]], egress: frozenset[str]
) -> str | None:
    """A piece of this turn's workspace reads that appears in ``args``, if any. Following a link
    the workspace holds is not a leak: a value found whole in what was read, and read text that
    is itself a URL, do not count."""
    values = [v for v in args.values() if isinstance(v, str)]
    sent = json.dumps(args, ensure_ascii=False)
    for result in results:
        if result.get("tool") in egress or not result.get("ok"):
            continue
        output = str(result.get("full_output") or result.get("output") or "")
        if values and all(value in output for value in values):
            continue
        for line in output.splitlines():
            links = _URL.findall(line)
            for token in _TOKEN.findall(line):
                if token in sent and not any(token in link for link in links):
                    return token
    return None


class ApprovalGate:
    """Decides each step of a plan: run it (as planned or as the user edited it) or refuse it."""

    def __init__(
        self, registry: ToolRegistry, auto_approve: AutoApprove, security: SecurityLayer
    ) -> None:
        self.registry = registry
        self.auto = auto_approve
        self.security = security
        self.egress = frozenset(
            name
            for name in registry.names()
            if (registry.get(name).metadata or {}).get("egress") is True
        )

    async def assess(self, tool: str, args: dict[str, Any]) -> tuple[Any, str, bool]:
        """The call's risk, the reason, and whether it can send data out."""
        # Judging resolves paths (stat, readlink): off the event loop, which the HTTP server
        # and ``langgraph dev`` share with every other run.
        return await asyncio.to_thread(self._assess, tool, args)

    def _assess(self, tool: str, args: dict[str, Any]) -> tuple[Any, str, bool]:
        risk, reason = self.registry.assess(tool, args)
        if tool in self.egress:
            return risk, reason, True
        judge = (self.registry.get(tool).metadata or {}).get("egress")
        if not callable(judge):
            return risk, reason, False
        try:
            return risk, reason, bool(judge(dict(args)))
        except Exception:  # cannot tell: treat as a way out, so a person decides
            return risk, reason, True

    async def judge(
        self,
        step: dict[str, Any],
        results: list[dict[str, Any]] | None = None,
        exposed: bool = False,
    ) -> StepVerdict:
        """Decide one step, asking the user when its risk calls for it. Side-effect free apart
        from ``interrupt`` (see the module docstring). ``results`` are this turn's earlier tool
        results; ``exposed`` says the turn has taken in untrusted content by this step."""
        args = dict(step.get("args") or {})
        try:
            risk, reason, egress = await self.assess(step["tool"], args)
        except ToolCallRejected as rejection:
            return StepVerdict(args, "refused", str(rejection), "write")
        if egress and risk != "dangerous":
            leaked = carried_workspace_text(args, results or [], self.egress)
            if leaked is not None:
                risk, reason = (
                    "dangerous",
                    (
                        f"its arguments carry text read from the workspace this turn "
                        f"({leaked[:24]}...): that would send your data out"
                    ),
                )
        if risk == "dangerous":
            return StepVerdict(
                args,
                "refused",
                f"Refused without asking: {reason}. Dangerous actions are "
                "never run; find a safer way or tell the user what they could do themselves.",
                risk,
                egress,
            )
        if egress and exposed:
            reason = (
                f"{reason}; this turn has read untrusted content (a web page, search results or "
                "a quarantined tool result), and this call can send data out"
            )
        elif not needs_approval(risk, self.auto):
            return StepVerdict(args, "auto", risk=risk, egress=egress)
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
                return StepVerdict(args, "approved", risk=risk, egress=egress)
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
            screened = self.security.screen_tool_args(edited, egress=egress)
            if screened is not None and screened.startswith("injection"):
                problem = f"The edited arguments were not used: {screened}. Edit them again."
                continue  # the person may have pasted planted text: let them look again
            if screened is not None:
                return StepVerdict(
                    edited,
                    "refused",
                    f"Refused without asking: the edited arguments {screened.split(': ', 1)[1]}.",
                    "dangerous",
                )
            edited_risk, edited_reason, edited_egress = await self.assess(step["tool"], edited)
            if edited_risk == "dangerous":
                return StepVerdict(
                    edited,
                    "refused",
                    f"Refused without asking: {edited_reason}. Dangerous actions are never run.",
                    edited_risk,
                )
            return StepVerdict(edited, "edited", risk=edited_risk, egress=edited_egress)
        return StepVerdict(
            args,
            "rejected",
            f"The user's edited arguments were invalid {MAX_EDIT_ROUNDS} "
            f"times ({problem}); the call did not run.",
            risk,
        )

    async def gather(
        self, layers: list[list[dict[str, Any]]], results: list[dict[str, Any]] | None = None
    ) -> dict[str, StepVerdict]:
        """Every step's verdict, in plan order. ``results`` are the turn's earlier results."""
        verdicts: dict[str, StepVerdict] = {}
        stopped: set[str] = set()
        earlier = list(results or [])
        exposed = untrusted(earlier, self.egress)
        for layer in layers:
            for step in layer:
                if any(dep in stopped for dep in step.get("depends_on") or []):
                    stopped.add(step["id"])  # will be reported as skipped; don't ask
                    continue
                verdict = await self.judge(step, earlier, exposed)
                # A fetch, a search or a download in this plan brings untrusted content in
                # before later steps.
                exposed = exposed or verdict.egress
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
