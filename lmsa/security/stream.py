"""The output guard for a streamed answer: redacts secrets and the canary *before* text leaves.

A :class:`StreamRedactor` is fed the answer's tokens as they arrive and returns the text that is
safe to show now. It holds back only what could still turn into a match:

- the last, unfinished word (every secret value the scanner finds is one whitespace-free word, so
  a word is judged once the whitespace after it arrives; the line before it is the context the
  keyword rules need, e.g. ``password = ...``);
- words that together spell the start of the canary (the canary split by spaces is still a leak);
- a PEM private-key block from its ``-----BEGIN ... PRIVATE KEY-----`` line to its end line.

Everything else is emitted at once. The redactor's output depends only on the text, not on how it
was cut into chunks, so the stored answer (the same text fed in one piece,
:func:`redact_stream_text`) equals what was streamed.

Use: ``r = StreamRedactor(canary=..., known=[...], allow=[...])``; ``r.feed(chunk) -> str`` for
each chunk, ``r.flush() -> str`` at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lmsa.security.canary import _PREFIX as CANARY_PREFIX
from lmsa.security.deferred import deferred
from lmsa.security.secret_scan import SecretFinding, find_secrets

_UNIT = deferred(r"(\s*)(\S+)(?=\s)")
_PEM_HEADER = deferred(r"-----BEGIN [A-Z0-9 ]*-----")
_PEM_END = deferred(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_CONTEXT_CHARS = 200  # of the current line, for rules that need the words before a value
_MAX_WORD = 4096  # a "word" longer than this is a blob: judge it rather than hold it forever
_CANARY_MARK = "[REDACTED:canary]"
_KEY_MARK = "[REDACTED:private_key]"


@dataclass
class StreamRedactor:
    """Feed chunks with :meth:`feed`, finish with :meth:`flush`; see the module docstring."""

    canary: str = ""
    known: Iterable[SecretFinding] = ()
    allow: Iterable[str] = ()
    _pending: str = ""
    _line: str = ""
    _held: list[tuple[str, str]] = field(default_factory=list)  # (whitespace, word) of a canary

    def __post_init__(self) -> None:
        self.allow = frozenset(self.allow)
        self.known = tuple(s for s in self.known if s.value not in self.allow)
        self._targets = tuple(
            t.lower() for t in (self.canary, self.canary[len(CANARY_PREFIX) :]) if len(t) >= 8
        )

    @property
    def held(self) -> str:
        """The text received but not yet emitted."""
        return "".join(ws + word for ws, word in self._held) + self._pending

    def feed(self, text: str) -> str:
        self._pending += text
        return self._drain(final=False)

    def flush(self) -> str:
        out = self._drain(final=True)
        out += self._release_held(len(self._held))
        return out

    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        while self._pending:
            key = self._private_key(final)
            if key is None:
                break  # a key block has begun and not ended
            if key:
                out.append(key)
                continue
            match = _UNIT.match(self._pending)
            if match is None:
                stripped = self._pending.strip()
                if not stripped or not (final or len(self._pending) > _MAX_WORD):
                    if final:
                        out.append(self._release_held(len(self._held)) + self._pending)
                        self._pending = ""
                    break
                lead = self._pending[: len(self._pending) - len(self._pending.lstrip())]
                ws, word = lead, self._pending[len(lead) :]
                self._pending = ""
            else:
                ws, word = match.group(1), match.group(2)
                self._pending = self._pending[match.end() :]
            out.append(self._word(ws, word))
        return "".join(out)

    def _private_key(self, final: bool) -> str | None:
        """A whole redacted key block if one starts here, ``""`` if none does, ``None`` to wait."""
        body = self._pending.lstrip()
        if not body.startswith("-----BEGIN"):
            return ""
        header = _PEM_HEADER.match(body)
        if header is None:
            return None if not final and len(body) < 120 else ""
        if "PRIVATE KEY" not in header.group(0):
            return ""
        end = _PEM_END.search(body, header.end())
        if end is None and not final:
            return None
        lead = self._pending[: len(self._pending) - len(body)]
        rest = body[end.end() :] if end else ""
        self._pending = rest
        self._line = ""
        return self._release_held(len(self._held)) + lead + _KEY_MARK

    def _word(self, ws: str, word: str) -> str:
        if self._targets:
            self._held.append((ws, word))
            return self._settle_canary()
        return self._emit(ws, word)

    def _settle_canary(self) -> str:
        """Emits held words once they can no longer be the start of the canary."""
        out = ""
        while self._held:
            squeezed = "".join(w for _, w in self._held).lower()
            if any(target in squeezed for target in self._targets):
                if len(self._held) == 1:  # one word: replace the canary inside it
                    return out + self._release_held(1)
                ws = self._held[0][0]
                self._held.clear()  # spelled across words: the words go whole
                self._line += ws + _CANARY_MARK
                return out + ws + _CANARY_MARK
            if any(_could_start(squeezed, target) for target in self._targets):
                return out
            out += self._release_held(1)
        return out

    def _release_held(self, count: int) -> str:
        released, self._held = self._held[:count], self._held[count:]
        return "".join(self._emit(ws, word) for ws, word in released)

    def _emit(self, ws: str, word: str) -> str:
        if "\n" in ws:
            self._line = ""
        context = (self._line + ws)[-_CONTEXT_CHARS:]
        self._line = (context + word)[-_CONTEXT_CHARS:]
        return ws + redact_word(word, context, self.canary, self.known, self.allow)


def _could_start(squeezed: str, target: str) -> bool:
    """Whether the held words are a prefix of ``target`` or end with one (at least 4 chars)."""
    if target.startswith(squeezed):
        return True
    for size in range(min(len(squeezed), len(target) - 1), 3, -1):
        if target.startswith(squeezed[-size:]):
            return True
    return False


# A value assigned to a key-like name ("password = ", "api_key: '"): the keyword rules apply.
_ASSIGNED = deferred(
    r"(?:pass|pwd|secret|token|key|auth|credential)[^\n=:]{0,24}(?:[:=]|=>)\s*[\"'`]?\s*$",
    re.IGNORECASE,
)
_ASSIGN_REACH = 80


def _could_be_token(word: str) -> bool:
    """Whether ``word`` looks like it could be a credential on its own (long, with digits,
    inner capitals, ``_``, ``@`` or ``://``); ordinary words skip the scanner, which costs far
    more than the check."""
    if len(word) < 8:
        return False
    return (
        any(ch.isdigit() for ch in word)
        or any(ch.isupper() for ch in word[1:])
        or "_" in word
        or "@" in word
        or "://" in word
    )


def redact_word(
    word: str,
    context: str,
    canary: str,
    known: Iterable[SecretFinding],
    allow: Iterable[str],
) -> str:
    """``word`` with the canary, known secrets and any credential the scanner finds in
    ``context + word`` replaced by markers (values in ``allow`` are kept)."""
    if canary:
        for target in (canary, canary[len(CANARY_PREFIX) :]):
            if len(target) >= 8 and target.lower() in word.lower():
                word = re.sub(re.escape(target), _CANARY_MARK, word, flags=re.IGNORECASE)
    findings = [s for s in known if s.value in word]
    scanned = None
    if _ASSIGNED.search(context[-_ASSIGN_REACH:]):
        scanned = context + word  # keyword rules need the words before the value
    elif _could_be_token(word):
        scanned = word
    if scanned is not None:
        findings += [
            s
            for s in find_secrets(scanned)
            if s.value in word and s.value not in allow and s not in findings
        ]
    for finding in sorted(findings, key=lambda f: len(f.value), reverse=True):
        word = word.replace(finding.value, f"[REDACTED:{finding.kind}]")
    return word


def redact_stream_text(
    text: str,
    *,
    canary: str = "",
    known: Iterable[SecretFinding] = (),
    allow: Iterable[str] = (),
) -> str:
    """``text`` exactly as a :class:`StreamRedactor` would have streamed it."""
    redactor = StreamRedactor(canary=canary, known=known, allow=allow)
    return redactor.feed(text) + redactor.flush()


@dataclass
class StreamGuardSlot:
    """Carried in a run's config from the turn driver to the node that writes the answer, which
    arms it with this turn's canary, known secrets and allowed values before the model streams."""

    redactor: StreamRedactor | None = None

    def arm(self, redactor: StreamRedactor) -> None:
        self.redactor = redactor

    def feed(self, text: str) -> str:
        if self.redactor is None:
            self.redactor = StreamRedactor()
        return self.redactor.feed(text)

    def flush(self) -> str:
        return self.redactor.flush() if self.redactor else ""


SLOT_KEY = "__lmsa_stream_guard"  # "__" keeps it out of checkpoint metadata and traces
