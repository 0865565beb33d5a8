"""Embedding the lmsa assistant in your own LangGraph app, two ways.

(a) As a subgraph node: the host graph's state has ``messages`` (shared with the assistant) plus
    keys of its own (here ``customer_id``), which the assistant leaves alone. The assistant is
    compiled without a checkpointer, so it uses the host's: its clarification questions pause the
    host thread, and ``Command(resume={"answer": ...})`` on that thread continues it.
(b) As a tool: the compiled assistant becomes a ``BaseTool`` through ``Runnable.as_tool`` and a
    host ReAct-style agent calls it like any other tool. A tool call cannot ask the user back, so
    this copy runs without clarification rounds and without a checkpointer of its own.

Run ``python examples/embed_in_parent.py`` (offline, scripted fake models) or
``python examples/embed_in_parent.py --lmstudio`` (real models served by LM Studio, configured by
the usual ``LMSA_*`` settings).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import warnings
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from lmsa.config import Settings, load_settings
from lmsa.graphs.builder import build_assistant, make_services
from lmsa.testing import ScriptedChatModel

REQUEST = "What does notes.txt say?"
NOTES = "Ship the release on Friday."


class HostState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]  # shared with the assistant
    customer_id: str  # the host's own; the assistant never sees or touches it


# -- (a) the assistant as a subgraph node ------------------------------------------------------


def build_host_graph(
    settings: Settings, llm: BaseChatModel | None, checkpointer: BaseCheckpointSaver
) -> CompiledStateGraph:
    """``llm=None`` means LM Studio as configured by ``settings``."""
    assistant = build_assistant(make_services(settings, llm=llm))
    host = StateGraph(HostState)
    host.add_node("assistant", assistant.compile(name="lmsa"))  # runs on the host's checkpointer
    host.add_edge(START, "assistant")
    host.add_edge("assistant", END)
    return host.compile(checkpointer=checkpointer)


# -- (b) the assistant as a tool of a host agent -----------------------------------------------


class AskAssistant(BaseModel):
    request: str = Field(description="What the assistant should do, in plain words.")


def assistant_as_tool(settings: Settings, llm: BaseChatModel | None) -> BaseTool:
    no_questions = settings.model_copy(update={"max_clarify_rounds": 0})
    services = make_services(no_questions, llm=llm)
    assistant = build_assistant(services).compile(checkpointer=False, name="lmsa")
    to_input: RunnableLambda[dict[str, str], dict[str, Any]] = RunnableLambda(
        lambda args: {"messages": [HumanMessage(args["request"])]}
    )
    with warnings.catch_warnings():  # as_tool is marked beta in langchain-core
        warnings.filterwarnings("ignore", message="This API is in beta")
        return to_input.pipe(assistant, itemgetter("answer")).as_tool(
            AskAssistant,
            name="local_assistant",
            description="Reads, searches and edits files in the workspace and answers about them.",
        )


def build_host_agent(
    host_llm: BaseChatModel, tool: BaseTool, checkpointer: BaseCheckpointSaver
) -> CompiledStateGraph:
    model = host_llm.bind_tools([tool])

    async def agent(state: HostState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    host = StateGraph(HostState)
    host.add_node("agent", agent)
    host.add_node("tools", ToolNode([tool]))
    host.add_edge(START, "agent")
    host.add_conditional_edges("agent", tools_condition)
    host.add_edge("tools", "agent")
    return host.compile(checkpointer=checkpointer)


# -- running both ------------------------------------------------------------------------------


def offline_assistant_model() -> ScriptedChatModel:
    """The assistant's replies: intent, a one-step plan, then the answer (a question answered
    by a successful read needs no self-check call)."""
    return ScriptedChatModel(
        script={
            "IntentResult": [
                {
                    "reasoning": "Read a file.",
                    "intent": "information_request",
                    "confidence": 0.95,
                    "entities": ["notes.txt"],
                    "language": "en",
                }
            ],
            "Plan": [
                {
                    "reasoning": "Read it.",
                    "answer_directly": False,
                    "steps": [{"id": "s1", "tool": "read_file", "args": {"path": "notes.txt"}}],
                }
            ],
            "text": [f"notes.txt says: {NOTES}"],
        }
    )


def offline_host_model() -> ScriptedChatModel:
    """The host agent's replies: call the assistant's tool once, then pass on what it said."""
    call = {"name": "local_assistant", "args": {"request": REQUEST}, "id": "call_1"}
    return ScriptedChatModel(
        script={"text": [AIMessage(content="", tool_calls=[call]), f"Your notes: {NOTES}"]}
    )


async def lmstudio_host_model(settings: Settings) -> BaseChatModel:
    from lmsa.config import EndpointSettings
    from lmsa.llm.clients import make_chat_openai
    from lmsa.llm.provider import LLMProvider

    endpoint = EndpointSettings(base_url=settings.base_url, api_key=settings.api_key)
    return make_chat_openai(endpoint, await LLMProvider(settings).model_name(), settings)


async def run_subgraph(settings: Settings, llm: BaseChatModel | None) -> dict[str, Any]:
    host = build_host_graph(settings, llm, InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "host-subgraph"}}
    return await host.ainvoke(
        {"messages": [HumanMessage(REQUEST)], "customer_id": "cust-42"}, config
    )


async def run_tool(
    settings: Settings, llm: BaseChatModel | None, host_llm: BaseChatModel
) -> dict[str, Any]:
    host = build_host_agent(host_llm, assistant_as_tool(settings, llm), InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "host-tool"}}
    return await host.ainvoke(
        {"messages": [HumanMessage(REQUEST)], "customer_id": "cust-42"}, config
    )


def show(title: str, state: dict[str, Any]) -> None:
    print(f"== {title} (customer_id={state.get('customer_id')})")
    for message in state["messages"]:
        calls = getattr(message, "tool_calls", None)
        text = f"calls {calls[0]['name']}({calls[0]['args']})" if calls else message.content
        print(f"  {message.type:>5}: {text}")


async def main(lmstudio: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        (workspace / "notes.txt").write_text(NOTES + "\n", encoding="utf-8")
        llm: BaseChatModel | None
        if lmstudio:  # llm=None: the assistant talks to LM Studio itself
            settings, llm = load_settings(workspace=workspace), None
            host_llm = await lmstudio_host_model(settings)
        else:
            settings, llm = Settings(workspace=workspace), offline_assistant_model()
            host_llm = offline_host_model()
        show("(a) assistant as a subgraph node", await run_subgraph(settings, llm))
        show("(b) assistant as a tool of a host agent", await run_tool(settings, llm, host_llm))


def run(lmstudio: bool) -> int:
    """Runs the example; an expected failure (no LM Studio, a bad setting) is one sentence on
    stderr and exit status 2, as in the ``lmsa`` CLI."""
    from lmsa.config import ConfigError
    from lmsa.turns import describe_failure

    try:
        asyncio.run(main(lmstudio))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        message = describe_failure(error, load_settings()) if lmstudio else None
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Embed lmsa in a host LangGraph app.")
    parser.add_argument("--lmstudio", action="store_true", help="use LM Studio, not fakes")
    sys.exit(run(parser.parse_args().lmstudio))
