"""``lmsa doctor``: every check a first run depends on, each failure with its fix."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.table import Table

from lmsa.config import Settings

if TYPE_CHECKING:
    from lmsa.llm.endpoints import EndpointProbe

Status = Literal["OK", "WARN", "FAIL"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


async def run_checks(settings: Settings) -> list[Check]:
    from lmsa.llm.endpoints import HealthMonitor, build_endpoints

    endpoints = build_endpoints(settings)
    # The same health check the router runs in the background, once, for every endpoint.
    monitor = HealthMonitor(endpoints, interval=0, timeout=settings.connect_timeout)
    probes = await monitor.check_once()
    local = await asyncio.to_thread(_local_model_check, settings)
    # A failing endpoint is only fatal when nothing else can answer: the router falls back, last
    # of all to the embedded model when ``lmsa chat``/``ask`` may use it.
    embedded_answers = (
        local is not None and local.status == "OK" and (settings.local_fallback or "auto") == "auto"
    )
    any_serving = any(_serves(probe) for probe in probes) or embedded_answers
    # Equal priorities are tried in configuration order, so the rank, not the number, is news.
    ranked = sorted(endpoints, key=lambda e: (e.priority, e.order))
    checks: list[Check] = []
    for index, (endpoint, probe) in enumerate(zip(endpoints, probes, strict=True)):
        if index == 0:
            label = "LLM endpoint"
        elif settings.endpoints:
            label = f"Endpoint {endpoint.name}"
        else:
            label = f"Fallback {index}"
        required = index == 0 and not any_serving
        checks += _llm_checks(probe, endpoint.model, label, required=required)
        rank = (ranked.index(endpoint) + 1, len(endpoints))
        checks.append(_routing_check(endpoint, label, settings, rank, any_serving))
    checks.append(await _checkpointer_check(settings))
    checks.append(_workspace_check(settings))
    if local is not None:
        checks.append(local)
    return checks


def _local_model_check(settings: Settings) -> Check | None:
    """The embedded model and the CPU mode llama.cpp runs it in; None without the [local]
    extra (it is optional, so its absence is no finding)."""
    from lmsa.local.cpu import choose_cpu_mode
    from lmsa.local.model import LocalModelUnavailable, missing_extra, resolve_model_path

    if missing_extra():
        return None
    name = "Embedded model (--local, fallback)"
    # ``lmsa chat``/``ask`` default: the embedded model answers when every endpoint fails.
    fallback = settings.local_fallback or "auto"
    role = (
        "last fallback of lmsa chat/ask (LMSA_LOCAL_FALLBACK=off turns it off)"
        if fallback == "auto"
        else "no fallback (LMSA_LOCAL_FALLBACK=off)"
    )
    try:
        path = resolve_model_path(settings.local_model, settings.local_cache_dir)
        verdict = choose_cpu_mode(path, settings.local_cpu_mode, settings.local_cache_dir)
    except LocalModelUnavailable as error:
        return Check(
            name, "WARN", str(error), "Only needed for --local, the fallback and local-server."
        )
    return Check(name, "OK", f"{path.name}; CPU mode {verdict.describe()}; {role}")


def _serves(probe: EndpointProbe) -> bool:
    # ``loaded`` is None when the server is not LM Studio and cannot tell: it may serve.
    return bool(probe.reachable and probe.models and (probe.loaded is None or probe.loaded))


def _routing_check(
    endpoint: Any, label: str, settings: Settings, rank: tuple[int, int], any_serving: bool
) -> Check:
    """What the router knows about the endpoint after the health check."""
    probe = endpoint.last_probe
    window = f"{endpoint.context_window:,} tokens" if endpoint.context_window else "unknown"
    detail = (
        f"{'healthy' if endpoint.healthy else 'unhealthy'}"
        f"{f' ({probe.seconds * 1000:.0f} ms)' if probe else ''}; "
        f"roles {', '.join(sorted(endpoint.roles))}; "
        f"tried {rank[0]} of {rank[1]} (priority {endpoint.priority}); "
        f"{endpoint.max_concurrency} slots; context window {window}; "
        f"strategy {settings.routing_strategy}"
        + ("; state shared via Redis" if settings.llm_shared_redis_url else "")
    )
    if endpoint.healthy:
        fix = ""
    elif rank[1] == 1:
        fix = "It is the only endpoint: calls fail until it is fixed (see above)."
    elif any_serving:
        fix = "Calls go to the other endpoints first until it recovers."
    else:
        fix = "No endpoint answers: calls fail until one does (fixes above)."
    return Check(f"{label} routing", "OK" if endpoint.healthy else "WARN", detail, fix)


def _llm_checks(
    probe: EndpointProbe,
    model: str | None,
    label: str,
    *,
    required: bool = True,
) -> list[Check]:
    from lmsa.llm.errors import no_model_message, not_reachable_message

    base_url = probe.base_url
    bad: Status = "FAIL" if required else "WARN"
    if not probe.reachable:
        return [
            Check(
                f"{label} reachable",
                bad,
                f"{base_url}: {probe.error}",
                not_reachable_message(base_url, probe.error or "no answer"),
            )
        ]
    checks = [Check(f"{label} reachable", "OK", base_url)]
    if probe.models:
        checks.append(Check(f"{label} models listed", "OK", ", ".join(probe.models[:5])))
    else:
        checks.append(
            Check(
                f"{label} models listed",
                bad,
                "the server lists no models",
                "Download a model in LM Studio (or `lms get <model>`).",
            )
        )
    if probe.loaded is None:
        checks.append(
            Check(
                f"{label} model loaded",
                "WARN",
                "not an LM Studio server (no /api/v0/models); cannot tell",
                "",
            )
        )
    elif probe.loaded:
        checks.append(Check(f"{label} model loaded", "OK", ", ".join(probe.loaded)))
    else:
        checks.append(
            Check(f"{label} model loaded", bad, "no model is loaded", no_model_message(base_url))
        )
    if model:
        known = model in probe.models
        checks.append(
            Check(
                f"{label} model {model!r}",
                "OK" if known else "WARN",
                "listed by the server" if known else "not listed by the server",
                "" if known else "Check LMSA_MODEL against the listed models.",
            )
        )
    return checks


async def _checkpointer_check(settings: Settings) -> Check:
    from lmsa.checkpoint.factory import describe_checkpointer, open_checkpointer
    from lmsa.redis_clients import cluster_problems

    description = describe_checkpointer(settings)
    try:
        async with open_checkpointer(settings) as saver:
            # A cluster with one primary down still answers for keys on the others.
            timeout = max(settings.connect_timeout, 0.5)
            if problems := await cluster_problems(getattr(saver, "client", None), timeout):
                raise RuntimeError("; ".join(problems))
            await saver.aget_tuple(
                {"configurable": {"thread_id": "lmsa-doctor", "checkpoint_ns": ""}}
            )
    except Exception as error:
        return Check(
            "Conversation store",
            "FAIL",
            f"{description}: {error}",
            "Fix the store named above, or set LMSA_CHECKPOINTER=memory to try "
            "without persistence.",
        )
    status: Status = "WARN" if settings.checkpointer == "memory" else "OK"
    return Check(
        "Conversation store",
        status,
        description,
        "Set LMSA_CHECKPOINTER=sqlite to keep threads." if status == "WARN" else "",
    )


def _workspace_check(settings: Settings) -> Check:
    import os

    root = settings.workspace
    if not root.is_dir():
        return Check(
            "Workspace",
            "FAIL",
            f"{root} is not a directory",
            "Set LMSA_WORKSPACE to an existing folder.",
        )
    if not os.access(root, os.W_OK):
        return Check("Workspace", "WARN", f"{root} is read-only", "File edits will fail.")
    return Check("Workspace", "OK", str(root))


def show(checks: list[Check], console: Console) -> None:
    table = Table(title="lmsa doctor", show_lines=False)
    for column in ("Check", "Status", "Detail", "Fix"):
        table.add_column(column, overflow="fold")
    colours = {"OK": "green", "WARN": "yellow", "FAIL": "red"}
    for check in checks:
        table.add_row(
            check.name, f"[{colours[check.status]}]{check.status}[/]", check.detail, check.fix
        )
    console.print(table)
