"""Small helpers the nodes share for reading the conversation and rendering results."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage

from lmsa.llm.replies import message_text
from lmsa.llm.structured import dumps
from lmsa.tools import ToolRegistry
from lmsa.tools.figures import shared_figures
from lmsa.tools.tables import describe_table, table_delimiter

CLARIFICATION_MARK = "lmsa_clarification"
"""Set in ``additional_kwargs`` of a clarification question and its answer: they belong to the
turn that asked, so they must not count as the start of a new turn."""


def last_user_text(messages: Sequence[AnyMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def recent_history(messages: Sequence[AnyMessage], turns: int) -> list[AnyMessage]:
    """The last ``turns`` user turns with everything said after each, so prompts stay small
    while the model still sees what "it" and "that file" refer to."""
    turns = max(turns, 1)  # the current turn is always needed
    # From the end: a long conversation costs no more per turn than a short one.
    first: int | None = None
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, HumanMessage) and not m.additional_kwargs.get(CLARIFICATION_MARK):
            first = i
            turns -= 1
            if not turns:
                break
    if first is None:
        return list(messages)
    return list(messages[first:])


def render_results(
    results: Sequence[dict[str, Any]],
    cap: int,
    tools: ToolRegistry | None = None,
    *,
    raw_tables: bool = False,
) -> str:
    """Tool results as the model sees them: each output cut to ``cap`` characters with a note
    (the full output stays in state for the user); with ``tools``, each call shows only the
    arguments that differ from their defaults. A table a file holds is also restated row by
    row with its columns' totals and extremes (:mod:`lmsa.tools.tables`), in place of its raw
    lines unless ``raw_tables`` (a planner copying text to replace needs them); a small model
    reading both mixes up the columns again. Numbers that several files read give under one
    name follow, with their total (:mod:`lmsa.tools.figures`). The line before each
    output names the call in words, not as code: a small model copies a ``name({...})`` line
    into the file it writes."""
    blocks = []
    headers = _table_headers(results)
    for result in results:
        args = result["args"]
        if tools is not None and isinstance(args, dict):
            args = tools.explicit_args(result["tool"], args)
        header = f"Result of {result['tool']}{_described(args)}"
        if result["ok"]:
            output = str(result["output"])
            if len(output) > cap:
                omitted = len(output) - cap
                output = f"{output[:cap]}\n[... {omitted} more characters truncated ...]"
            if result.get("tool") == "search_files":
                output = _search_view(output, headers)
            table = _table_view(result)
            if table and raw_tables:
                output += "\n" + RESTATED_TABLE + "\n" + table
            elif table:
                output = output.partition("\n")[0] + "\n" + table
            if result.get("tool") == "read_file":
                output = header_as_footer(output)
            blocks.append(f"{header}:\n{output}")
        else:
            blocks.append(f"{header} failed: {result['error']}")
    figures = shared_figures(results)
    if figures:
        blocks.append(f"{SHARED_FIGURES}\n{figures}")
    return "\n\n".join(blocks)


_READ_HEADER = re.compile(r"^(?P<path>.+) \((?P<span>\d+ lines?|lines \d+-\d+ of \d+)\)$")


def read_footer(output: str) -> str | None:
    """The line :func:`header_as_footer` puts after a ``read_file`` output, or ``None``."""
    match = _READ_HEADER.match(output.partition("\n")[0])
    return f"[end of {match['path']}: {match['span']}]" if match else None


def header_as_footer(output: str) -> str:
    """``read_file``'s first line (``notes.txt (2 lines)``) moved after the contents, as
    ``[end of notes.txt: 2 lines]``: a small model asked what a file says answers with the
    first line it sees, which was the header itself or its line count ("2" for "at what
    time ..."); after the contents, the count is still there for "how many lines"."""
    _, newline, body = output.partition("\n")
    footer = read_footer(output)
    if not newline or footer is None:
        return output
    return f"{body}\n{footer}"


_FOOTER = re.compile(r"^\[(\d+) match(?:es)? in (.+)\]$")
_HIT = re.compile(r"^(.+?):(\d+): (.*)$")


def _table_headers(results: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The column names of the tables read this turn, by path."""
    headers: dict[str, list[str]] = {}
    for result in results:
        path = str((result.get("args") or {}).get("path", ""))
        delimiter = table_delimiter(path)
        if result.get("tool") != "read_file" or not result.get("ok") or delimiter is None:
            continue
        lines = str(result.get("full_output") or result.get("output") or "").split("\n")
        if len(lines) > 1:
            headers[path] = next(csv.reader([lines[1]], delimiter=delimiter), [])
    return headers


def _search_view(output: str, headers: dict[str, list[str]]) -> str:
    """``search_files`` output with its count first (a small model answers "how many" from
    the first line it sees) and hits in a table that was read restated with the column names."""
    lines = output.split("\n")
    footer = _FOOTER.match(lines[-1]) if lines else None
    if footer is not None:
        count = int(footer.group(1))
        noun = "line matches" if count == 1 else "lines match"
        lines = [f"{count} {noun} in {footer.group(2)}:", *lines[:-1]]
    shown = []
    for line in lines:
        hit = _HIT.match(line)
        header = headers.get(hit.group(1)) if hit else None
        delimiter = table_delimiter(hit.group(1)) if hit else None
        if hit is None or not header or delimiter is None:
            shown.append(line)
            continue
        cells = next(csv.reader([hit.group(3)], delimiter=delimiter), [])
        pairs = [f"{name}: {value}" for name, value in zip(header, cells, strict=False)]
        shown.append(f"{hit.group(1)} line {hit.group(2)}: " + "; ".join(pairs))
    return "\n".join(shown)


RESTATED_TABLE = "The same table, one row per line (computed from the file):"
SHARED_FIGURES = "Numbers the files above give under the same name (added up by code):"


def _described(args: Any) -> str:
    if not isinstance(args, dict) or not args:
        return ""
    parts = []
    for key, value in args.items():
        shown = value if isinstance(value, str) else dumps(value)
        if len(shown) > ARG_SHOWN:
            shown = shown[: ARG_SHOWN - 1] + "…"
        parts.append(f"{key} {shown}")
    return " (" + ", ".join(parts) + ")"


ARG_SHOWN = 80


def _table_view(result: dict[str, Any]) -> str | None:
    """The row-by-row view of a whole CSV/TSV file that ``read_file`` returned."""
    if result.get("tool") != "read_file" or result.get("quarantined"):
        return None
    delimiter = table_delimiter(str((result.get("args") or {}).get("path", "")))
    if delimiter is None:
        return None
    text = str(result.get("full_output") or result.get("output") or "")
    header, _, body = text.partition("\n")
    if not header.endswith(("line)", "lines)")) or " of " in header:
        return None  # only part of the file was read: its columns' totals would be wrong
    return describe_table(body, delimiter)


def user_requests(messages: Sequence[AnyMessage], turns: int) -> str:
    """What the user wrote in the last ``turns`` turns (clarification answers included): what
    they named, as opposed to what the assistant mentioned."""
    return "\n".join(
        message_text(m) for m in recent_history(messages, turns) if isinstance(m, HumanMessage)
    )


def turn_request(messages: Sequence[AnyMessage]) -> str:
    """The user's words in the current turn: the request and any clarification answers."""
    return "\n".join(
        message_text(m) for m in recent_history(messages, 1) if isinstance(m, HumanMessage)
    )
