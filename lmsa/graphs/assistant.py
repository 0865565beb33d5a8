"""The assistant graph as ``langgraph dev`` / Studio loads it (``lmsa.graphs.assistant:graph``).

``builder`` is the uncompiled graph and ``graph`` the compiled one WITHOUT a checkpointer (the
LangGraph server persists threads itself, see ``langgraph.json``), both built at import from the
environment's ``LMSA_*`` settings. Building touches no network: the model is resolved on the
first LLM call. Applications should prefer :func:`lmsa.create_assistant` or
:func:`build_assistant` with their own settings and checkpointer.
"""

from __future__ import annotations

from lmsa.graphs.builder import build_assistant, create_assistant, make_services

__all__ = ["build_assistant", "builder", "create_assistant", "graph", "make_services"]

builder = build_assistant(make_services())
graph = builder.compile(name="lmsa")
