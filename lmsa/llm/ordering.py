"""Endpoint order for one call: the role's endpoints sorted by the routing strategy, then the
rest; and the walk over them that skips open breakers and windows known to be too small."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence

from langchain_core.messages import BaseMessage

from lmsa.llm.admission import Admission
from lmsa.llm.complexity import MAIN, approx_tokens
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.errors import Attempt, ContextTooLong, ErrorKind
from lmsa.llm.queue import SlotQueue
from lmsa.llm.request import Request
from lmsa.llm.trimming import trim_history
from lmsa.observability.metrics import LLM_FALLBACKS


def order_endpoints(
    endpoints: Sequence[Endpoint],
    role: str,
    strategy: str,
    rotation: Iterator[int],
    slots: Mapping[str, SlotQueue],
) -> list[Endpoint]:
    usable = [e for e in endpoints if e.resolved_model]
    group = [e for e in usable if role in e.roles] or [e for e in usable if MAIN in e.roles]
    group = group or usable
    rest = sorted((e for e in usable if e not in group), key=_by_priority)
    if strategy == "round_robin" and group:
        group = sorted(group, key=_by_priority)
        shift = next(rotation) % len(group)
        group = group[shift:] + group[:shift]
    elif strategy == "least_busy":
        group = sorted(group, key=lambda e: (slots[e.name].load, *_by_priority(e)))
    elif strategy == "latency":
        group = sorted(group, key=lambda e: (e.latency_ewma or 0.0, *_by_priority(e)))
    elif strategy == "cost":
        group = sorted(group, key=lambda e: (e.cost_per_1k_tokens, *_by_priority(e)))
    else:
        group = sorted(group, key=_by_priority)
    ordered = group + rest
    # Endpoints the health check found down go last (not out: the check may be stale).
    return [e for e in ordered if e.healthy is not False] + [
        e for e in ordered if e.healthy is False
    ]


async def plan(
    request: Request,
    failures: list[Attempt],
    candidates: list[Endpoint],
    admission: Admission,
    reserve: int,
) -> AsyncGenerator[tuple[Endpoint, list[BaseMessage]], None]:
    """``candidates`` to try, in order, with the messages to send each; skips open breakers and
    windows known to be too small; trims history once when the prompt fits nowhere. Whoever
    tries an endpoint appends to ``failures`` when it fails."""
    messages = request.messages
    tokens = request.tokens
    trimmed = False
    while True:
        overflowed: list[Endpoint] = []
        for endpoint in candidates:
            window = endpoint.context_window
            if window and tokens + reserve > window:
                overflowed.append(endpoint)
                failures.append(_overflow_attempt(endpoint, tokens, window))
                LLM_FALLBACKS.labels(endpoint.name, ErrorKind.CONTEXT.value).inc()
                continue
            if not await admission.allows(endpoint):
                error = admission.open_error(endpoint)
                failures.append(Attempt(endpoint.name, endpoint.base_url, error.kind, str(error)))
                LLM_FALLBACKS.labels(endpoint.name, ErrorKind.BREAKER_OPEN.value).inc()
                continue
            count = len(failures)
            yield endpoint, messages
            if len(failures) > count and failures[-1].kind is ErrorKind.CONTEXT:
                overflowed.append(endpoint)
        if trimmed or not overflowed:
            return
        windows = [e.context_window for e in overflowed if e.context_window]
        budget = (max(windows) - reserve) if windows else None
        messages = trim_history(request.messages, budget)
        new_tokens = approx_tokens(messages)
        if (budget is not None and new_tokens > budget) or new_tokens >= tokens:
            raise ContextTooLong(tokens, max(windows) if windows else None)
        tokens = new_tokens
        trimmed = True
        candidates = sorted(overflowed, key=lambda e: -(e.context_window or 1 << 40))
        for endpoint in candidates[:1]:
            LLM_FALLBACKS.labels(endpoint.name, "context_trimmed").inc()


def _by_priority(endpoint: Endpoint) -> tuple[int, int]:
    return (endpoint.priority, endpoint.order)


def _overflow_attempt(endpoint: Endpoint, tokens: int, window: int) -> Attempt:
    return Attempt(
        endpoint.name,
        endpoint.base_url,
        ErrorKind.CONTEXT,
        f"The request (about {tokens:,} tokens) does not fit the {window:,}-token context window "
        f"of the model at {endpoint.base_url}.",
    )
