"""Builds a built-in tool from a function over its validated arguments.

Every built-in tool is a :class:`StructuredTool` with the same shape: its function receives the
arguments as the validated pydantic model, it has both a sync and an async entry point, and
failures reach the executor as :class:`~langchain_core.tools.ToolException`
(``handle_tool_error=False``) so the executor alone decides how a failure becomes an observation.
Re-validating inside keeps the defaults in one place (the schema) whether the tool is invoked
through LangChain, which passes only the arguments the caller gave, or called directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

from lmsa.tools.registry import RiskLevel

Args = TypeVar("Args", bound=BaseModel)


def make_tool(
    *,
    name: str,
    description: str,
    schema: type[Args],
    capability: str,
    risk: RiskLevel,
    run: Callable[[Args], str] | None = None,
    arun: Callable[[Args], Awaitable[str]] | None = None,
    **metadata: Any,
) -> BaseTool:
    """A tool named ``name`` whose arguments are ``schema``, implemented by exactly one of
    ``run`` (blocking: the async entry point runs it in a thread, which keeps the event loop and
    the HTTP server responsive) or ``arun`` (a coroutine: the sync entry point runs its own
    loop). ``capability`` and ``risk`` are what the registry reads; further keywords (``assess``,
    ``fingerprint``, ``max_seconds`` ...) go into ``tool.metadata`` after them."""
    if run is not None and arun is None:
        blocking = run

        def func(**kwargs: Any) -> str:
            return blocking(schema.model_validate(kwargs))

        async def coroutine(**kwargs: Any) -> str:
            return await asyncio.to_thread(func, **kwargs)

    elif arun is not None and run is None:
        waiting = arun

        async def coroutine(**kwargs: Any) -> str:
            return await waiting(schema.model_validate(kwargs))

        def func(**kwargs: Any) -> str:
            return asyncio.run(coroutine(**kwargs))

    else:
        raise TypeError(f"Tool {name!r} needs exactly one of run or arun.")

    return StructuredTool.from_function(
        func=func,
        coroutine=coroutine,
        name=name,
        description=description,
        args_schema=schema,
        infer_schema=False,
        metadata={"capability": capability, "risk": risk, **metadata},
        handle_tool_error=False,
    )
