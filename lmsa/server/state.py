"""What every request handler needs, one per process (per uvicorn worker), and the FastAPI
dependency that hands it to them. Kept apart from :mod:`.app` so route modules need not import
the module that includes them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from lmsa.config import Settings
from lmsa.context import Services
from lmsa.server.admission import TurnGate
from lmsa.server.locks import ThreadLocks
from lmsa.server.schemas import Readiness


@dataclass
class ServerState:
    """What every request handler needs; one per process (per uvicorn worker)."""

    settings: Settings
    services: Services
    graph: CompiledStateGraph[Any, Any, Any, Any]
    checkpointer: BaseCheckpointSaver
    locks: ThreadLocks = field(default_factory=ThreadLocks)
    gate: TurnGate = field(default_factory=lambda: TurnGate(0, 1.0))
    started: float = field(default_factory=time.time)
    ready_cache: tuple[float, Readiness] | None = None

    @property
    def endpoint(self) -> str:
        return self.settings.base_url


async def server_state(request: Request) -> ServerState:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and that
    hop (waiting for the GIL behind the event loop) cost every request milliseconds."""
    return request.app.state.lmsa  # type: ignore[no-any-return]
