"""Figures that several files read in one turn give under the same name, added up by code.

Asked for the total revenue of two quarters kept in two files, a small model reads
``Revenue: 1200 EUR`` and ``Revenue: 1800 EUR`` and answers 2000, or plans a calculation
over the words ("Q1 revenue + Q2 revenue"): it copies numbers well and adds them badly, the
reason tables already get their column totals (:mod:`lmsa.tools.tables`). So when two or more
files read in a turn each state a number under the same label (``Revenue: 1200 EUR``,
``weight_kg=12.5``, ``Seiten: 34``), the model is also shown the values side by side with their
total and, for two files, their difference. Only what the files say is used: one number per
label and file (a label a file states twice is left out for that file), labels compared
without case and spacing, nothing inferred.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from lmsa.tools.tables import parse_number, show_number

_FIGURE = re.compile(
    r"^\s*(?P<label>[^\W\d_][\w .'/()-]{0,40}?)\s*[:=]\s*"
    r"(?P<value>[-+]?[$€£]?\s?\d[\d,]*(?:\.\d+)?)\s*(?P<unit>%|[^\W\d_]{1,12})?\.?\s*$"
)
MAX_LABELS = 12


def _figures(text: str) -> dict[str, tuple[str, float, str]]:
    """Label key -> (label as written, value, unit) for each label stated once in ``text``."""
    found: dict[str, tuple[str, float, str]] = {}
    repeated: set[str] = set()
    for line in text.splitlines():
        match = _FIGURE.match(line)
        if not match:
            continue
        value = parse_number(match["value"].replace(" ", ""))
        if value is None:
            continue
        label = match["label"].strip()
        key = " ".join(label.lower().replace("_", " ").split())
        if key in found:
            repeated.add(key)
        found[key] = (label, value, match["unit"] or "")
    for key in repeated:
        del found[key]
    return found


def _read_files(results: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(path, contents) of each file read successfully, once per path, in reading order."""
    files: dict[str, str] = {}
    for result in results:
        if result.get("tool") != "read_file" or not result.get("ok"):
            continue
        path = str((result.get("args") or {}).get("path", ""))
        output = str(result.get("full_output") or result.get("output") or "")
        if path and path not in files:
            files[path] = output.partition("\n")[2]  # after the "name (N lines)" header
    return list(files.items())


def shared_figures(results: Sequence[dict[str, Any]]) -> str | None:
    """One line per label that two or more files read in ``results`` give a number for, or
    ``None`` when there is none."""
    files = _read_files(results)
    if len(files) < 2:
        return None
    per_file = [(path, _figures(text)) for path, text in files]
    keys: dict[str, None] = {}
    for _, figures in per_file:
        keys.update(dict.fromkeys(figures))
    lines = []
    for key in keys:
        given = [(path, figures[key]) for path, figures in per_file if key in figures]
        if len(given) < 2:
            continue
        label = given[0][1][0]
        units = {unit for _, (_, _, unit) in given}
        unit = f" {units.pop()}" if len(units) == 1 and "" not in units else ""  # all agree
        values = [value for _, (_, value, _) in given]
        parts = ", ".join(f"{path} {show_number(value)}{unit}" for path, (_, value, _) in given)
        line = f"{label}: {parts}; total {show_number(round(sum(values), 10))}{unit}"
        if len(given) == 2:
            (first, _), (second, _) = given
            difference = show_number(round(values[1] - values[0], 10))
            line += f"; {second} minus {first}: {difference}{unit}"
        lines.append(line)
        if len(lines) == MAX_LABELS:
            break
    return "\n".join(lines) or None
