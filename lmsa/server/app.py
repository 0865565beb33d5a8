"""The HTTP interface: a FastAPI app over one compiled assistant and its checkpointer.

``create_app(settings)`` is what ``lmsa serve`` runs (and what tests and host apps can mount);
the graph and checkpointer are opened in the app's lifespan, so importing this module costs no
connection. Routes live beside it: :mod:`.openai` (OpenAI-compatible), :mod:`.threads`
(threads, runs, resume), :mod:`.ops` (health, readiness, metrics) and :mod:`.web` (the chat
page at ``/``).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from lmsa.config import Settings, load_settings
from lmsa.observability.tracing import configure_tracing
from lmsa.server import lgapi
from lmsa.server.access import (
    authenticate_first,
    make_authenticator,
    make_rate_check,
    make_rate_limiter_dep,
    reject_unknown_query_params,
)
from lmsa.server.admission import TurnGate
from lmsa.server.docs import install_docs
from lmsa.server.errors import install_error_handlers, install_userinfo_filter, strip_userinfo
from lmsa.server.locks import ThreadLocks
from lmsa.server.middleware import (
    BodyLimitMiddleware,
    HostGuardMiddleware,
    RequestContextMiddleware,
)
from lmsa.server.state import ServerState
from lmsa.server.web import install_web
from lmsa.tools import ToolRegistry

log = logging.getLogger("lmsa.server")


def create_app(
    settings: Settings | None = None,
    *,
    llm: BaseChatModel | Runnable | None = None,
    tools: Iterable[BaseTool] | ToolRegistry | None = None,
    own_process: bool = False,
) -> FastAPI:
    """The API app. ``llm``/``tools`` replace LM Studio and the file tools (host apps, tests).
    ``own_process`` (``lmsa serve``) lets the app tune the process's garbage collector."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from lmsa.checkpoint.factory import describe_checkpointer, open_checkpointer
        from lmsa.graphs.builder import build_assistant, make_services

        configure_tracing()
        install_userinfo_filter()
        services = make_services(settings, llm=llm, tools=tools)
        async with (
            open_checkpointer(settings, prune=True) as checkpointer,
            lgapi.open_records(settings) as records,
        ):
            app.state.lgapi_records = records
            graph = build_assistant(services).compile(checkpointer=checkpointer, name="lmsa")
            app.state.lmsa = ServerState(
                settings=settings,
                services=services,
                graph=graph,
                checkpointer=checkpointer,
                gate=TurnGate(
                    settings.server_max_concurrent_turns, settings.server_turn_queue_timeout
                ),
                locks=ThreadLocks(
                    settings.redis_url if settings.checkpointer == "redis" else None,
                    key_prefix=settings.redis_key_prefix,
                    max_connections=settings.redis_max_connections,
                    pool_timeout=settings.redis_pool_timeout,
                ),
            )
            log.info(
                "lmsa API ready: LLM %s, store %s, auth %s",
                strip_userinfo(settings.base_url),
                strip_userinfo(describe_checkpointer(settings)),
                "on" if settings.api_keys else "off",
            )
            if own_process and settings.server_gc_threshold:
                tune_gc(settings.server_gc_threshold)
            try:
                yield
            finally:
                await app.state.lmsa.locks.aclose()
                await services.llm.aclose()

    app = FastAPI(
        title="lmsa",
        summary="A LangGraph assistant for local LLMs, over HTTP.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_docs(app)
    install_web(app)
    # Order: the request-context middleware is outermost, so 413s, 408s and refused hosts are
    # counted and logged too, and every answer carries the security headers.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout
    )
    app.add_middleware(lgapi.JsonBodyMiddleware)
    app.add_middleware(
        HostGuardMiddleware,
        allowed_hosts=None if settings.api_keys else settings.allowed_hosts,
        allowed_origins=settings.cors_origins,
    )
    lgapi.cors_middleware(app, settings)
    app.add_middleware(RequestContextMiddleware)

    from lmsa.server import openai as openai_routes
    from lmsa.server import ops, threads

    rate_check = make_rate_check(settings)
    guarded: list[Any] = []
    if settings.api_keys:
        # First, so an unknown query parameter is not answered before the key is checked.
        authenticate = make_authenticator(settings, rate_check)
        guarded.append(Depends(authenticate))
        app.state.identify = authenticate.identify  # type: ignore[attr-defined]
        app.state.authenticate_first = authenticate_first
        app.state.guarded_endpoints = {
            getattr(route, "endpoint", None)
            for router in (openai_routes.router, threads.router, *lgapi.routers())
            for route in router.routes
        }
    # The LangGraph API's clients send query parameters of their own (?subgraphs, ?xray);
    # langgraph-api ignores those it does not use, and so do its routes here.
    lenient = [*guarded, Depends(make_rate_limiter_dep(rate_check))]
    guarded.append(Depends(reject_unknown_query_params))
    guarded.append(Depends(make_rate_limiter_dep(rate_check)))

    app.include_router(ops.router)
    # Out of /openapi.json: that document describes lmsa's own API; these routes follow
    # LangGraph's (lenient bodies, its response shapes), documented by LangGraph.
    app.include_router(lgapi.info_router, include_in_schema=False)
    for router in lgapi.routers():
        app.include_router(router, dependencies=lenient, include_in_schema=False)
    app.include_router(openai_routes.router, dependencies=guarded)
    app.include_router(threads.router, dependencies=guarded)
    return app


def tune_gc(threshold: int) -> None:
    """Keep full garbage collections off the request path of a long-running server.

    With CPython's defaults a busy instance runs a collection every 700 net allocations, and the
    oldest generation, which holds every import, the compiled graph and (with the in-memory
    checkpointer) every thread, takes pauses long enough to leave the LLM's slots idle (see
    ``benchmarks/load.py``). ``gc.freeze()`` moves what exists at
    start-up out of the collector's sight for good, and a larger first threshold makes
    collections rarer; cyclic garbage is still collected."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(threshold, max(second, 50), max(third, 100))
    log.info(
        "garbage collector tuned: %d objects frozen, thresholds %s",
        gc.get_freeze_count(),
        gc.get_threshold(),
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lmstudio-assistant")
    except PackageNotFoundError:
        return "0"


def app_factory() -> FastAPI:
    """For ``uvicorn --factory lmsa.server.app:app_factory`` (and ``lmsa serve --workers N``):
    each worker process reads the environment itself."""
    from lmsa.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, own_process=True)
