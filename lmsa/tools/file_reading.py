"""The file tools that only read: ``read_file``, ``list_dir``, ``find_files``,
``search_files`` and ``file_info``.

Paths in outputs are workspace-relative, so the model can pass them straight back to a tool.
"""

from __future__ import annotations

import os
import re
import stat as stat_module
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.tools import ToolException
from pydantic import BaseModel, Field

from lmsa.tools.file_common import (
    glob_matcher,
    human_size,
    looks_binary,
    named_entry,
    split_lines,
    walk,
)
from lmsa.tools.workspace import Workspace

# One limit for every tool that reads a file's bytes (``edit_file`` through read_text_file).
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_MATCH_LINE_CHARS = 240


class ReadFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    start_line: int = Field(default=1, ge=1, description="First line to show (1-based).")
    max_lines: int = Field(
        default=400, ge=1, le=5000, description="How many lines to show at most."
    )


class ListDirArgs(BaseModel):
    path: str = Field(default=".", description="Directory path, relative to the workspace root.")
    recursive: bool = Field(
        default=False, description="Also list subdirectories (skips .git, not symlinks)."
    )
    max_entries: int = Field(
        default=200, ge=1, le=5000, description="Stop listing after this many entries."
    )


class FindFilesArgs(BaseModel):
    pattern: str = Field(
        min_length=1,
        max_length=200,
        description="File name pattern, e.g. '*.py', 'test_*' or 'docs/*.md'.",
    )
    path: str = Field(default=".", description="Directory to look in (and below).")
    max_results: int = Field(default=200, ge=1, le=2000, description="Stop after this many files.")


class SearchFilesArgs(BaseModel):
    pattern: str = Field(
        min_length=1, description="Text to look for on each line (a regex if regex is true)."
    )
    path: str = Field(
        default=".", description="Directory (or single file) to search, relative to the root."
    )
    glob: str = Field(
        default="*",
        description="Only search files whose name matches, e.g. '*.py' or 'src/**/*.ts'.",
    )
    regex: bool = Field(default=False, description="Treat pattern as a Python regular expression.")
    case_sensitive: bool = Field(default=False, description="Match letter case exactly.")
    max_results: int = Field(
        default=100, ge=1, le=2000, description="Stop after this many matching lines."
    )


class FileInfoArgs(BaseModel):
    path: str = Field(description="File or directory path, relative to the workspace root.")


def read_text_file(
    workspace: Workspace, path: str, *, strict_utf8: bool = False
) -> tuple[Path, str]:
    """Read a file the model asked for, refusing what would flood or garble its context."""
    real = workspace.resolve(path, must_exist=True)
    shown = workspace.relative(real)
    if real.is_dir():
        raise ToolException(f"'{shown}' is a directory, not a file; use list_dir to see it.")
    if not real.is_file():
        raise ToolException(f"'{shown}' is not a regular file.")
    size = real.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ToolException(
            f"'{shown}' is {human_size(size)}, over the {human_size(MAX_FILE_BYTES)} limit "
            "for reading; use search_files to find the relevant lines."
        )
    data = real.read_bytes()
    if looks_binary(data):
        raise ToolException(f"'{shown}' looks like a binary file (it contains NUL bytes).")
    if strict_utf8:
        try:
            return real, data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolException(
                f"'{shown}' is not valid UTF-8 text, so it cannot be edited safely."
            ) from None
    return real, data.decode("utf-8", errors="replace")


def read_file(workspace: Workspace, args: ReadFileArgs) -> str:
    real, text = read_text_file(workspace, args.path)
    shown = workspace.relative(real)
    lines = split_lines(text)
    total = len(lines)
    if total == 0:
        return f"{shown} (empty file, 0 lines)"
    if args.start_line > total:
        raise ToolException(
            f"start_line {args.start_line} is past the end of '{shown}', which has {total} lines."
        )
    first = args.start_line
    last = min(total, first + args.max_lines - 1)
    if first == 1 and last == total:
        # "7 lines" is what a small model quotes when asked for a count; "lines 1-7 of 7"
        # it misreads.
        header = f"{shown} ({total} line{'' if total == 1 else 's'})"
    else:
        header = f"{shown} (lines {first}-{last} of {total})"
    body = "\n".join(lines[first - 1 : last])
    if last < total:
        rest = total - last
        noun = "line" if rest == 1 else "lines"
        body += f"\n[{rest} more {noun}; continue with start_line={last + 1}]"
    return f"{header}\n{body}"


