"""Where the assistant goes after each decision point. Routers only read state and context;
the nodes before them record what they found. They are ``async`` although they never await:
LangGraph runs a sync function in a worker thread, which costs more than the routing itself."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes._common import last_user_text
from lmsa.nodes.intent import ACTION_INTENTS, is_unsure
from lmsa.state import AssistantState


class Routes:
    """Routers bound to the graph's services (for default context values)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def after_guard(self, state: AssistantState) -> Literal["classify_intent", "respond"]:
        return "respond" if state.get("error") else "classify_intent"

    async def after_clarify(self, state: AssistantState) -> Literal["classify_intent", "respond"]:
        # A refused answer ends the turn with the refusal, as a refused message does.
        return "respond" if state.get("error") else "classify_intent"

    async def after_intent(
        self, state: AssistantState, runtime: Runtime
    ) -> Literal["clarify", "plan", "respond"]:
        intent = state.get("intent")
        if state.get("error") or intent is None:
            return "respond"
        context = self._services.context_of(runtime.context)
        rounds = state.get("clarification_rounds", 0)
        workspace = state.get("workspace")
        message = last_user_text(state["messages"])
        if is_unsure(intent, context, workspace, message) and rounds < context.max_clarify_rounds:
            return "clarify"
        if intent.get("intent") == "conversation" and not (
            workspace and (workspace.get("mentioned_paths") or workspace.get("named_files"))
        ):
            # A message that names a file (in the workspace or one to create) is about it.
            return "respond"
        return "plan"

    async def after_plan(
        self, state: AssistantState
    ) -> Literal["clarify", "execute", "plan", "respond"]:
        if state.get("error"):
            return "respond"
        if state.get("question"):
            return "clarify"  # the plan would change files the user did not name
        plan = state.get("plan")
        if plan is None:
            return "plan"
        return "execute" if plan.get("steps") else "respond"

    async def after_execute(
        self, state: AssistantState, runtime: Runtime
    ) -> Literal["plan", "validate", "respond"]:
        """A round of read-only steps that all succeeded has the answer in its results: checking
        it would cost a model call and cannot change what was read (``validate_reads`` turns
        the check on anyway). A request labelled as an action is checked even then, since
        reading may be only its first step; so is anything that wrote, failed or was refused.
        (``file_operation`` covers reads and writes alike, so it does not count as an action:
        a plan for a change would contain the change.) After the grounding reads the model
        plans next, whatever they returned."""
        if (state.get("plan") or {}).get("grounding"):
            return "plan"  # the files the request names were read; now the model plans
        iteration = state.get("iteration", 0)
        results = [
            r for r in state.get("results") or [] if r.get("iteration", iteration) == iteration
        ]
        tools = self._services.tools
        if self._services.context_of(runtime.context).validate_reads:
            return "validate"
        intent = (state.get("intent") or {}).get("intent")
        if (
            intent not in ACTION_INTENTS
            and results
            and all(
                r.get("ok") and r.get("tool") in tools and tools.risk(r["tool"]) == "read"
                for r in results
            )
        ):
            return "respond"
        return "validate"

    async def after_validate(
        self, state: AssistantState, runtime: Runtime
    ) -> Literal["plan", "respond"]:
        validation = state.get("validation")
        if validation is None or validation.get("complete"):
            return "respond"
        context = self._services.context_of(runtime.context)
        return "plan" if state.get("iteration", 0) < context.max_iterations else "respond"
