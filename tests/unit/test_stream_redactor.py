"""The stream redactor: secrets and the canary are redacted even when split across chunks,
only what could still complete a match is held back, and the result does not depend on how the
text was chunked (so the stored answer equals the streamed one)."""

from __future__ import annotations

import random

from lmsa.security import SecurityPolicy
from lmsa.security.audit import AuditLog
from lmsa.security.layer import SecurityLayer
from lmsa.security.secret_scan import SecretFinding
from lmsa.security.stream import StreamRedactor, redact_stream_text

TOKEN = "ghp_Zq8xW3vN5tR7yU1iO9pA2sD4fG6hJ0kL3mQw"
CANARY = "lmsa-canary-5f3c9a1e7b2d4c60"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nZ9x2Q\n-----END RSA PRIVATE KEY-----"


def stream(text: str, sizes: list[int], **options: object) -> tuple[str, list[str]]:
    redactor = StreamRedactor(**options)  # type: ignore[arg-type]
    pieces, at = [], 0
    for size in sizes:
        pieces.append(redactor.feed(text[at : at + size]))
        at += size
    pieces.append(redactor.feed(text[at:]))
    pieces.append(redactor.flush())
    return "".join(pieces), pieces


def test_secret_split_across_chunks_never_leaves() -> None:
    text = f"Your token is {TOKEN} keep it safe."
    out, pieces = stream(text, [1] * len(text))
    assert out == "Your token is [REDACTED:github_token] keep it safe."
    emitted = ""
    for piece in pieces:
        emitted += piece
        assert TOKEN[:6] not in emitted


def test_canary_split_across_chunks_and_spelled_with_spaces() -> None:
    text = f"Marker {CANARY}. Again: lmsa - canary - {CANARY[12:20]} {CANARY[20:]} end"
    out, _ = stream(text, [2] * len(text), canary=CANARY)
    assert CANARY not in out and CANARY[12:] not in out.replace(" ", "")
    assert out == "Marker [REDACTED:canary]. Again: [REDACTED:canary] end"


def test_nothing_is_held_back_beyond_a_possible_match() -> None:
    redactor = StreamRedactor(canary=CANARY)
    assert redactor.feed("The answer is forty two") == "The answer is forty"
    assert redactor.held == " two"
    assert redactor.feed(" and lmsa-can") == " two and"
    assert redactor.held == " lmsa-can"  # could still become the canary
    assert redactor.feed("dle light ") == " lmsa-candle light"
    assert redactor.held == " "
    assert redactor.flush() == " "


def test_private_key_block_is_held_until_it_ends_then_redacted() -> None:
    redactor = StreamRedactor()
    shown = redactor.feed("key:\n" + KEY[:40])
    assert "MII" not in shown and shown.startswith("key:")
    shown += redactor.feed(KEY[40:] + "\nafter ")
    assert shown + redactor.flush() == "key:\n[REDACTED:private_key]\nafter "


def test_allowed_values_stay_and_known_secrets_go() -> None:
    known = [SecretFinding("file_secret", "PINEAPPLE-42-XYZ")]
    text = f"code PINEAPPLE-42-XYZ and {TOKEN} here"
    assert redact_stream_text(text, known=known, allow=[TOKEN]) == (
        f"code [REDACTED:file_secret] and {TOKEN} here"
    )


def test_result_does_not_depend_on_chunking() -> None:
    text = (
        f"password = 'Sup3rS3cretValue!x'\nToken {TOKEN}, canary {CANARY}.\n{KEY}\n"
        "Plain words with numbers 42 and tabs\tand  double spaces. "
    )
    whole = redact_stream_text(text, canary=CANARY)
    assert TOKEN not in whole and CANARY not in whole and "MIIE" not in whole
    assert "Sup3rS3cretValue" not in whole
    chooser = random.Random(7)
    for _ in range(30):
        sizes = [chooser.randint(1, 9) for _ in range(len(text))]
        assert stream(text, sizes, canary=CANARY)[0] == whole


def test_stored_answer_is_what_the_stream_showed() -> None:
    layer = SecurityLayer(SecurityPolicy(canary=CANARY), AuditLog())
    text = f"Here: {TOKEN} and {CANARY} done"
    stored = layer.check_output(text, known_secrets=[], allow=[]).redacted_text
    assert stored == stream(text, [3] * len(text), canary=CANARY)[0]
    assert TOKEN not in stored and CANARY not in stored
