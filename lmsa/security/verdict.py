"""The one result type every guard returns, so nodes, the HTTP server and the audit log read
verdicts the same way whichever check produced them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SUSPECT = "injection_suspect"
"""The category of an allowed text that may still be an injection (the LLM judge may settle it)."""


@dataclass
class Verdict:
    """``allowed`` is False when the text must not go on; ``redacted_text`` is what may go on
    (secrets and, if configured, PII replaced) and equals the input when nothing was changed."""

    allowed: bool
    score: float
    categories: list[str] = field(default_factory=list)
    redacted_text: str = ""
    reasons: list[str] = field(default_factory=list)
    refusal: str | None = None
    """A sentence for the user when ``allowed`` is False."""

    @property
    def redacted(self) -> bool:
        return "redacted" in self.categories

    @property
    def suspect(self) -> bool:
        return SUSPECT in self.categories

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without the text itself (audit records must not carry secret values)."""
        data = asdict(self)
        data.pop("redacted_text")
        return data
