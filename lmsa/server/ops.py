"""Operational endpoints: liveness, readiness and Prometheus metrics. Never rate-limited or
behind the API key, so load balancers and Prometheus need no secret."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from lmsa.observability.metrics import ENDPOINT_HEALTHY, READY_CHECK, render, render_content_type
from lmsa.redis_clients import cluster_problems
from lmsa.server.errors import strip_userinfo
from lmsa.server.schemas import CheckResult, Health, Readiness
from lmsa.server.state import ServerState, server_state

router = APIRouter(tags=["operations"])

State = Annotated[ServerState, Depends(server_state)]


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The LLM endpoint has a model loaded and the conversation store answers",
    responses={503: {"model": Readiness, "description": "Not ready; `reasons` say why."}},
)
async def ready(state: State, request: Request) -> JSONResponse:
    cached = state.ready_cache
    now = time.monotonic()
    if cached is not None and now - cached[0] < state.settings.ready_cache_seconds:
        readiness = cached[1]
    else:
        checks = dict(
            zip(
                ("llm", "checkpointer"),
                await asyncio.gather(_check_llm(state), _check_store(state)),
                strict=True,
            )
        )
        checks = {
            name: CheckResult(ok=check.ok, detail=strip_userinfo(check.detail), public=check.public)
            for name, check in checks.items()
        }
        for name, check in checks.items():
            READY_CHECK.labels(check=name).set(1 if check.ok else 0)
        reasons = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
        readiness = Readiness(
            status="not_ready" if reasons else "ready", reasons=reasons, checks=checks
        )
        state.ready_cache = (now, readiness)
    status = 200 if readiness.status == "ready" else 503
    keys = state.settings.api_keys
    # Without keys the server binds loopback only, unless opened on purpose: then nobody is known.
    authenticated = offers_valid_key(request, keys) if keys else not state.settings.allow_open
    if not authenticated:
        readiness = public_view(readiness)
    return JSONResponse(readiness.model_dump(), status_code=status)


def offers_valid_key(request: Request, keys: list[str]) -> bool:
    """Whether the caller sent one of the API keys (as Bearer or X-API-Key); /ready never
    requires one, it only shows more to a caller who has one."""
    auth = request.headers.get("authorization", "")
    offered = request.headers.get("x-api-key") or (
        auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    )
    return bool(offered) and any(hmac.compare_digest(offered.encode(), k.encode()) for k in keys)


def public_view(readiness: Readiness) -> Readiness:
    """What an anonymous caller may see: which checks pass and the endpoints' names, not the
    URLs, models or store address in their details."""
    checks = {
        name: CheckResult(ok=check.ok, detail=check.public or ("ok" if check.ok else "failing"))
        for name, check in readiness.checks.items()
    }
    reasons = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
    return Readiness(status=readiness.status, reasons=reasons, checks=checks)


async def _check_llm(state: ServerState) -> CheckResult:
    """Ready when at least one configured endpoint answers with a usable model (the router
    falls back to it); the detail names every endpoint that does not."""
    from lmsa.llm.endpoints import build_endpoints, probe_endpoint

    settings = state.settings
    if getattr(state.services.llm, "_custom", None) is not None:
        return CheckResult(ok=True, detail="host-supplied chat model")
    endpoints = build_endpoints(settings)
    probes = await asyncio.gather(
        *(probe_endpoint(e.base_url, e.api_key, settings.connect_timeout) for e in endpoints)
    )
    good: list[str] = []
    problems: list[str] = []
    public: list[str] = []
    for endpoint, probe in zip(endpoints, probes, strict=True):
        ENDPOINT_HEALTHY.labels(endpoint=endpoint.name).set(1 if probe.reachable else 0)
        available = probe.loaded if probe.loaded is not None else probe.models
        if not probe.reachable:
            problems.append(f"{endpoint.base_url} unreachable ({probe.error})")
            public.append(f"{endpoint.name} unreachable")
        elif not available:
            problems.append(f"{endpoint.base_url} has no model loaded")
            public.append(f"{endpoint.name} has no model loaded")
        elif endpoint.model and probe.loaded is not None and endpoint.model not in probe.loaded:
            problems.append(f"{endpoint.base_url} has not loaded {endpoint.model}")
            public.append(f"{endpoint.name} has not loaded its model")
        else:
            good.append(f"{endpoint.base_url} serves {', '.join(available)}")
            public.append(f"{endpoint.name} ok")
    return CheckResult(ok=bool(good), detail="; ".join(good + problems), public="; ".join(public))


async def _check_store(state: ServerState) -> CheckResult:
    from lmsa.checkpoint.factory import describe_checkpointer

    where = describe_checkpointer(state.settings)
    timeout = max(state.settings.connect_timeout, 0.5)
    # A cluster with one primary down still answers for keys on the others: ask every one.
    problems = await cluster_problems(getattr(state.checkpointer, "client", None), timeout)
    if problems:
        return CheckResult(ok=False, detail=f"{where} failed: {'; '.join(problems)}")
    try:
        await asyncio.wait_for(
            state.checkpointer.aget_tuple(
                {"configurable": {"thread_id": "__lmsa_ready__", "checkpoint_ns": ""}}
            ),
            timeout=timeout,
        )
    except Exception as error:
        return CheckResult(
            ok=False,
            detail=f"{where} failed: {type(error).__name__}: {error}",
            public=f"{state.settings.checkpointer} store failing",
        )
    return CheckResult(
        ok=True, detail=f"{where} answers", public=f"{state.settings.checkpointer} ok"
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(render(), media_type=render_content_type())
