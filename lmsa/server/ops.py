"""Operational endpoints: liveness, readiness and Prometheus metrics. Never rate-limited or
behind the API key, so load balancers and Prometheus need no secret."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from lmsa.observability.metrics import ENDPOINT_HEALTHY, render, render_content_type
from lmsa.server.app import ServerState, server_state
from lmsa.server.schemas import CheckResult, Health, Readiness

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
async def ready(state: State) -> JSONResponse:
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
        reasons = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
        readiness = Readiness(
            status="not_ready" if reasons else "ready", reasons=reasons, checks=checks
        )
        state.ready_cache = (now, readiness)
    return JSONResponse(
        readiness.model_dump(), status_code=200 if readiness.status == "ready" else 503
    )


async def _check_llm(state: ServerState) -> CheckResult:
    from lmsa.llm.models import probe_endpoint

    settings = state.settings
    if getattr(state.services.llm, "_custom", None) is not None:
        return CheckResult(ok=True, detail="host-supplied chat model")
    probe = await probe_endpoint(settings.base_url, settings.api_key, settings.connect_timeout)
    ENDPOINT_HEALTHY.labels(endpoint=settings.base_url).set(1 if probe.reachable else 0)
    if not probe.reachable:
        return CheckResult(ok=False, detail=f"{settings.base_url} unreachable ({probe.error})")
    available = probe.loaded if probe.loaded is not None else probe.models
    if not available:
        return CheckResult(ok=False, detail=f"{settings.base_url} has no model loaded")
    if settings.model and probe.loaded is not None and settings.model not in probe.loaded:
        return CheckResult(
            ok=False, detail=f"{settings.base_url} has not loaded LMSA_MODEL={settings.model}"
        )
    return CheckResult(ok=True, detail=f"{settings.base_url} serves {', '.join(available)}")


async def _check_store(state: ServerState) -> CheckResult:
    from lmsa.checkpoint.factory import describe_checkpointer

    where = describe_checkpointer(state.settings)
    try:
        await asyncio.wait_for(
            state.checkpointer.aget_tuple(
                {"configurable": {"thread_id": "__lmsa_ready__", "checkpoint_ns": ""}}
            ),
            timeout=max(state.settings.connect_timeout, 0.5),
        )
    except Exception as error:
        return CheckResult(ok=False, detail=f"{where} failed: {type(error).__name__}: {error}")
    return CheckResult(ok=True, detail=f"{where} answers")


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(render(), media_type=render_content_type())
