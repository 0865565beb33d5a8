"""Turns text into the views the injection scorer reads, so obfuscation does not hide intent.

Hand-written on purpose: the folding needed here is small and must run in well under a
millisecond per 2 KB; libraries that do full Unicode confusable skeletons (UTS #39) are far
slower and fold far more than lookalike attacks need. Every view is for *scoring only*; the text
that reaches the model is never rewritten by this module.

Views produced by :func:`views`:

- ``plain``: NFKC (full-width letters, ligatures), format characters (zero-width spaces and
  joiners, word joiners, soft hyphens, bidi controls) removed, Cyrillic/Greek lookalikes folded to
  Latin, accents stripped, lower-cased, punctuation runs turned into single spaces.
- ``joined``: ``plain`` with spaced-out letters (``i g n o r e``) and hyphenated words rejoined;
  only made when the text shows such patterns.
- ``joined`` also rejoins letters split by dots, stars, underscores or slashes (``i.g.n.o.r.e``).
- ``leet``: ``plain`` with digit/symbol substitutions (``1gn0r3``) undone; only made when words mix
  letters and digits; a second leet view undoes symbols inside words (``@ll``, ``rul3$``), read
  before punctuation is dropped.
- ``decoded``: base64, hex, rot13, percent and HTML/Unicode escapes decoded to text, and the text
  read backwards; base64/hex spans are found by shape, rot13 and reversal only when the text
  names them (a blind pass would double the cost for nothing).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Callable

from lmsa.security.deferred import deferred

_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic lookalikes
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "ԁ": "d", "ɡ": "g", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
        "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p",
        "С": "c", "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
        # Greek lookalikes
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
        "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m",
        "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l"})  # fmt: skip

_NON_ASCII = deferred(r"[^\x00-\x7f]")
_SPACED_LETTERS = deferred(r"\b(?:\w ){3,}\w\b")
_LETTER_RUN = deferred(r"(?<!\w)(?:[^\W\d_] ){6,}[^\W\d_](?!\w)")
_HYPHENATED = deferred(r"(?<=[a-z])-(?=[a-z])")
# A word of four or more characters with a digit between letters ("1gn0r3", "pr0mpt"); short
# tokens such as "q3" or "mp3" are names, and rewriting them would score the text twice.
_LEET_WORD = deferred(r"\b(?=\w*[a-z][0-9])(?=\w{4,})\w+\b|\b(?=\w*[0-9][a-z])(?=\w{4,})\w+\b")
# Letters split by dots, stars, underscores or slashes ("i.g.n.o.r.e", "r*u*l*e*s").
_SEPARATED = deferred(r"(?<!\w)(?:\w[._*/|~+\\]){3,}\w(?!\w)")
_SEPARATORS = deferred(r"[._*/|~+\\]")
# Symbols standing for letters inside a word ("@ll", "rul3$", "pr!nt").
_SYMBOL_LEET = deferred(r"(?<![\w@$!|])(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[@$!|])[\w@$!|]{3,}")
_BASE64_SPAN = deferred(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX_SPAN = deferred(r"\b(?:[0-9a-fA-F]{2}){8,}\b")
_ROT13_HINT = deferred(r"rot[\s_-]?13|rot13", re.IGNORECASE)
# Text written backwards is read backwards only when the text says so, as rot13 is (substring
# tests: a regex scan for these costs more than the rest of the decoding).
_REVERSED_HINTS = (
    "revers", "backward", "rückwärts", "ruckwarts", "l'envers", "al revés", "al reves",
    "al contrario", "ao contrário", "ao contrario", "наоборот", "задом", "справа налево",
    "倒过来", "倒著", "反过来", "逆さ", "逆から", "거꾸로", "معكوس", "بالعكس",
)  # fmt: skip
_PRINTABLE_RATIO = 0.9
_PERCENT_ESCAPE = deferred(r"%[0-9a-fA-F]{2}")
_UNICODE_ESCAPE = deferred(r"\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def strip_format_chars(text: str) -> str:
    """Removes invisible format characters (Unicode category Cf: zero-width spaces and joiners,
    soft hyphens, bidi overrides) that split keywords without changing how the text looks."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _prefold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = strip_format_chars(text).translate(_HOMOGLYPHS)
        if _NON_ASCII.search(text):
            decomposed = unicodedata.normalize("NFKD", text)
            text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return text.lower()


_PUNCTUATION = (
    '!"#$%&()*+,:;<=>?@[\\]^`{|}-' + "\u00ab\u00bb\u201c\u201d\u201e\u00bf\u00a1\u2026\u2013\u2014"
)
_PUNCT_TABLE = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))


def _clean(text: str) -> str:
    # str.translate and split/join run in C: several times faster than regex substitution.
    text = text.translate(_PUNCT_TABLE)
    if "." in text:
        text = text.replace(". ", " ").rstrip(".")
    return " ".join(text.split())


def fold(text: str) -> str:
    """The ``plain`` view described in the module docstring."""
    return _clean(_prefold(text))


