"""What the file tools share: binding a tool to its workspace with readable errors, line
splitting, sizes, binary sniffing, globbing, and a walk that never follows symlinks.

Error convention: every failure a model can cause or fix (a bad path, a missing file, an
ambiguous edit) is raised as :class:`langchain_core.tools.ToolException` with a one-sentence
message; the executor alone decides how a failure becomes an observation (and whether it counts
against the step). Programming errors are not converted and surface as themselves.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from langchain_core.tools import ToolException
from pydantic import BaseModel

from lmsa.tools.workspace import Workspace

BINARY_SNIFF_BYTES = 8192
SKIPPED_DIRS = frozenset({".git"})
MAX_GLOB_PATTERNS = 64

Args = TypeVar("Args", bound=BaseModel)


def bind(workspace: Workspace, impl: Callable[[Workspace, Args], str]) -> Callable[[Args], str]:
    """``impl`` bound to ``workspace``, with the OS's errors turned into one readable sentence
    with a workspace-relative path.

    ``str(OSError)`` would show errno numbers and absolute paths, which only distract a model.
    """

    def run(args: Args) -> str:
        try:
            return impl(workspace, args)
        except ToolException:
            raise
        except OSError as exc:
            if exc.errno is not None and exc.strerror and exc.filename is not None:
                shown = workspace.relative(Path(os.fsdecode(exc.filename)))
                message = f"{exc.strerror}: '{shown}'."
            else:
                message = str(exc)
            raise ToolException(message) from exc

    return run


def split_lines(text: str) -> list[str]:
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


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


def looks_binary(head: bytes) -> bool:
    return b"\0" in head[:BINARY_SNIFF_BYTES]


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


def glob_matcher(glob: str) -> Callable[[str, str], bool]:
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


def walk(base: Path, *, recursive: bool) -> Iterator[os.DirEntry[str]]:
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


def named_entry(workspace: Workspace, path: str) -> Path:
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
