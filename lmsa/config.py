"""Settings for every interface (CLI, HTTP, Studio, host apps).

Configuration enters the program here, once: interfaces call :func:`load_settings`, and the
resulting :class:`Settings` travels into the graph as its runtime ``Context`` and into the
services built for it. Nothing below the interfaces reads the environment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError

DEFAULT_BASE_URL = "http://localhost:1234/v1"


def default_cache_dir() -> Path:
    """Where assembled embedded models and the CPU-mode verdict live."""
    return Path(user_cache_dir("lmsa", appauthor=False))


def default_data_dir() -> Path:
    """Where conversations live when the user did not say (per-user, survives restarts)."""
    return Path(user_data_dir("lmsa", appauthor=False))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'7d', '12h', '30m', '45s', '2w' or plain seconds ('3600'); ValueError otherwise."""
    cleaned = text.strip().lower()
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else "s"
    number = cleaned[:-1] if cleaned[-1:] in _UNITS else cleaned
    try:
        amount = float(number)
        if amount != amount or amount in (float("inf"), float("-inf")):
            raise ValueError
        if amount < 0:
            raise ValueError(f"{text!r} is negative; a duration is 0 or more")
        return timedelta(seconds=amount * _UNITS[unit])
    except (ValueError, OverflowError) as error:
        if "negative" in str(error):
            raise
        raise ValueError(
            f"{text!r} is not a duration; use e.g. 7d, 12h, 30m, 45s or seconds"
        ) from None


class EndpointSettings(BaseModel):
    """One OpenAI-compatible endpoint (``LMSA_FALLBACKS`` entries, ``LMSA_ENDPOINTS`` records).

    Only ``base_url`` is required; the rest tune routing (see the README's LLM routing section).
    ``context_window`` left unset is read from LM Studio's ``/api/v0/models`` when offered.
    """

    base_url: str
    model: str | None = None
    api_key: str = "lm-studio"
    name: str | None = None
    roles: list[str] = Field(default_factory=lambda: ["main"])
    max_concurrency: int | None = Field(default=None, ge=1)
    context_window: int | None = Field(default=None, ge=1)
    cost_per_1k_tokens: float = 0.0
    priority: int = 0