def _windows(text: str, spans: list[tuple[int, int]], margin: int = 80) -> list[tuple[int, int]]:
    """Merged ``margin``-padded windows around ``spans``: extra views are built only where the
    obfuscation is, so a long text with one hyphen does not get scored twice in full."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        start, end = max(0, start - margin), min(len(text), end + margin)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _rewrite(text: str, spans: list[tuple[int, int]], rewrite: Callable[[str], str]) -> str:
    return " | ".join(rewrite(text[start:end]) for start, end in _windows(text, spans))


def unspaced(view: str) -> str:
    """ "з а б у д ь  в с ё" -> "забудь всё": letters spaced out one by one, with wider gaps
    between the words, are joined back into those words."""
    if "  " not in view or view.count(" ") < 8:
        return view
    parts = re.split(r"(\s{2,})", view)
    for index in range(0, len(parts), 2):
        letters = parts[index].split(" ")
        if len(letters) >= 3 and all(
            len(letter.strip(_SPACED_PUNCTUATION)) <= 1 for letter in letters
        ):
            parts[index] = "".join(letters)
    return "".join(parts)


_SPACED_PUNCTUATION = ",.:;!?、，。：；！？"


def _joined(prefolded: str, plain: str) -> str | None:
    parts: list[str] = []
    if "  " in prefolded and _LETTER_RUN.search(prefolded):
        # "p l e a s e   t u r n   o f f": wider gaps between the words keep them apart
        rejoined = _clean(unspaced(prefolded))
        if rejoined != plain:
            parts.append(rejoined)
    if "-" in prefolded:
        spans = [m.span() for m in _HYPHENATED.finditer(prefolded)]
        if spans:
            parts.append(_rewrite(prefolded, spans, lambda s: _clean(_HYPHENATED.sub("", s))))
    if any(ch in prefolded for ch in "._*/|~+\\"):
        spans = [m.span() for m in _SEPARATED.finditer(prefolded)]
        if spans:
            parts.append(
                _rewrite(
                    prefolded,
                    spans,
                    lambda s: _clean(_SEPARATED.sub(lambda m: _SEPARATORS.sub("", m.group(0)), s)),
                )
            )
    if sum(len(token) == 1 for token in plain.split()) >= 4:
        spans = [m.span() for m in _SPACED_LETTERS.finditer(plain)]
        if spans:
            # "i g n o r e a l l" -> "ignoreall": word boundaries are lost, so the scorer's
            # phrase patterns allow missing spaces between their key words.
            parts.append(
                _rewrite(
                    plain,
                    spans,
                    lambda s: _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), s),
                )
            )
    return " | ".join(parts) if parts else None


def _symbol_leet(prefolded: str) -> str | None:
    if not any(ch in prefolded for ch in "@$!|"):
        return None
    spans = [m.span() for m in _SYMBOL_LEET.finditer(prefolded)]
    if not spans:
        return None
    return _rewrite(
        prefolded,
        spans,
        lambda s: _clean(
            _SYMBOL_LEET.sub(lambda m: m.group(0).translate(_LEET), s).translate(_LEET)
        ),
    )


def _leet(plain: str) -> str | None:
    if not any(ch.isdigit() for ch in plain):
        return None
    spans = [m.span() for m in _LEET_WORD.finditer(plain)]
    if not spans:
        return None
    return _rewrite(
        plain, spans, lambda s: _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), s)
    )


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if printable / len(text) < _PRINTABLE_RATIO or letters / len(text) < 0.5:
        return None
    return text


def decoded_spans(text: str) -> list[str]:
    """Readable text hidden as base64, hex, rot13, percent or HTML/Unicode escapes, or written
    backwards, inside ``text``."""
    found: list[str] = []
    lowered = text.lower()
    if "rot" in lowered and _ROT13_HINT.search(text):
        found.append(codecs.decode(text, "rot13"))
    if any(hint in lowered for hint in _REVERSED_HINTS):
        found.append(text[::-1])
    if "%" in text and len(_PERCENT_ESCAPE.findall(text)) >= 6:
        found.append(urllib.parse.unquote(text))  # %69%67%6e%6f%72%65
    if "&#" in text or ("\\u" in text and _UNICODE_ESCAPE.search(text)):
        found.append(_UNICODE_ESCAPE.sub(_unescape, html.unescape(text)))  # &#105; \u0069
    if max(map(len, text.split()), default=0) < 16:
        return found  # no token long enough to hide a payload
    for match in _HEX_SPAN.finditer(text):
        decoded = _readable(binascii.unhexlify(match.group(0)))
        if decoded:
            found.append(decoded)
    for match in _BASE64_SPAN.finditer(text):
        span = match.group(0)
        if span.isdigit() or (span.isalpha() and (span.islower() or span.isupper())):
            continue  # plain words and numbers are not base64 payloads
        padded = span + "=" * (-len(span) % 4)
        try:
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(raw)
        if decoded:
            found.append(decoded)
    return found


def views(text: str) -> list[str]:
    """Every view of ``text`` worth scoring, ``plain`` first."""
    prefolded = _prefold(text)
    plain = _clean(prefolded)
    result = [plain]
    for extra in (_joined(prefolded, plain), _leet(plain), _symbol_leet(prefolded)):
        if extra and extra != plain:
            result.append(extra)
    for decoded in decoded_spans(text):
        result.append(fold(decoded))
    return result
