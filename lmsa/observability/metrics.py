"""Every Prometheus metric lmsa records, defined in one place.

Layers import the metric objects they need and record into them; the HTTP server's ``/metrics``
renders :data:`REGISTRY`. A dedicated registry (not prometheus_client's global one) keeps host
apps that embed lmsa free of name clashes, and lets tests read values without cross-talk from
other libraries. Label values are bounded (endpoint names, node names, outcomes), never ids.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# -- HTTP ------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "lmsa_http_requests_total",
    "HTTP requests served.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "lmsa_http_request_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)

# -- graph -----------------------------------------------------------------------------------
GRAPH_TURNS = Counter(
    "lmsa_graph_turns_total", "Assistant turns by outcome.", ["outcome"], registry=REGISTRY
)
TURNS_ADMITTED = Gauge(
    "lmsa_http_turns_running",
    "Turns the HTTP API is running (bounded by LMSA_SERVER_MAX_CONCURRENT_TURNS).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
TURNS_WAITING = Gauge(
    "lmsa_http_turns_waiting",
    "HTTP turns waiting to be admitted.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
GRAPH_TURN_SECONDS = Histogram(
    "lmsa_graph_turn_seconds",
    "Wall time of a whole turn.",
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)
NODE_SECONDS = Histogram(
    "lmsa_node_seconds",
    "Wall time per graph node.",
    ["node"],
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)

# -- LLM endpoints ---------------------------------------------------------------------------
LLM_REQUESTS = Counter(
    "lmsa_llm_requests_total",
    "LLM calls per endpoint and outcome.",
    ["endpoint", "outcome"],
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "lmsa_llm_request_seconds",
    "LLM call latency per endpoint.",
    ["endpoint"],
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)
LLM_TTFT = Histogram(
    "lmsa_llm_time_to_first_token_seconds",
    "Time to first streamed token.",
    ["endpoint"],
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "lmsa_llm_tokens_total",
    "Tokens per endpoint and kind.",
    ["endpoint", "kind"],
    registry=REGISTRY,
)
LLM_RETRIES = Counter(
    "lmsa_llm_retries_total", "Retried LLM attempts.", ["endpoint", "reason"], registry=REGISTRY
)
LLM_FALLBACKS = Counter(
    "lmsa_llm_fallbacks_total",
    "Calls that moved on to another endpoint.",
    ["from_endpoint", "reason"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "lmsa_llm_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    ["endpoint"],
    multiprocess_mode="max",
    registry=REGISTRY,
)
ENDPOINT_HEALTHY = Gauge(
    "lmsa_llm_endpoint_healthy",
    "1 when the last health check passed.",
    ["endpoint"],
    multiprocess_mode="min",
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "lmsa_llm_cache_lookups_total",
    "Response cache lookups.",
    ["layer", "result"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "lmsa_llm_queue_depth",
    "Requests waiting for an endpoint slot.",
    ["endpoint", "priority"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "lmsa_llm_queue_wait_seconds",
    "Time spent waiting for an endpoint slot.",
    ["endpoint"],
    buckets=_FAST_BUCKETS + _LLM_BUCKETS[5:],  # both hold 1.0: once, or it is exported twice
    registry=REGISTRY,
)

READY_CHECK = Gauge(
    "lmsa_ready_check_ok",
    "1 when the named /ready check (llm, checkpointer) passed on its last run.",
    ["check"],
    multiprocess_mode="livemin",
    registry=REGISTRY,
)

# -- tools and security ----------------------------------------------------------------------
TOOL_RUNS = Counter(
    "lmsa_tool_runs_total", "Tool executions by outcome.", ["tool", "outcome"], registry=REGISTRY
)
TOOL_SECONDS = Histogram(
    "lmsa_tool_seconds",
    "Tool execution time.",
    ["tool"],
    buckets=_LLM_BUCKETS,
    registry=REGISTRY,
)
GUARD_VERDICTS = Counter(
    "lmsa_guard_verdicts_total",
    "Security guard verdicts.",
    ["guard", "verdict", "category"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "lmsa_rate_limited_total", "Requests refused by a rate limit.", ["scope"], registry=REGISTRY
)


def render() -> bytes:
    """The Prometheus text exposition of every lmsa metric.

    Under ``lmsa serve --workers N`` each worker is a process with its own counters;
    ``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``) makes prometheus_client keep them in shared
    files, and this then sums every worker's values instead of showing one worker's.
    """
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(REGISTRY)


def render_content_type() -> str:
    return CONTENT_TYPE_LATEST
