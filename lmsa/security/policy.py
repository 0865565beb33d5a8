"""What the guards enforce, read once from :class:`~lmsa.config.Settings` (the interfaces own
the environment; the guards only see this frozen object)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PiiAction = Literal["off", "warn", "redact", "block"]


@dataclass(frozen=True)
class SecurityPolicy:
    enabled: bool = True
    max_input_chars: int = 32_000
    injection_threshold: float = 0.6
    """Scores at or above this block the input (or quarantine a tool result)."""
    judge_floor: float = 0.3
    """Scores in [judge_floor, injection_threshold) are "unsure": the LLM judge decides if on."""
    llm_judge: bool = False
    injection_model: Literal["off", "confirm", "ngram", "full"] = "ngram"
    """The learned scorer's part (ngram_model.py). "ngram": a message of one window is judged
    by the scorer and the cues together, and a cue block of any other text under 0.9 stands
    only if the scorer's review agrees; "confirm": the same, but never blocks what the cues let
    through; "full": "ngram", and longer texts blocked on the scorer's word alone; "off": the
    cues alone."""
    pii_action: PiiAction = "warn"
    canary: str = ""
    engine: Literal["native", "guardrails"] = "native"

    @classmethod
    def from_settings(cls, settings: Any, *, canary: str = "") -> SecurityPolicy:
        def get(name: str, default: Any) -> Any:
            return getattr(settings, name, default)

        return cls(
            enabled=get("security_enabled", True),
            max_input_chars=get("max_input_chars", 32_000),
            injection_threshold=get("injection_threshold", 0.6),
            judge_floor=get("injection_judge_floor", 0.3),
            llm_judge=get("injection_llm_judge", False),
            injection_model=get("injection_model", "ngram"),
            pii_action=get("pii_action", "warn"),
            canary=canary or get("canary_token", None) or "",
            engine=get("security_engine", "native"),
        )
