"""The HTTP API (``lmsa serve``): OpenAI-compatible chat completions, threads and runs with
streaming, health/readiness/metrics. Build it with :func:`create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsa.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import lmsa.server` does not import FastAPI and LangGraph.
    if name == "create_app":
        from lmsa.server.app import create_app

        return create_app
    raise AttributeError(name)
