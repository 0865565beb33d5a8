"""File tools over a :class:`~lmsa.tools.workspace.Workspace`.

Error convention: every failure a model can cause or fix (a bad path, a missing file, an
ambiguous edit) is raised as :class:`langchain_core.tools.ToolException` with a one-sentence
message. Tools are built with ``handle_tool_error=False`` so the exception reaches the executor,
which alone decides how a failure becomes an observation (and whether it counts against the
step). Programming errors are not converted and surface as themselves.

Paths in outputs are workspace-relative, so the model can pass them straight back to a tool.

Over 500 lines because the tools share one set of path helpers (the jail, the walk, globbing,
binary sniffing); split apart, a tool's rules would sit in a module other than the tool.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import os
import re
import shutil
import stat as stat_module
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from lmsa.tools.cache import path_state, tree_state
from lmsa.tools.registry import RiskLevel, ToolRegistry
from lmsa.tools.workspace import Workspace

MAX_FILE_BYTES = 2 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192
MAX_MATCH_LINE_CHARS = 240
SKIPPED_DIRS = frozenset({".git"})

_Args = TypeVar("_Args", bound=BaseModel)


# --- argument schemas -------------------------------------------------------------------------


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


class WriteFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")
    overwrite: bool = Field(
        default=True, description="Replace the file if it exists; if false, refuse instead."
    )


class EditFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    search: str = Field(
        min_length=1, description="Exact existing text to replace, including whitespace."
    )
    replace: str = Field(description="Text to put in its place.")
    count: int = Field(
        default=1,
        ge=0,
        description=(
            "How many occurrences the search text may have (all are replaced): "
            "1 means it must be unique, 0 replaces every occurrence."
        ),
    )


class DeleteFileArgs(BaseModel):
    path: str = Field(description="File or directory path, relative to the workspace root.")
    recursive: bool = Field(
        default=False, description="Needed to delete a directory that is not empty."
    )


class MoveFileArgs(BaseModel):
    source: str = Field(description="Existing file or directory, relative to the workspace root.")
    destination: str = Field(description="New path, relative to the workspace root.")
    overwrite: bool = Field(
        default=False, description="Replace an existing destination file; if false, refuse."
    )


class FileInfoArgs(BaseModel):
    path: str = Field(description="File or directory path, relative to the workspace root.")


# --- helpers ----------------------------------------------------------------------------------


def _tool_errors(workspace: Workspace, func: Callable[[_Args], str]) -> Callable[[_Args], str]:
    """Turn the OS's errors into one readable sentence with a workspace-relative path.

    ``str(OSError)`` would show errno numbers and absolute paths, which only distract a model.
    """

    @functools.wraps(func)
    def wrapper(args: _Args) -> str:
        try:
            return func(args)
        except ToolException:
            raise
        except OSError as exc:
            if exc.errno is not None and exc.strerror and exc.filename is not None:
                shown = workspace.relative(Path(os.fsdecode(exc.filename)))
                message = f"{exc.strerror}: '{shown}'."
            else:
                message = str(exc)
            raise ToolException(message) from exc

    return wrapper


def _make_tool(
    *,
    name: str,
    description: str,
    capability: str,
    risk: RiskLevel,
    schema: type[_Args],
    impl: Callable[[_Args], str],
    extra: dict[str, Any] | None = None,
) -> BaseTool:
    """Build a StructuredTool whose function receives its arguments as the validated model.

    Re-validating inside keeps the defaults in one place (the schema) whether the tool is
    invoked through LangChain or called directly.
    """

    def func(**kwargs: Any) -> str:
        return impl(schema.model_validate(kwargs))

    async def coroutine(**kwargs: Any) -> str:
        # File I/O is blocking; a thread keeps the event loop (and the HTTP server) responsive.
        return await asyncio.to_thread(func, **kwargs)

    return StructuredTool.from_function(
        func=func,
        coroutine=coroutine,
        name=name,
        description=description,
        args_schema=schema,
        infer_schema=False,
        metadata={"capability": capability, "risk": risk, **(extra or {})},
        handle_tool_error=False,
    )


def _split_lines(text: str) -> list[str]:
    """Lines as editors number them: only ``\\n`` separates, a final newline adds no line.

    ``str.splitlines`` also splits on form feeds and Unicode separators, which would make our
    line numbers disagree with the user's editor.
    """
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


def _looks_binary(head: bytes) -> bool:
    return b"\0" in head[:BINARY_SNIFF_BYTES]


def _read_text_file(
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
            f"'{shown}' is {_human_size(size)}, over the {_human_size(MAX_FILE_BYTES)} limit "
            "for reading; use search_files to find the relevant lines."
        )
    data = real.read_bytes()
    if _looks_binary(data):
        raise ToolException(f"'{shown}' looks like a binary file (it contains NUL bytes).")
    if strict_utf8:
        try:
            return real, data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolException(
                f"'{shown}' is not valid UTF-8 text, so it cannot be edited safely."
            ) from None
    return real, data.decode("utf-8", errors="replace")


MAX_GLOB_PATTERNS = 64


def _expand_braces(pattern: str) -> list[str]:
    """``*.{py,md}`` -> ``*.py``, ``*.md``: models write brace globs that fnmatch lacks. At
    most :data:`MAX_GLOB_PATTERNS` (nested or repeated braces multiply)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    expanded: list[str] = []
    for option in match.group(1).split(","):
        expanded.extend(_expand_braces(head + option + tail))
        if len(expanded) > MAX_GLOB_PATTERNS:
            raise ToolException(
                f"The pattern {pattern!r} expands to more than {MAX_GLOB_PATTERNS} patterns."
            )
    return expanded


