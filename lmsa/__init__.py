"""lmsa: a LangGraph assistant for local LLMs served by LM Studio.

Embed it with :func:`create_assistant` (compiled) or
:func:`lmsa.graphs.builder.build_assistant` (uncompiled builder).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsa.graphs.builder import create_assistant

__all__ = ["create_assistant"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import lmsa` (and the CLI's --help) does not pay for LangGraph's import.
    if name == "create_assistant":
        from lmsa.graphs.builder import create_assistant

        return create_assistant
    raise AttributeError(name)
