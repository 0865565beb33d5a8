"""Settings for every interface (CLI, HTTP, Studio, host apps).

Configuration enters the program here, once: interfaces call :func:`load_settings`, and the
resulting :class:`Settings` travels into the graph as its runtime ``Context`` and into the
services built for it. Nothing below the interfaces reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "http://localhost:1234/v1"


def default_data_dir() -> Path:
    """Where conversations live when the user did not say (per-user, survives restarts)."""
    return Path(user_data_dir("lmsa", appauthor=False))


class EndpointSettings(BaseModel):
    """A further OpenAI-compatible endpoint to fall back to when the primary fails."""

    base_url: str
    model: str | None = None
    api_key: str = "lm-studio"


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
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_ttl: int | None = Field(
        default=None, description="Seconds a thread lives after its last write; None keeps it."
    )
    redis_key_prefix: str = "lmsa"

    # Tools.
    workspace: Path = Field(default_factory=Path.cwd)
    tool_timeout: float = 30.0
    tool_output_chars: int = 4000

    # Graph behaviour.
    clarify_threshold: float = 0.6
    max_clarify_rounds: int = 2
    max_iterations: int = 3
    max_plan_attempts: int = 3
    history_turns: int = 6
    max_input_chars: int = 32_000

    @field_validator("workspace", "data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def sqlite_file(self) -> Path:
        return self.sqlite_path or self.data_dir / "checkpoints.sqlite"


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; explicit overrides (e.g. CLI flags) win over it."""
    return Settings(**overrides)  # type: ignore[arg-type]
