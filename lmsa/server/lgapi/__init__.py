"""The subset of the LangGraph Server API that LangGraph Studio, agent-chat-ui, langgraph_sdk
and RemoteGraph use, at the root path beside ``/v1``, on the same graph, checkpointer, locks,
guards, API keys, rate limits and tenancy.

Routes: ``GET /info``, ``GET /ok``; assistants (:mod:`.assistants`); threads and their state
(:mod:`.threads`); runs (:mod:`.runs`). Thread records live in :mod:`.records`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from lmsa.config import Settings
from lmsa.server.lgapi import assistants, runs, threads
from lmsa.server.lgapi.records import open_records

__all__ = [
    "PATHS",
    "JsonBodyMiddleware",
    "cors_middleware",
    "info_router",
    "open_records",
    "routers",
]

PATHS = ("/threads", "/runs", "/assistants")
"""Path prefixes of the API's guarded routes (bodies may come as text/plain there)."""

info_router = APIRouter(tags=["langgraph"])


@info_router.get("/info")
async def info() -> dict[str, Any]:
    """What the server is; unauthenticated, like langgraph-api's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        langgraph = version("langgraph")
    except PackageNotFoundError:  # pragma: no cover
        langgraph = None
    return {
        "version": _version(),
        "langgraph_py_version": langgraph,
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None},
    }


@info_router.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lmstudio-assistant")
    except PackageNotFoundError:  # pragma: no cover
        return "0"


def routers() -> list[APIRouter]:
    """The guarded routers (API keys, rate limits)."""
    return [assistants.router, threads.router, runs.router]


class JsonBodyMiddleware:
    """Reads a ``text/plain`` (or untyped) body on the API's routes as JSON: browsers send
    JSON that way to avoid a CORS preflight, and langgraph-api accepts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PATCH", "PUT")
            and scope["path"].startswith(PATHS)
        ):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            declared = dict(scope["headers"]).get(b"content-type", b"")
            if declared.split(b";")[0].strip().lower() in (b"", b"text/plain"):
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def cors_middleware(app: FastAPI, settings: Settings) -> None:
    """CORS for the browser UIs listed in ``LMSA_CORS_ORIGINS`` (Studio's page on
    smith.langchain.com, a local agent-chat-ui), with Chrome's private-network preflight
    answered so a public page may call a server on loopback."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        allow_private_network=True,
        expose_headers=["Content-Location", "Location", "X-Request-Id"],
    )