def list_dir(workspace: Workspace, args: ListDirArgs) -> str:
    real = workspace.resolve(args.path, must_exist=True)
    shown = workspace.relative(real)
    if not real.is_dir():
        raise ToolException(f"'{shown}' is a file, not a directory; use read_file to read it.")
    lines: list[str] = []
    files: list[str] = []
    truncated = False
    for entry in walk(real, recursive=args.recursive):
        if len(lines) >= args.max_entries:
            truncated = True
            break
        rel = workspace.relative(Path(entry.path))
        if entry.is_symlink():
            lines.append(f"{rel}@ (symlink)")
        elif entry.is_dir(follow_symlinks=False):
            lines.append(f"{rel}/")
        else:
            try:
                size = human_size(entry.stat(follow_symlinks=False).st_size)
            except OSError:
                size = "size unknown"
            lines.append(f"{rel}  ({size})")
            files.append(rel)
    title = "." if shown == "." else f"{shown}/"
    if not lines:
        return f"{title} is empty."
    kind = "recursive listing" if args.recursive else "listing"
    header = f"{title} ({kind}, {len(lines)} entries)"
    if truncated:
        lines.append(
            f"[truncated at {args.max_entries} entries; list a subdirectory or raise max_entries]"
        )
    if len(files) > 1:
        lines.append(by_type(files))
    return "\n".join([header, *lines])


# File kinds by extension, as people name them when they ask ("the Python files"). A listing
# grouped this way lets a small model answer "which X files" without matching extensions itself.
KINDS = {
    ".py": "Python", ".md": "Markdown", ".txt": "text", ".csv": "CSV", ".tsv": "TSV",
    ".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".ini": "INI",
    ".cfg": "config", ".js": "JavaScript", ".ts": "TypeScript", ".html": "HTML", ".css": "CSS",
    ".sh": "shell script", ".png": "PNG image", ".jpg": "JPEG image", ".jpeg": "JPEG image",
    ".pdf": "PDF", ".log": "log", ".xml": "XML", ".sql": "SQL", ".rs": "Rust", ".go": "Go",
    ".java": "Java", ".c": "C", ".h": "C header", ".cpp": "C++", ".rb": "Ruby", ".php": "PHP",
}  # fmt: skip
BY_TYPE_NAMES = 20


def by_type(files: list[str]) -> str:
    """One line grouping ``files`` by kind: ``By type: Python (.py): a.py, b.py; text ...``."""
    groups: dict[str, list[str]] = {}
    for path in files:
        suffix = Path(path).suffix.lower()
        groups.setdefault(suffix, []).append(path)
    parts = []
    for suffix, paths in groups.items():
        kind = f"{KINDS[suffix]} ({suffix})" if suffix in KINDS else (suffix or "no extension")
        shown = ", ".join(paths[:BY_TYPE_NAMES])
        if len(paths) > BY_TYPE_NAMES:
            shown += f" and {len(paths) - BY_TYPE_NAMES} more"
        parts.append(f"{kind}: {shown}")
    return "By type: " + "; ".join(parts)


def find_files(workspace: Workspace, args: FindFilesArgs) -> str:
    base = workspace.resolve(args.path, must_exist=True)
    shown_base = workspace.relative(base)
    if not base.is_dir():
        raise ToolException(
            f"'{shown_base}' is a file, not a directory; to look for text inside files, "
            "use search_files."
        )
    matches_glob = glob_matcher(args.pattern)
    found: list[str] = []
    truncated = False
    for entry in walk(base, recursive=True):
        if entry.is_dir(follow_symlinks=False):
            continue
        if not matches_glob(Path(entry.path).relative_to(base).as_posix(), entry.name):
            continue
        if len(found) >= args.max_results:
            truncated = True
            break
        found.append(workspace.relative(Path(entry.path)))
    where = "the workspace" if shown_base == "." else f"'{shown_base}'"
    if not found and _plain_word(args.pattern):
        # "Find TODO", "find parse_date": a word with no wildcard and no extension is rarely a
        # file name, and "find" in a request covers both; the files holding it answer better
        # than "no files", whichever tool the planner picked.
        within = search_files(workspace, SearchFilesArgs(pattern=args.pattern, path=args.path))
        return f"No file is named {args.pattern!r} in {where}; lines containing it:\n{within}"
    if not found:
        return f"No files named {args.pattern!r} in {where}."
    if truncated:
        return "\n".join(
            [
                f"More than {len(found)} files named {args.pattern!r} in {where}; the first ones:",
                *found,
                "[stopped; narrow the pattern or the path, or raise max_results]",
            ]
        )
    noun = "file" if len(found) == 1 else "files"
    return "\n".join([f"{len(found)} {noun} named {args.pattern!r} in {where}:", *found])


