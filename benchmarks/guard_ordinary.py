"""False alarms of the input guard on ordinary text: documentation, code and READMEs that nobody
wrote to look like an attack.

``python benchmarks/guard_ordinary.py [--reasons] [--mode MODE] [--weights FILE]`` cuts three
sources into 2 KB pieces, as a user pasting them would send them, and counts how many
``check_input`` refuses (``--mode`` is ``LMSA_INJECTION_MODEL``: ngram, the default, off, confirm
or full; ``--weights`` tries other weights for the learned scorer):

* ``python docs``: the Python documentation's topics that ``pydoc`` ships (``pydoc_data``);
* ``stdlib code``: the modules of ten standard-library packages (json, email, http, asyncio, ...);
* ``package READMEs``: the long description of every installed distribution (its PyPI page);

and, apart, every paragraph of 100-400 characters of them (short text, where the learned scorer
blocks on its own).

The first two are fixed for a Python version; the third is whatever this environment installed
(the project pins it in ``constraints.txt``). Each source is split in two halves by a hash of the
document's name: ``tune`` is the half whose refusals may be read and fixed for (``--reasons``
prints the most frequent reasons there), ``measure`` is the half that is only counted, so a
fix for what was read is measured on documents it was not written against.

The labelled corpus (``benchmarks/guard.py``) holds short hard look-alikes; this shows what its
false-positive rate does not: how often ordinary long text trips the guard.
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import json
import re
import sys
import sysconfig
import zlib
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmsa.security import ngram_model
from lmsa.security.checks import check_input
from lmsa.security.policy import SecurityPolicy

SIZE = 2048
STDLIB = ("json", "email", "http", "asyncio", "logging", "urllib", "sqlite3", "importlib",
          "unittest", "concurrent")  # fmt: skip


def _python_docs() -> Iterator[tuple[str, str]]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield name, topics[name]


def _stdlib_code() -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for package in STDLIB:
        for path in sorted((root / package).rglob("*.py")):
            if "test" not in path.parts:
                text = path.read_text(encoding="utf-8", errors="replace")
                yield str(path.relative_to(root)), text


def _package_readmes() -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"] or ""):
        name = dist.metadata["Name"] or ""
        body = dist.metadata.get_payload() or ""  # type: ignore[attr-defined]
        if name and name not in seen and len(body) > 200:
            seen.add(name)
            yield name, body


SOURCES = {
    "python docs": _python_docs,
    "stdlib code": _stdlib_code,
    "package READMEs": _package_readmes,
}


def part_of(name: str) -> str:
    return "tune" if zlib.crc32(name.encode()) % 2 == 0 else "measure"


def pieces(part: str) -> Iterator[str]:
    """The 2 KB pieces of one half (``tune`` or ``measure``), every source in turn."""
    for documents in SOURCES.values():
        for name, text in documents():
            if part_of(name) == part:
                for start in range(0, len(text), SIZE):
                    yield text[start : start + SIZE]


def paragraphs(part: str) -> Iterator[str]:
    """The paragraphs of 100-400 characters of one half: short text, as most messages are."""
    for piece in pieces(part):
        for paragraph in re.split(r"\n\s*\n", piece):
            if 100 <= len(paragraph.strip()) <= 400:
                yield paragraph.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasons", action="store_true", help="the tune half's top reasons")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--mode", choices=("ngram", "off", "confirm", "full"), default="ngram", help="its setting"
    )
    parser.add_argument("--weights", type=Path, help="weights written by train_guard_model.py")
    args = parser.parse_args()
    policy = SecurityPolicy(injection_model=args.mode)
    if args.weights:
        model = ngram_model.NgramModel.load(args.weights)
        # check_input looks the model up at each call, so this swaps in the weights under test
        ngram_model.default_model = lambda: model  # type: ignore[method-assign]
    table: dict[str, dict[str, list[int]]] = {}
    reasons: collections.Counter[str] = collections.Counter()
    for source, documents in SOURCES.items():
        counts = {"tune": [0, 0], "measure": [0, 0]}
        for name, text in documents():
            part = part_of(name)
            for start in range(0, len(text), SIZE):
                verdict = check_input(text[start : start + SIZE], policy=policy)
                counts[part][0] += 1
                if not verdict.allowed:
                    counts[part][1] += 1
                    if part == "tune":
                        reasons.update(r[:70] for r in verdict.reasons if ": " in r)
        table[source] = counts
    short = {
        part: [not check_input(text, policy=policy).allowed for text in paragraphs(part)]
        for part in ("tune", "measure")
    }
    if args.json:
        counts = {part: [len(f), sum(f)] for part, f in short.items()}
        print(json.dumps({"pieces": table, "short_paragraphs": counts}, indent=2))
        return
    print(f"{'source':<18} {'tune: refused / pieces':>24} {'measure: refused / pieces':>27}")
    for source, counts in table.items():
        cells = [f"{c[1]:>5} / {c[0]:<5} {c[1] / max(c[0], 1):6.1%}" for c in counts.values()]
        print(f"{source:<18} {cells[0]:>24} {cells[1]:>27}")
    totals = [[sum(t[p][i] for t in table.values()) for i in (0, 1)] for p in ("tune", "measure")]
    cells = [f"{c[1]:>5} / {c[0]:<5} {c[1] / max(c[0], 1):6.1%}" for c in totals]
    print(f"{'all':<18} {cells[0]:>24} {cells[1]:>27}")
    cells = [f"{sum(f):>5} / {len(f):<5} {sum(f) / max(len(f), 1):6.1%}" for f in short.values()]
    print(f"{'short paragraphs':<18} {cells[0]:>24} {cells[1]:>27}   (100-400 characters)")
    if args.reasons:
        print("\nmost frequent reasons in the tune half:")
        for reason, count in reasons.most_common(40):
            print(f"{count:>4}  {reason}")


if __name__ == "__main__":
    main()