def _glob_matcher(glob: str) -> Callable[[str, str], bool]:
    """Match a file by name, or by its path below the search root when the glob has a '/'."""
    patterns = _expand_braces(glob.strip() or "*")

    def matches(relpath: str, name: str) -> bool:
        for pattern in patterns:
            if "/" not in pattern:
                if fnmatch.fnmatchcase(name, pattern):
                    return True
                continue
            if fnmatch.fnmatchcase(relpath, pattern):
                return True
            # '**/' also matches zero directories, as in shells with globstar.
            trimmed = pattern
            while trimmed.startswith("**/"):
                trimmed = trimmed[3:]
                if fnmatch.fnmatchcase(relpath, trimmed):
                    return True
            if "/**/" in pattern and fnmatch.fnmatchcase(relpath, pattern.replace("/**/", "/")):
                return True
        return False

    return matches


def _walk(base: Path, *, recursive: bool) -> Iterator[os.DirEntry[str]]:
    """Entries in path order (a directory's contents right after it), not following symlinks.

    Not following symlinked directories both keeps the walk inside the workspace and makes
    symlink loops harmless.
    """
    stack: list[Iterator[os.DirEntry[str]]] = [iter(_sorted_entries(base))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        yield entry
        if recursive and entry.name not in SKIPPED_DIRS and entry.is_dir(follow_symlinks=False):
            try:
                stack.append(iter(_sorted_entries(Path(entry.path))))
            except OSError:
                continue  # unreadable directory: list it, skip its contents


def _sorted_entries(directory: Path) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as entries:
        return sorted(entries, key=lambda entry: entry.name)


# --- tools ------------------------------------------------------------------------------------


def make_file_tools(workspace: Workspace) -> list[BaseTool]:
    """The file tools, each bound to ``workspace`` so no call can reach outside it. Each
    carries the root in its metadata (``workspace_root``), so a registry holding them can show
    the planner the folder (:meth:`ToolRegistry.view_workspace`)."""
    tools = _file_tools(workspace)
    for tool in tools:
        tool.metadata = {**(tool.metadata or {}), "workspace_root": str(workspace.root)}
    return tools


def _file_tools(workspace: Workspace) -> list[BaseTool]:

    def read_file(args: ReadFileArgs) -> str:
        real, text = _read_text_file(workspace, args.path)
        shown = workspace.relative(real)
        lines = _split_lines(text)
        total = len(lines)
        if total == 0:
            return f"{shown} (empty file, 0 lines)"
        if args.start_line > total:
            raise ToolException(
                f"start_line {args.start_line} is past the end of '{shown}', "
                f"which has {total} lines."
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

    def list_dir(args: ListDirArgs) -> str:
        real = workspace.resolve(args.path, must_exist=True)
        shown = workspace.relative(real)
        if not real.is_dir():
            raise ToolException(f"'{shown}' is a file, not a directory; use read_file to read it.")
        lines: list[str] = []
        truncated = False
        for entry in _walk(real, recursive=args.recursive):
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
                    size = _human_size(entry.stat(follow_symlinks=False).st_size)
                except OSError:
                    size = "size unknown"
                lines.append(f"{rel}  ({size})")
        title = "." if shown == "." else f"{shown}/"
        if not lines:
            return f"{title} is empty."
        kind = "recursive listing" if args.recursive else "listing"
        header = f"{title} ({kind}, {len(lines)} entries)"
        if truncated:
            lines.append(
                f"[truncated at {args.max_entries} entries; list a subdirectory "
                "or raise max_entries]"
            )
        return "\n".join([header, *lines])

    def find_files(args: FindFilesArgs) -> str:
        base = workspace.resolve(args.path, must_exist=True)
        shown_base = workspace.relative(base)
        if not base.is_dir():
            raise ToolException(
                f"'{shown_base}' is a file, not a directory; to look for text inside files, "
                "use search_files."
            )
        matches_glob = _glob_matcher(args.pattern)
        found: list[str] = []
        truncated = False
        for entry in _walk(base, recursive=True):
            if entry.is_dir(follow_symlinks=False):
                continue
            if not matches_glob(Path(entry.path).relative_to(base).as_posix(), entry.name):
                continue
            if len(found) >= args.max_results:
                truncated = True
                break
            found.append(workspace.relative(Path(entry.path)))
        where = "the workspace" if shown_base == "." else f"'{shown_base}'"
        if not found:
            return f"No files named {args.pattern!r} in {where}."
        if truncated:
            return "\n".join(
                [
                    f"More than {len(found)} files named {args.pattern!r} in {where}; the "
                    "first ones:",
                    *found,
                    "[stopped; narrow the pattern or the path, or raise max_results]",
                ]
            )
        noun = "file" if len(found) == 1 else "files"
        return "\n".join([f"{len(found)} {noun} named {args.pattern!r} in {where}:", *found])

    def search_files(args: SearchFilesArgs) -> str:
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
        matches_glob = _glob_matcher(args.glob)

        if base.is_dir():
            candidates: Iterator[tuple[Path, str]] = (
                (Path(entry.path), Path(entry.path).relative_to(base).as_posix())
                for entry in _walk(base, recursive=True)
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
            if _looks_binary(data):
                continue
            searched += 1
            shown = workspace.relative(candidate)
            for number, line in enumerate(_split_lines(data.decode("utf-8", "replace")), 1):
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

    def write_file(args: WriteFileArgs) -> str:
        real = workspace.resolve(args.path)
        shown = workspace.relative(real)
        if real.is_dir():
            raise ToolException(f"'{shown}' is a directory; give a file path to write.")
        if not args.overwrite and os.path.lexists(real):
            raise ToolException(
                f"'{shown}' already exists and overwrite is false; "
                "use edit_file or set overwrite=true."
            )
        workspace.atomic_write(real, args.content)
        return f"Wrote {len(args.content.encode('utf-8'))} bytes to {shown}"

    def edit_file(args: EditFileArgs) -> str:
        real, text = _read_text_file(workspace, args.path, strict_utf8=True)
        shown = workspace.relative(real)
        search, replace = args.search, args.replace
        found = text.count(search)
        if found == 0 and "\r\n" in text and "\n" in search and "\r\n" not in search:
            # The model saw the file with its line endings normalised; match it as written.
            search, replace = search.replace("\n", "\r\n"), replace.replace("\n", "\r\n")
            found = text.count(search)
        if found == 0:
            raise ToolException(
                f"The search text was not found in '{shown}'; no changes were made."
            )
        if args.count and found > args.count:
            expected = "once" if args.count == 1 else f"{args.count} times"
            raise ToolException(
                f"The search text occurs {found} times in '{shown}' but was expected {expected}; "
                "include more surrounding text to make it unique, or set count=0 to replace all."
            )
        workspace.atomic_write(real, text.replace(search, replace))
        noun = "occurrence" if found == 1 else "occurrences"
        return f"Edited {shown}: replaced {found} {noun}."

    def _entry(path: str) -> Path:
        """The entry a path names *itself*: its directory resolved inside the jail, its last
        component not followed, so deleting or moving a symlink acts on the link, never on
        what it points to (which may be outside the workspace)."""
        raw = Path(path)
        if raw.name in ("", ".", ".."):
            real = workspace.resolve(path, must_exist=True)
        else:
            real = workspace.resolve(raw.parent) / raw.name
            if not os.path.lexists(real):
                raise FileNotFoundError(
                    f"No such file or directory in the workspace: '{workspace.relative(real)}'."
                )
        if real == workspace.root:
            raise ToolException("The workspace root itself cannot be deleted or moved.")
        return real

    def delete_file(args: DeleteFileArgs) -> str:
        real = _entry(args.path)
        shown = workspace.relative(real)
        if real.is_symlink() or not real.is_dir():
            real.unlink()
            return f"Deleted {shown}"
        if any(real.iterdir()):
            if not args.recursive:
                raise ToolException(
                    f"'{shown}' is a directory that is not empty; set recursive=true to delete "
                    "it with everything in it."
                )
            shutil.rmtree(real)  # rmtree never follows symlinks inside the tree
            return f"Deleted directory {shown} and its contents"
        real.rmdir()
        return f"Deleted empty directory {shown}"

    def move_file(args: MoveFileArgs) -> str:
        source = _entry(args.source)
        destination = workspace.resolve(args.destination)
        if destination.is_dir() and destination != source:
            destination = workspace.resolve(destination / source.name)
        shown_src, shown_dst = workspace.relative(source), workspace.relative(destination)
        if destination == workspace.root:
            raise ToolException("Cannot move something onto the workspace root.")
        if source.is_dir() and destination.is_relative_to(source):
            raise ToolException(f"Cannot move '{shown_src}' into itself.")
        if os.path.lexists(destination):
            if not args.overwrite:
                raise ToolException(
                    f"'{shown_dst}' already exists and overwrite is false; choose another "
                    "destination or set overwrite=true."
                )
            if destination.is_dir() and not destination.is_symlink():
                raise ToolException(f"'{shown_dst}' is a directory; it is never replaced.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
        return f"Moved {shown_src} to {shown_dst}"

    def file_info(args: FileInfoArgs) -> str:
        entry = _entry(args.path) if args.path not in (".", "", "./") else workspace.root
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
            f"size: {_human_size(st.st_size)} ({st.st_size} bytes)",
            f"modified: {modified}",
            f"permissions: {stat_module.filemode(st.st_mode)}",
        ]
        if stat_module.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES:
            data = entry.read_bytes()
            if _looks_binary(data):
                lines.append("content: binary")
            else:
                lines.append(
                    f"content: text, {len(_split_lines(data.decode('utf-8', 'replace')))} lines"
                )
        return "\n".join(lines)

    def stat_of(field: str) -> Callable[[dict[str, Any]], str | None]:
        return lambda args: path_state(workspace, str(args.get(field, ".")))

    def tree_of(args: dict[str, Any]) -> str | None:
        return tree_state(workspace, str(args.get("path", ".")))

    def listing_of(args: dict[str, Any]) -> str | None:
        return tree_state(
            workspace, str(args.get("path", ".")), recursive=bool(args.get("recursive"))
        )

    def writes(verb: str, *fields: str) -> Callable[[dict[str, Any]], tuple[RiskLevel, str]]:
        def assess(args: dict[str, Any]) -> tuple[RiskLevel, str]:
            named = " -> ".join(str(args.get(f, "")) for f in fields)
            if "content" in args:
                named += f" ({len(str(args['content']).encode('utf-8'))} bytes)"
            if args.get("recursive"):
                named += " and everything in it"
            return "write", f"{verb} {named}"

        return assess

    return [
        _make_tool(
            name="read_file",
            description=(
                "Read a UTF-8 text file in the workspace, optionally a range of lines. "
                "Output starts with a header giving the line range and total line count."
            ),
            capability="Read the contents of a text file (or a range of its lines).",
            risk="read",
            schema=ReadFileArgs,
            impl=_tool_errors(workspace, read_file),
            extra={"fingerprint": stat_of("path")},
        ),
        _make_tool(
            name="list_dir",
            description=(
                "List a directory in the workspace: directories end with '/', files show "
                "their size, symlinks end with '@'. Recursive listings skip .git."
            ),
            capability=(
                "List everything in a directory, optionally recursively (for files of one "
                "kind, such as Python files, use find_files)."
            ),
            risk="read",
            schema=ListDirArgs,
            impl=_tool_errors(workspace, list_dir),
            extra={"fingerprint": listing_of},
        ),
        _make_tool(
            name="find_files",
            description=(
                "Find files by name anywhere under a directory (subdirectories included), "
                "e.g. pattern '*.py'. Output: how many there are, then their paths."
            ),
            capability=(
                "Find and count files by their name, such as all '*.py' files (it does not "
                "look inside files)."
            ),
            risk="read",
            schema=FindFilesArgs,
            impl=_tool_errors(workspace, find_files),
            extra={"fingerprint": tree_of},
        ),
        _make_tool(
            name="search_files",
            description=(
                "Search text files under a directory for lines containing a string or "
                "matching a regex (line by line). Results are 'path:line: text'. Skips binary "
                "files, files over 2 MiB and .git."
            ),
            capability=(
                "Find which files (and lines) contain a text, such as TODO or a function name."
            ),
            risk="read",
            schema=SearchFilesArgs,
            impl=_tool_errors(workspace, search_files),
            extra={"fingerprint": tree_of},
        ),
        _make_tool(
            name="write_file",
            description=(
                "Create or replace a text file in the workspace with the given content "
                "(written atomically; parent directories are created)."
            ),
            capability="Create a new file or replace a file's whole content.",
            risk="write",
            schema=WriteFileArgs,
            impl=_tool_errors(workspace, write_file),
            extra={"assess": writes("writes", "path")},
        ),
        _make_tool(
            name="edit_file",
            description=(
                "Replace an exact piece of text in an existing file. The search text must "
                "match exactly (whitespace included) and, with count=1, occur exactly once."
            ),
            capability="Change part of an existing file by replacing an exact text snippet.",
            risk="write",
            schema=EditFileArgs,
            impl=_tool_errors(workspace, edit_file),
            extra={"assess": writes("edits", "path")},
        ),
        _make_tool(
            name="delete_file",
            description=(
                "Delete a file, a symlink (not its target) or a directory (recursive=true when "
                "it is not empty) inside the workspace."
            ),
            capability="Delete a file or directory.",
            risk="write",
            schema=DeleteFileArgs,
            impl=_tool_errors(workspace, delete_file),
            extra={"assess": writes("deletes", "path")},
        ),
        _make_tool(
            name="move_file",
            description=(
                "Move or rename a file or directory inside the workspace; into a directory if "
                "the destination is one. Refuses to replace an existing file unless overwrite."
            ),
            capability="Rename or move a file or directory.",
            risk="write",
            schema=MoveFileArgs,
            impl=_tool_errors(workspace, move_file),
            extra={"assess": writes("moves", "source", "destination")},
        ),
        _make_tool(
            name="file_info",
            description=(
                "Show what a path is (file, directory, symlink and its target), its size, "
                "modification time, permissions and, for text files, the line count."
            ),
            capability="Check whether a path exists and what it is, without reading it.",
            risk="read",
            schema=FileInfoArgs,
            impl=_tool_errors(workspace, file_info),
            extra={"fingerprint": stat_of("path")},
        ),
    ]


def default_registry(workspace_root: Path | str) -> ToolRegistry:
    """The registry an assistant gets when the host adds no tools of its own."""
    return ToolRegistry(make_file_tools(Workspace(workspace_root)))
