"""Word classes for :mod:`lmsa.security.structure`: verbs and nouns per attack *kind*, in the
eleven languages the guard covers (en, de, fr, es, it, pt, ru, zh, ja, ko, ar).

The lists live in ``data/kind_lexicon.txt`` (one class per ``[NAME]`` section, entries
separated by ``|``). They are single words and short noun phrases, not sentences: the structural
scorer only asks whether words of two classes occur close together ("a verb that switches
something off" near "the assistant's rules"), so a paraphrase that uses any verb of the class
and any noun of the target class is caught whatever the sentence around them says.

Latin-script entries are written folded (lower-case, accents stripped), as the ``plain`` view
reads them, and match as word *prefixes* (``ignor`` matches ignore, ignoriere, ignorez); an entry
ending in ``=`` must be a whole word (``ai=``). Cyrillic entries match as prefixes at a word start.
CJK, kana, Hangul and Arabic entries match anywhere (no word boundaries in CJK; Korean particles
and Arabic prefixes attach to the word).
"""

from __future__ import annotations

import functools
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "kind_lexicon.txt"

# Scripts written without spaces between words, or with affixes on the word, match anywhere.
UNBOUNDED = r"[\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"


def parse(text: str) -> dict[str, tuple[str, ...]]:
    """Class name -> entries, from the file's text (a trailing ``+`` stands for a space)."""
    classes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = classes.setdefault(line[1:-1], [])
            continue
        if current is None:
            raise ValueError(f"{DATA.name}: entries before any [CLASS]: {line!r}")
        for entry in line.split("|"):
            entry = entry.strip()
            if entry:
                current.append(entry[:-1] + " " if entry.endswith("+") else entry)
    return {name: tuple(entries) for name, entries in classes.items()}


@functools.cache
def classes() -> dict[str, tuple[str, ...]]:
    """The shipped word classes, read once per process."""
    return parse(DATA.read_text(encoding="utf-8"))