def _plain_word(pattern: str) -> bool:
    """A find pattern that is a bare word: no wildcard, no path, no extension."""
    return not any(c in pattern for c in "*?[]/\\.") and bool(pattern.strip())


def search_files(workspace: Workspace, args: SearchFilesArgs) -> str:
    flags = 0 if args.case_sensitive else re.IGNORECASE
    source = args.pattern if args.regex else re.escape(args.pattern)
    try:
        compiled = re.compile(source, flags)
    except re.error as exc:
        raise ToolException(
            f"Invalid regular expression {args.pattern!r}: {exc}; fix it or set regex=false."
        ) from None
    base = workspace.resolve(args.path, must_exist=True)
    shown_base = workspace.relative(base)
    matches_glob = glob_matcher(args.glob)

    if base.is_dir():
        candidates: Iterator[tuple[Path, str]] = (
            (Path(entry.path), Path(entry.path).relative_to(base).as_posix())
            for entry in walk(base, recursive=True)
            if not entry.is_dir(follow_symlinks=False)
        )
    else:
        candidates = iter([(base, base.name)])

    results: list[str] = []
    searched = 0
    truncated = False
    for candidate, relpath in candidates:
        if not matches_glob(relpath, candidate.name):
            continue
        try:
            real = workspace.resolve(candidate)  # a symlinked file may point outside
            if not real.is_file() or real.stat().st_size > MAX_FILE_BYTES:
                continue
            data = real.read_bytes()
        except OSError:  # includes WorkspaceEscape: skip silently, as grep would
            continue
        if looks_binary(data):
            continue
        searched += 1
        shown = workspace.relative(candidate)
        for number, line in enumerate(split_lines(data.decode("utf-8", "replace")), 1):
            if not compiled.search(line):
                continue
            if len(results) >= args.max_results:
                truncated = True
                break
            text = line.strip()
            if len(text) > MAX_MATCH_LINE_CHARS:
                text = text[: MAX_MATCH_LINE_CHARS - 1] + "…"
            results.append(f"{shown}:{number}: {text}")
        if truncated:
            break

    where = f"'{shown_base}'" + (f" (files matching {args.glob!r})" if args.glob != "*" else "")
    if not results:
        return f"No matches for {args.pattern!r} in {where}; {searched} files searched."
    footer = (
        f"[stopped at {args.max_results} matches; narrow the pattern, path or glob]"
        if truncated
        else f"[{len(results)} matches in {where}]"
    )
    return "\n".join([*results, footer])


def file_info(workspace: Workspace, args: FileInfoArgs) -> str:
    entry = (
        named_entry(workspace, args.path) if args.path not in (".", "", "./") else workspace.root
    )
    shown = workspace.relative(entry)
    st = entry.lstat()
    if stat_module.S_ISLNK(st.st_mode):
        target = os.readlink(entry)
        try:
            where = workspace.relative(workspace.resolve(entry))
        except (OSError, ValueError):
            where = "outside the workspace"
        kind = f"symlink -> {target} ({where})"
    elif stat_module.S_ISDIR(st.st_mode):
        kind = f"directory, {sum(1 for _ in os.scandir(entry))} entries"
    else:
        kind = "file"
    modified = datetime.fromtimestamp(st.st_mtime, tz=UTC).isoformat(timespec="seconds")
    lines = [
        f"{shown}: {kind}",
        f"size: {human_size(st.st_size)} ({st.st_size} bytes)",
        f"modified: {modified}",
        f"permissions: {stat_module.filemode(st.st_mode)}",
    ]
    if stat_module.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES:
        data = entry.read_bytes()
        if looks_binary(data):
            lines.append("content: binary")
        else:
            lines.append(
                f"content: text, {len(split_lines(data.decode('utf-8', 'replace')))} lines"
            )
    return "\n".join(lines)
