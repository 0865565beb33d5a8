"""Personal data detection: e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs
(mod-97-checked) and US social security numbers.

Hand-written because the maintained detectors (Presidio and friends) need spaCy models that
cannot be downloaded offline; checksums keep the number detectors from firing on ordinary
numbers. What happens to a finding (nothing, a warning, redaction, refusal) is the caller's
policy, see :class:`lmsa.security.policy.SecurityPolicy`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmsa.security.deferred import deferred

_EMAIL = deferred(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = deferred(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,8}){2,4}\b"
)
_CARD = deferred(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = deferred(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_DATE = deferred(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_SSN = deferred(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")


@dataclass(frozen=True)
class PiiFinding:
    kind: str
    value: str


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def find_pii(text: str) -> list[PiiFinding]:
    findings: list[PiiFinding] = []
    seen: set[str] = set()

    def add(kind: str, value: str) -> None:
        if value not in seen:
            seen.add(value)
            findings.append(PiiFinding(kind, value))

    if "@" in text:
        for match in _EMAIL.finditer(text):
            add("email", match.group(0))
    for match in _IBAN.finditer(text):
        if _iban_ok(match.group(0)):
            add("iban", match.group(0))
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn(digits):
            add("payment_card", match.group(0))
    for match in _SSN.finditer(text):
        add("ssn", match.group(0))
    for match in _PHONE.finditer(text):
        phone = match.group(0)
        count = sum(ch.isdigit() for ch in phone)
        if _DATE.fullmatch(phone.strip()):
            continue
        if 9 <= count <= 15 and phone not in seen and not any(phone in v for v in seen):
            add("phone", phone)
    return findings


def redact_pii(text: str, findings: list[PiiFinding]) -> str:
    for finding in sorted(findings, key=lambda f: len(f.value), reverse=True):
        text = text.replace(finding.value, f"[REDACTED:{finding.kind}]")
    return text
