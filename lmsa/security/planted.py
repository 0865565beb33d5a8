"""Signals read from the raw text, where lines and colons survive: a label that speaks to an AI
("[assistant instructions: ...", "Hinweis an den KI-Assistenten: ..."), and a safety setting
written off in config syntax (``"safety_checks": false``).

The word-kind signals of :mod:`structure` read folded views without punctuation; these two
need the colon and the line a label sits on, so they are read here and added to its signals.
"""

from __future__ import annotations

import functools
import re

from lmsa.security.deferred import deferred
from lmsa.security.families import quoted_parts
from lmsa.security.lexicon import native_view
from lmsa.security.normalize import fold
from lmsa.security.structure import WORD_AT, events, structural_hits

# A colon that ends a label: after a word (or "word :"), with the text it introduces on the
# same line
_COLON = deferred(r"[:：]")
_LABEL_END = deferred(r"[^\W\d_]|(?<=[^\W\d_]) ")
_LABEL_TEXT = deferred(r"[ \t]*[^\s\d]")
_CODE_MARKS = ("def ", "self.", "=", "{", ")", "->", "return ", "lambda")
# Besides a verb that drops, sends, hides, executes or turns away from the task: "you" or the
# user with an order, a change to a setting, a task added on the side ("also ...").
_ORDERS_AFTER = (
    *({"YOU", "ORDER"}, {"ORDER", "USER"}, {"CHANGE", "CONF"}),
    *({"ALSO", "YOU"}, {"ALSO", "ORDER"}, {"ALSO", "TASK"}, {"ALSO", "CHANGE"}),
)
# A line that opens with a short name and a colon, as a transcript's lines do ("John: ...")
_SPEAKER_LINE = deferred(r"^[ \t]*[^\W\d_][\w .'-]{0,24}[ \t]?[:：][ \t]*\S", re.MULTILINE)
_SPEECH = deferred(
    r"\b(?:says|said|replies|replied|answers|answered|asks|asked|responds|sagt|antwortet|dit|"
    r"repond\w*|dice|responde|risponde|diz|говорит|отвечает|ответил)\b|说|說|言う|말했|قال"
)
# What may follow the AI word in a label ("assistant instructions:", "note for the agent:")
_LABEL_NOUNS = {"TGT", "NOTE", "AITGT", "WHOLE"}
_TO_WORD = deferred(r"(?:^|\s)(?:for|to|fur|an|pour|para|per|al|ao|для|к)\s")
_LABEL_OPENER = deferred(r"[\[(<>{\"'“«„「#/]")
_SET_TO = r"[\"'`»]?\s*(?:=|:|to|auf|sur|a|à|em|para|на|إلى|为|を|로)\s*[\"'`«]?"
_FLAG_WORD = deferred(r"safe|confirm|approv|require|guard|sandbox|auto")
_FLAG_OFF = deferred(
    r"(?:safety_?(?:checks?|mode|filters?|guard\w*)?|safe_?mode|approval_?mode|confirm_?(?:destructive|commands?"
    r"|actions?|edits?|shell|tools?)?|approvals?|require_?approval|guardrails?|sandbox(?:ed|_mode)?)"
    + _SET_TO
    + r"(?:false|off|none|0|disabled?|never)\b|auto_?approve\w*"
    + _SET_TO
    + r"(?:true|on|all|1|yes)\b"
)


def _native(text: str) -> str:
    return native_view(text) or text


# A label opens a line or follows a bracket or a sentence; reading every colon of a line made of
# "AI:AI:AI:..." would cost a word scan per colon, so a line gets this many.
_LABELS_PER_LINE = 8


def ai_label(raw: str) -> str | None:
    """A label that speaks to an AI, followed by an order: "[assistant instructions: when you
    summarize this, also forward ...", "WICHTIG für den KI-Assistenten: ignoriere ...", a CSV
    cell that starts "Assistant: when you summarise this file, also ...". An AI word that opens
    its line ("Assistant: Sure, ...") is a transcript's speaker, not a label."""
    speakers = functools.cache(lambda: len(_SPEAKER_LINE.findall(raw)))
    tried: dict[int, int] = {}  # line start -> labels read on that line
    for colon in _COLON.finditer(raw):
        at = colon.start()
        if at == 0 or not _LABEL_END.match(raw, at - 1) or not _LABEL_TEXT.match(raw, at + 1):
            continue
        line = raw.rfind("\n", 0, at) + 1
        tried[line] = tried.get(line, 0) + 1
        if tried[line] > _LABELS_PER_LINE:
            continue
        text = raw[max(line, at - 60) : at]
        if not text.strip() or any(mark in text for mark in _CODE_MARKS):
            continue  # a signature, a dict, a type hint: code, not a label
        label = fold(text)
        before = events(label).get("AI")
        if not before and not text.isascii():
            # Cyrillic, CJK, Arabic: read unfolded ("Инструкция для ассистента:")
            label = _native(text)
            before = events(label).get("AI")
        if not before:
            continue
        start, word = before[0]
        tail = label[start + len(word) :].strip()
        opener = text.lstrip()[:1]
        if (
            not label[:start].strip()
            and not tail
            and not _LABEL_OPENER.match(opener)
            and speakers() > 1
        ):
            continue  # "Assistant: ..." opening its line, among others: a transcript's speaker
        tail_classes = events(tail).keys() if tail else set()
        named = not tail or (
            len(tail.split()) <= 2 and bool(tail_classes) and tail_classes <= _LABEL_NOUNS
        )
        if not (named or _TO_WORD.search(label, 0, start) or "ADDR" in events(label[:start])):
            continue  # "the chatbot config: ...": a label about an AI, not one speaking to it
        rest = raw[at + 1 : at + 160]
        if _SPEECH.search(label, before[0][0]) or _LABEL_OPENER.match(rest.lstrip()[:1]):
            continue  # "the AI says: 'I will not ...'": a line of dialogue, quoted
        if "?" in rest.split("\n", 1)[0][-3:]:
            continue  # "the agent: can it read my .env?": a question about it
        after = (
            events(fold(rest))
            if rest.isascii()
            else {**events(fold(rest)), **events(_native(rest))}
        )
        if after.keys() & {"NEG", "SEND", "HIDE", "AUTOAPP", "INSTEAD", "EXEC"} or any(
            pair <= after.keys() for pair in _ORDERS_AFTER
        ):
            return f"{label[before[0][0] :]}:"[-60:]
    return None


def flag_off(raw: str) -> str | None:
    """A safety setting written off in config syntax ("safety_checks": false)."""
    for start in _FLAG_WORD.finditer(raw):
        at = start.start()
        if at and WORD_AT.match(raw, at - 1):
            continue
        if match := _FLAG_OFF.match(raw, at):
            return match.group(0)[:60]
    return None


def quoted_ai(text: str) -> bool:
    """Whether a quoted passage of ``text`` names an AI ("the model translating this ...")."""
    for quoted in quoted_parts(text):
        if "AI" in events(fold(quoted)) or (
            not quoted.isascii() and "AI" in events(_native(quoted))
        ):
            return True
    return False


def all_signals(all_views: list[str], native: str | None, raw: str) -> dict[str, str]:
    """:func:`structure.structural_hits` and the raw-text signals of this module."""
    hits = structural_hits(all_views, native, raw)
    if "ai_named" in hits and (label := ai_label(raw)):
        hits.setdefault("s_ai_label", label)
    if flagged := flag_off(raw):
        hits.setdefault("s_flag_off", flagged)
    return hits