class Settings(BaseSettings):
    """Everything a user can tune, read from ``LMSA_*`` environment variables or a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="LMSA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # LLM endpoint (LM Studio or any OpenAI-compatible server).
    base_url: str = DEFAULT_BASE_URL
    model: str | None = None
    api_key: str = "lm-studio"
    fallbacks: list[EndpointSettings] = Field(default_factory=list)
    temperature: float = 0.2
    request_timeout: float = 120.0
    connect_timeout: float = 3.0
    max_retries: int = 1
    structured_output: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description=(
            "How schema-constrained JSON is requested: LM Studio takes 'json_schema'; "
            "llama.cpp's server takes 'json_object' with a 'schema'."
        ),
    )

    # Persistence.
    checkpointer: Literal["sqlite", "memory", "redis"] = "sqlite"
    data_dir: Path = Field(default_factory=default_data_dir)
    sqlite_path: Path | None = None
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis for every Redis user (checkpoints, turn leases, rate limits, audit "
        "stream; LLM cache, breakers and queue limits with llm_redis). A Redis Cluster is "
        "chosen by the scheme, not a separate switch: redis+cluster://host:port[,host:port...] "
        "(rediss+cluster:// for TLS) gives every user a RedisCluster client.",
    )
    redis_ttl: int | None = Field(
        default=None, description="Seconds a thread lives after its last write; None keeps it."
    )
    redis_key_prefix: str = "lmsa"
    thread_retention: Annotated[float | None, NoDecode] = Field(
        default=None,
        gt=0,
        description="SQLite: threads not updated within this many seconds (or a duration "
        "such as '7d', '12h') are deleted when lmsa serve, chat or ask open the store; None "
        "keeps them. (Redis expires threads itself: redis_ttl.)",
    )
    checkpoint_keep_intermediate: int | None = Field(
        default=20,
        ge=0,
        description="Checkpoints kept inside a thread (Redis and SQLite): every turn's final "
        "checkpoint, every edit or fork, and the newest N of the others; the rest are deleted "
        "when the next turn starts. 'all' (or empty) keeps every checkpoint.",
    )
    redis_max_connections: int = Field(
        default=64,
        ge=1,
        description="Connections per client and process (per node on a cluster); more wait.",
    )
    redis_pool_timeout: float = Field(
        default=20.0, gt=0, description="Seconds a checkpoint read/write waits for a connection."
    )

    # Tools.
    workspace: Path = Field(default_factory=Path.cwd)
    tool_timeout: float = 30.0
    tool_output_chars: int = 4000

    # -- tools and approvals
    auto_approve: Literal["none", "read", "write"] = Field(
        default="read",
        description=(
            "Tool calls above this risk wait for the user's approval: 'none' asks for every "
            "call, 'read' lets read-only calls run, 'write' lets writes run. Dangerous calls "
            "are always refused."
        ),
    )
    tool_cache_size: int = Field(default=256, ge=0, description="Cached read-only results; 0: off.")
    command_timeout: float = Field(default=60.0, gt=0, description="Max seconds per command.")
    command_output_bytes: int = Field(default=256_000, ge=1024)
    command_shell: bool = Field(
        default=True, description="Allow run_command(shell=true) (/bin/sh -c, parsed first)."
    )
    python_timeout: float = Field(default=30.0, gt=0)
    python_memory_mb: int = Field(default=1024, ge=64)
    python_network: bool = Field(default=False, description="Let run_python use the network.")
    python_unisolated: bool = Field(
        default=False,
        description="Where no network namespace can be made, run snippets behind the socket "
        "guard alone (off: run_python refuses there, since a snippet could reach loopback).",
    )
    fetch_timeout: float = Field(default=15.0, gt=0)
    fetch_max_bytes: int = Field(default=2_000_000, ge=1024)
    fetch_allow_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts, addresses or CIDR ranges fetch_url may reach although private or loopback "
            "(SSRF allowance), e.g. '[\"127.0.0.1\"]'."
        ),
    )
    search_url: str | None = Field(
        default=None, description="SearxNG base URL for web_search; unset: no web_search tool."
    )

    # Graph behaviour.
    # ``clarify_threshold``: also ask when the model's own confidence is below this. Off by
    # default: small models report confidence at random (0.0 for a plain "create greet.py"),
    # so only their explicit needs_clarification (with a question) makes them ask.
    clarify_threshold: float = 0.0
    max_clarify_rounds: int = 2
    max_iterations: int = 3
    max_plan_attempts: int = 3
    # ``validate_reads``: also self-check (one more model call) a plan whose steps were all
    # read-only and all succeeded; off, such a turn answers from the results directly.
    validate_reads: bool = False
    history_turns: int = 6
    max_input_chars: int = 32_000

    # -- HTTP server (lmsa/server, ``lmsa serve``) -----------------------------------------------
    # ``api_keys``: comma-separated; empty leaves the API open (fine on loopback, not beyond).
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=0, le=65535)
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Comma-separated addresses or CIDR ranges whose X-Forwarded-For uvicorn "
        "believes (its forwarded_allow_ips); the client address, and so the per-address rate "
        "limit, comes from that header only for these peers. Empty: trust no proxy.",
    )
    allow_open: bool = Field(
        default=False,
        description="Let lmsa serve listen beyond loopback without LMSA_API_KEYS.",
    )
    server_workers: int = Field(default=1, ge=1)
    server_max_concurrent_turns: int = Field(
        default=64,
        ge=0,
        description="Turns one API process runs at once; later requests wait their turn "
        "(first come, first served) and get 503 after server_turn_queue_timeout. 0: no limit.",
    )
    server_turn_queue_timeout: float = Field(default=300.0, gt=0)
    server_gc_threshold: int = Field(
        default=20_000,
        ge=0,
        description="lmsa serve: first-generation threshold of Python's garbage collector, "
        "applied (with gc.freeze of everything built at start-up) once the app is ready; "
        "0 leaves the collector alone. See lmsa.server.app.tune_gc.",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # ``api_tenants``: ``tenant=key`` items, comma-separated (split at the first ``=``, so a key
    # may contain one). Those keys are accepted like ``api_keys`` and share the tenant's threads;
    # any other key is a tenant of its own.
    api_tenants: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    ready_cache_seconds: float = Field(default=2.0, ge=0.0)
    # ``log_format``: unset, ``lmsa serve`` writes text lines to a terminal and JSON otherwise
    # (a log collector reads a pipe or a file, a person reads a terminal).
    log_format: Literal["json", "text"] | None = None
    log_level: str = "INFO"

    @field_validator("thread_retention", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value).total_seconds() if value.strip() else None
        return value

    @field_validator("api_tenants", mode="before")
    @classmethod
    def _tenant_items(cls, value: object) -> object:
        """``tenant=key,...`` into ``{key: tenant}``."""
        if not isinstance(value, str):
            return value
        tenants: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            tenant, sep, key = item.partition("=")
            if not (sep and tenant.strip() and key.strip()):
                raise ValueError(f"expected tenant=key items, got {item.split('=')[0]!r}=...")
            tenants[key.strip()] = tenant.strip()
        return tenants

    @model_validator(mode="after")
    def _tenant_keys_are_keys(self) -> Settings:
        for key in self.api_tenants:
            if key not in self.api_keys:
                self.api_keys.append(key)
        return self

    @field_validator("checkpoint_keep_intermediate", mode="before")
    @classmethod
    def _keep_all(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "all"):
            return None
        return value

    @field_validator("api_keys", "allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    # -- LLM routing (lmsa/llm) ---------------------------------------------------------------
    # ``max_retries`` above is lmsa's own retry count per endpoint on transient errors (the
    # openai client's retries are off). ``endpoints`` replaces base_url/model/fallbacks when set.
    endpoints: list[EndpointSettings] = Field(default_factory=list)
    routing_strategy: Literal["priority", "round_robin", "least_busy", "latency", "cost"] = (
        "priority"
    )
    llm_complexity_routing: bool = True
    llm_fast_schemas: list[str] = Field(default_factory=lambda: ["IntentResult", "Validation"])
    llm_retry_base_delay: float = 0.2
    llm_retry_max_delay: float = 5.0
    llm_retry_after_cap: float = 10.0
    llm_breaker_threshold: int = 5
    llm_breaker_cooldown: float = 30.0
    llm_breaker_half_open_probes: int = 1
    llm_cache: bool = True
    llm_cache_size: int = 1024
    llm_cache_ttl: float = 3600.0
    llm_max_concurrency: int = 4
    llm_queue_timeout: float = 60.0
    llm_global_limits: bool = True
    llm_health_interval: float = 30.0
    llm_output_reserve: int = 1024
    llm_redis: bool = False
    llm_redis_url: str | None = None

    @property
    def llm_shared_redis_url(self) -> str | None:
        """Redis for state shared across instances (cache, breakers, limits), or None."""
        return self.llm_redis_url or (self.redis_url if self.llm_redis else None)

    # -- local model (lmsa/local, ``lmsa local-server``, ``--local``) ---------------------------
    # ``local_model``: a packaged model's name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b,
    # gemma-3-270m) or a GGUF file; None serves the default, Qwen2.5-Coder-0.5B ([local] extra).
    # ``local_cpu_mode``: auto probes once whether native llama.cpp runs on this CPU
    # (lmsa/local/cpu.py).
    # ``local_cache_dir``: assembled models and the CPU verdict (default: the user cache dir).
    local_model: str | None = None
    local_cpu_mode: Literal["auto", "native", "safe"] = "auto"
    local_cache_dir: Path = Field(default_factory=default_cache_dir)
    local_context_length: int = Field(default=8192, ge=512)
    local_threads: int = Field(default=2, ge=1)
    local_max_tokens: int | None = Field(
        default=1024, description="Reply cap when a request sets none; None = up to the context."
    )
    # ``local_prompt_states``: model states kept after recent prompts, so a prompt that starts
    # like one of them skips evaluating the shared start (lmsa/local/prompt_cache.py); 0 = off.
    local_prompt_states: int = Field(default=6, ge=0, le=64)
    # ``local_fallback``: "auto" makes the embedded model the router's last endpoint, started
    # only when every configured endpoint failed (or none answered at start-up); "off" never.
    # Unset, each interface picks: auto for ``lmsa chat``/``ask``, off for ``lmsa serve``.
    local_fallback: Literal["auto", "off"] | None = None

    # -- security (lmsa/security, SECURITY.md) ----------------------------------------------------
    # ``rate_limit``: limits' notation ("30/minute", "5/second;200/hour"); empty turns it off.
    # ``rate_limit_storage``: "redis" shares counts across instances via ``redis_url``.
    # ``audit_log``: JSON-lines file (default: <data_dir>/audit.jsonl); ``audit_redis_stream``:
    # also XADD every record to this stream on ``redis_url``.
    security_enabled: bool = True
    security_engine: Literal["native", "guardrails"] = "native"
    injection_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    injection_judge_floor: float = Field(default=0.3, ge=0.0, le=1.0)
    injection_llm_judge: bool = False
    # ``injection_model``: the learned scorer (character n-grams + logistic regression,
    # lmsa/security/ngram_model.py). "ngram" (default): a message of one window (about 27-400
    # characters) is judged by the scorer and the cue score together (well under 1 ms); for
    # other texts it reviews what the cues would block under a cue score of 0.9 and sets aside
    # the blocks it finds ordinary. "full": also blocks longer texts on its own (about 5 ms per
    # KB). "confirm": like "ngram" but never blocks what the cues let through. "off": the cues
    # alone. SECURITY.md has the figures.
    injection_model: Literal["off", "confirm", "ngram", "full"] = "ngram"
    pii_action: Literal["off", "warn", "redact", "block"] = "warn"
    canary_token: str | None = None
    rate_limit: str = "60/minute"
    rate_limit_storage: Literal["memory", "redis"] = "memory"
    audit_log: Path | None = None
    audit_redis_stream: str | None = None
    # ``allowed_hosts``: with no API keys only loopback Host headers are served (DNS rebinding);
    # comma-separated extra host names, "*" for any. ``body_timeout``: seconds a client may take
    # to send its request body before the answer is 408.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # ``cors_origins``: comma-separated browser origins allowed to call the API (CORS, and past
    # the cross-origin check of a keyless server), e.g. https://smith.langchain.com for Studio.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    body_timeout: float = Field(default=30.0, gt=0)

    @field_validator("workspace", "data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def sqlite_file(self) -> Path:
        return self.sqlite_path or self.data_dir / "checkpoints.sqlite"


ENV_PREFIX = "LMSA_"


class ConfigError(ValueError):
    """A setting has a value lmsa cannot use; the message names the variable, the value and
    what it accepts, in one sentence an interface can print as it is."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; explicit overrides (e.g. CLI flags) win over it.

    Raises :class:`ConfigError` for a value that does not parse or is not allowed.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe_validation(error)) from error
    except _SourceError as error:
        raise ConfigError(_describe_source_error(error)) from error


