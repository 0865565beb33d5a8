"""Where the assistant goes after each decision point. Routers only read state and context;
the nodes before them record what they found. They are ``async`` although they never await:
LangGraph runs a sync function in a worker thread, which costs more than the routing itself."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes.intent import is_unsure
from lmsa.state import AssistantState


class Routes:
    """Routers bound to the graph's services (for default context values)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def after_guard(self, state: AssistantState) -> Literal["classify_intent", "respond"]:
        return "respond" if state.get("error") else "classify_intent"

    async def after_intent(
        self, state: AssistantState, runtime: Runtime
    ) -> Literal["clarify", "plan", "respond"]:
        intent = state.get("intent")
        if state.get("error") or intent is None:
            return "respond"
        context = self._services.context_of(runtime.context)
        rounds = state.get("clarification_rounds", 0)
        if is_unsure(intent, context) and rounds < context.max_clarify_rounds:
            return "clarify"
        if intent.get("intent") == "conversation":
            return "respond"
        return "plan"

    async def after_plan(self, state: AssistantState) -> Literal["execute", "plan", "respond"]:
        if state.get("error"):
            return "respond"
        plan = state.get("plan")
        if plan is None:
            return "plan"
        return "execute" if plan.get("steps") else "respond"

    async def after_validate(
        self, state: AssistantState, runtime: Runtime
    ) -> Literal["plan", "respond"]:
        validation = state.get("validation")
        if validation is None or validation.get("complete"):
            return "respond"
        context = self._services.context_of(runtime.context)
        return "plan" if state.get("iteration", 0) < context.max_iterations else "respond"
