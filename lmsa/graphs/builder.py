"""Assembles the assistant graph: guard -> classify_intent -> [clarify] -> plan -> execute ->
validate -> respond, with bounded loops back to clarify and plan.

Library functions return the uncompiled builder or compile with the caller's checkpointer; the
module-level graph for ``langgraph dev`` lives in :mod:`lmsa.graphs.assistant`, so interfaces
that import this module do not pay for building it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from lmsa.config import Settings, load_settings
from lmsa.context import Context, Services
from lmsa.graphs.routing import Routes
from lmsa.llm.provider import LLMProvider
from lmsa.nodes.clarify import make_clarify
from lmsa.nodes.execute import make_execute
from lmsa.nodes.guard import make_guard
from lmsa.nodes.intent import make_classify_intent
from lmsa.nodes.plan import make_plan
from lmsa.nodes.respond import make_respond
from lmsa.nodes.validate import make_validate
from lmsa.state import AssistantState, InputState, OutputState
from lmsa.tools import ToolRegistry, build_registry


def make_services(
    settings: Settings | None = None,
    *,
    llm: BaseChatModel | Runnable | None = None,
    tools: Iterable[BaseTool] | ToolRegistry | None = None,
    notify: Callable[[str], None] | None = None,
) -> Services:
    """The services the nodes use. ``notify`` receives one-line notices meant for the person
    at the interface (e.g. that the embedded model now answers)."""
    settings = settings or load_settings()
    if tools is None:
        registry = build_registry(settings)
    elif isinstance(tools, ToolRegistry):
        registry = tools
    else:
        registry = ToolRegistry(tools)
    return Services(
        settings=settings, llm=LLMProvider(settings, chat_model=llm, notify=notify), tools=registry
    )


def build_assistant(
    services: Services,
) -> StateGraph[AssistantState, Context, InputState, OutputState]:
    """The uncompiled assistant graph for these services."""
    routes = Routes(services)
    builder = StateGraph(
        AssistantState,
        context_schema=Context,
        input_schema=InputState,
        output_schema=OutputState,
    )
    builder.add_node("guard", make_guard(services))
    builder.add_node("classify_intent", make_classify_intent(services))
    builder.add_node("clarify", make_clarify(services))
    builder.add_node("plan", make_plan(services))
    builder.add_node("execute", make_execute(services))
    builder.add_node("validate", make_validate(services))
    builder.add_node("respond", make_respond(services))

    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", routes.after_guard)
    builder.add_conditional_edges("classify_intent", routes.after_intent)
    builder.add_conditional_edges("clarify", routes.after_clarify)
    builder.add_conditional_edges("plan", routes.after_plan)
    builder.add_conditional_edges("execute", routes.after_execute)
    builder.add_conditional_edges("validate", routes.after_validate)
    builder.add_edge("respond", END)
    return builder


def create_assistant(
    settings: Settings | None = None,
    *,
    checkpointer: BaseCheckpointSaver | None = None,
    llm: BaseChatModel | Runnable | None = None,
    tools: Iterable[BaseTool] | ToolRegistry | None = None,
) -> CompiledStateGraph[AssistantState, Context, InputState, OutputState]:
    """A compiled assistant. Pass ``llm`` to use any LangChain chat model instead of LM Studio,
    ``tools`` to replace the default tools (:func:`lmsa.tools.build_registry`), and
    ``checkpointer`` to persist threads (needed for clarification and approval interrupts)."""
    services = make_services(settings, llm=llm, tools=tools)
    return build_assistant(services).compile(checkpointer=checkpointer, name="lmsa")