def _describe_validation(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        name = ENV_PREFIX + loc[0].upper() if loc else "a setting"
        reason = str(item["msg"])
        if reason.startswith("Input should be"):
            reason = "it should be" + reason[len("Input should be") :]
        elif reason.startswith("Value error, "):
            reason = reason[len("Value error, ") :]
        if len(loc) > 1:
            # Inside a JSON value (e.g. one LMSA_FALLBACKS entry): say where, not the whole value.
            problems.append(f"{name} is not valid at {'.'.join(loc[1:])}: {reason.lower()}")
        else:
            problems.append(f"{name}{_shown(name, item['input'])} is not valid: {reason}")
    return "; ".join(problems) + "."


def _shown(name: str, value: object) -> str:
    """``value`` as it may be quoted back in an error: nothing for a credential variable,
    passwords in URLs and ``api_key`` fields masked in the others."""
    if any(word in name for word in ("KEY", "TOKEN", "SECRET", "PASSWORD", "CANARY")):
        return ""
    text = re.sub(r"(//)[^/@\s]+@", r"\1***@", repr(value))
    text = re.sub(r"(api_key[\"']?\s*:\s*[\"'])[^\"']*", r"\1***", text)
    return "=" + text


def _describe_source_error(error: _SourceError) -> str:
    # pydantic-settings only says 'error parsing value for field "x"'; the cause says why.
    text = str(error)
    field = text.split('"')[1] if text.count('"') >= 2 else ""
    name = ENV_PREFIX + field.upper() if field else "a setting"
    cause = error.__cause__
    value = _raw_value(name)
    shown = _shown(name, value) if value is not None else ""
    why = f" ({cause})" if cause else ""
    return (
        f"{name}{shown} is not valid JSON{why}; it should be a JSON list, "
        f'e.g. \'[{{"base_url": "http://host:1234/v1"}}]\' for endpoints.'
        if field in ("fallbacks", "endpoints")
        else f"{name}{shown} is not valid JSON{why}; it should be a JSON value."
    )


def _raw_value(name: str) -> str | None:
    """The text a variable was given, from the environment or the .env file (config is the one
    place that reads them)."""
    import os

    if name in os.environ:
        return os.environ[name]
    try:
        from dotenv import dotenv_values

        return dotenv_values(".env").get(name)
    except (ImportError, OSError):
        return None
