"""A table read from a file, restated so a small model can quote from it.

Shown ``name,email,phone`` and three rows, a small model answers with the wrong row's email, or
with the phone number; asked for the largest value, it names the first. It copies well from a
line that says everything about one row, and it cannot compare or add a column at all. So a
CSV or TSV file the model reads is also shown with each numeric column's total, lowest and
highest value (and the row each is in) worked out here, then one row per line, each value next
to its column name. Everything shown is derived from the file by code; nothing is guessed.
"""

from __future__ import annotations

import csv
import io
import math
import re

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
MAX_ROWS_SHOWN = 60
MAX_COLUMNS = 20
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def table_delimiter(path: str) -> str | None:
    """The delimiter of a file that holds a table, by its name (``None`` for other files)."""
    lowered = path.lower()
    for suffix, delimiter in TABLE_SUFFIXES.items():
        if lowered.endswith(suffix):
            return delimiter
    return None


def parse_number(text: str) -> float | None:
    cleaned = text.strip().lstrip("$€£").rstrip("%").strip()
    if not _NUMBER.match(cleaned):
        return None
    try:
        value = float(cleaned.replace(",", ""))
    except ValueError:  # pragma: no cover - the pattern only admits numbers
        return None
    return value if math.isfinite(value) else None


def show_number(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    return f"{value:.10g}"


def describe_table(text: str, delimiter: str) -> str | None:
    """The table in ``text`` (header row first) as one line per row and a line per numeric
    column, or ``None`` when it does not parse as a table with a header and at least one row."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(row)]
    except csv.Error:
        return None
    if len(rows) < 2:
        return None
    header = [name.strip() or f"column {i + 1}" for i, name in enumerate(rows[0])]
    if len(header) < 2 or len(header) > MAX_COLUMNS:
        return None
    body = [[cell.strip() for cell in row] for row in rows[1:]]
    # The columns' facts first: a small model answers from the first lines it finds relevant.
    lines = [f"A table with {len(body)} rows; columns: {', '.join(header)}."]
    lines += _column_facts(header, body)
    for number, row in enumerate(body[:MAX_ROWS_SHOWN], 1):
        cells = [f"{name}: {value}" for name, value in zip(header, row, strict=False) if value]
        lines.append(f"Row {number}: " + "; ".join(cells))
    if len(body) > MAX_ROWS_SHOWN:
        lines.append(f"[{len(body) - MAX_ROWS_SHOWN} more rows not restated]")
    return "\n".join(lines)


def _label_column(header: list[str], body: list[list[str]]) -> int | None:
    """The first column that is not numeric: what a row is called (a name, a city, an item)."""
    for index in range(len(header)):
        values = [row[index] for row in body if index < len(row) and row[index]]
        if values and any(parse_number(value) is None for value in values):
            return index
    return None


def _column_facts(header: list[str], body: list[list[str]]) -> list[str]:
    label = _label_column(header, body)
    facts = []
    for index, name in enumerate(header):
        cells = [(row, row[index]) for row in body if index < len(row) and row[index]]
        numbers = [(row, parse_number(value)) for row, value in cells]
        if len(cells) < 2 or any(value is None for _, value in numbers):
            continue
        values = [(row, value) for row, value in numbers if value is not None]

        def which(row: list[str]) -> str:
            if label is None or label >= len(row) or not row[label]:
                return f"row {body.index(row) + 1}"
            return row[label]

        lowest = min(values, key=lambda pair: pair[1])
        highest = max(values, key=lambda pair: pair[1])
        total = math.fsum(value for _, value in values)
        facts.append(
            f"Column {name}: total {show_number(round(total, 10))}; "
            f"highest {show_number(highest[1])} ({which(highest[0])}); "
            f"lowest {show_number(lowest[1])} ({which(lowest[0])}); "
            f"average {show_number(round(total / len(values), 4))} over {len(values)} rows."
        )
    return facts
