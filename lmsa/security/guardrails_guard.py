"""The guards as guardrails-ai ``Guard`` objects, built from lmsa's own validators registered
with guardrails' validator API (nothing from the Guardrails Hub, which is not reachable offline).

Imported lazily: ``import guardrails`` takes seconds (it loads OpenTelemetry exporters, litellm
helpers, jsonschema formats), which the CLI must not pay at start-up.

Offline and quiet: guardrails reads ``~/.guardrailsrc`` and, when there is none, defaults to
``enable_metrics=True`` and sends anonymous usage spans to a hosted collector. :func:`_guardrails`
replaces the loaded settings with ``enable_metrics=False`` / ``use_remote_inferencing=False`` and
builds every Guard through :class:`_OfflineGuard`, whose ``_load_rc`` keeps that (the stock Guard
re-reads the rc file, and its default, on construction). Unit tests run this with sockets
disabled.

Why the hot path does not go through ``Guard.validate``: even with a trivial validator, its
framework overhead (call history, iteration objects) is larger than the
whole time budget of ``check_input``. So the node uses the same checks directly
(``LMSA_SECURITY_ENGINE=native``, the default) and ``LMSA_SECURITY_ENGINE=guardrails`` routes
them through these Guards instead, with the same verdicts (tests/unit/test_security_guardrails.py
compares them).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from lmsa.security.policy import SecurityPolicy
from lmsa.security.verdict import Verdict


@lru_cache(maxsize=1)
def _guardrails() -> dict[str, Any]:
    """Imports guardrails once, switches its telemetry off and registers lmsa's validators."""
    from guardrails import Guard, OnFailAction
    from guardrails.classes.rc import RC
    from guardrails.settings import settings as gr_settings
    from guardrails.validators import (
        FailResult,
        PassResult,
        ValidationResult,
        Validator,
        register_validator,
    )

    # Sequential validation: lmsa's validators are plain functions, and guardrails' default
    # (asynchronous) service installs uvloop's event-loop policy for the whole process and
    # leaves a thread and five file descriptors behind per ``validate`` call, which a
    # long-running server would pile up until it runs out of descriptors.
    os.environ.setdefault("GUARDRAILS_RUN_SYNC", "true")
    offline_rc = RC(enable_metrics=False, use_remote_inferencing=False)
    gr_settings.rc = offline_rc
    gr_settings.disable_tracing = True

    class _OfflineGuard(Guard):  # type: ignore[misc]
        def _load_rc(self) -> None:
            gr_settings.rc = offline_rc

    def _from_verdict(verdict: Verdict, text: str) -> ValidationResult:
        if not verdict.allowed:
            return FailResult(
                error_message=verdict.refusal or "; ".join(verdict.reasons),
                metadata={"verdict": verdict},
            )
        if verdict.redacted_text != text or verdict.categories:
            # A pass that changed the text: guardrails' FIX action applies fix_value.
            return FailResult(
                error_message="; ".join(verdict.reasons) or "redacted",
                fix_value=verdict.redacted_text,
                metadata={"verdict": verdict},
            )
        return PassResult(metadata={"verdict": verdict})

    @register_validator(name="lmsa/input_guard", data_type="string")
    class LmsaInputGuard(Validator):  # type: ignore[misc]
        """Size/encoding limits, injection scorer, secret redaction, PII policy."""

        def __init__(self, policy: SecurityPolicy | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.policy = policy or SecurityPolicy()

        def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
            from lmsa.security.checks import check_input

            return _from_verdict(check_input(value, policy=self.policy), value)

    @register_validator(name="lmsa/output_guard", data_type="string")
    class LmsaOutputGuard(Validator):  # type: ignore[misc]
        """Canary and secret redaction before an answer leaves."""

        def __init__(self, policy: SecurityPolicy | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.policy = policy or SecurityPolicy()

        def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
            from lmsa.security.checks import check_output

            return _from_verdict(check_output(value, policy=self.policy), value)

    return {
        "Guard": _OfflineGuard,
        "OnFailAction": OnFailAction,
        "input": LmsaInputGuard,
        "output": LmsaOutputGuard,
    }


def input_guard(policy: SecurityPolicy | None = None) -> Any:
    """A guardrails ``Guard`` running lmsa's input validator (on fail: FIX, so redactions apply;
    a refusal shows as a failed validation)."""
    gr = _guardrails()
    return gr["Guard"](name="lmsa-input").use(gr["input"](policy, on_fail=gr["OnFailAction"].FIX))


def output_guard(policy: SecurityPolicy | None = None) -> Any:
    gr = _guardrails()
    return gr["Guard"](name="lmsa-output").use(gr["output"](policy, on_fail=gr["OnFailAction"].FIX))


def validate(guard: Any, text: str) -> Verdict:
    """Runs ``guard`` on ``text`` and returns lmsa's verdict for it."""
    outcome = guard.validate(text)
    logs = guard.history.last.iterations.last.validator_logs if guard.history.length else []
    for entry in logs:
        result = entry.validation_result
        verdict = (getattr(result, "metadata", None) or {}).get("verdict")
        if isinstance(verdict, Verdict):
            return verdict
    passed = bool(outcome.validation_passed)
    return Verdict(passed, 0.0, [], str(outcome.validated_output or text), [])
