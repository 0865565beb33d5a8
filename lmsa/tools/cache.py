"""A cache for read-only tool results that cannot serve a stale read.

An entry's key is the tool, its arguments AND a fingerprint of the state the tool read (a file's
inode, size and change times; every entry of a directory tree; git's HEAD, refs and index), taken
just before the tool runs. A later lookup takes a fresh fingerprint, so a file changed by anyone
(our own tools, the user's editor, a command) no longer matches. On top of that any workspace
write through a tool bumps a generation and empties the cache, and a result computed while a
write happened is not stored.

Tools opt in by putting ``metadata["fingerprint"]`` (``args -> str | None``) on themselves;
``None`` means "cannot tell, don't cache". Tools that read the outside world (commands, the
web) have none. The LRU itself is :class:`cachetools.LRUCache`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from langchain_core.tools import BaseTool

from lmsa.tools.workspace import Workspace, WorkspaceEscape

Fingerprint = Callable[[dict[str, Any]], "str | None"]
MAX_TREE_ENTRIES = 20_000


class ToolResultCache:
    def __init__(self, maxsize: int = 256) -> None:
        self._entries: LRUCache[str, str] = LRUCache(maxsize=max(maxsize, 1))
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, tool: BaseTool, args: dict[str, Any]) -> str | None:
        fingerprint: Fingerprint | None = (tool.metadata or {}).get("fingerprint")
        if fingerprint is None or (tool.metadata or {}).get("risk", "read") != "read":
            return None
        try:
            state = fingerprint(args)
        except (OSError, ValueError):
            return None
        if state is None:
            return None
        return json.dumps([tool.name, args, state], sort_keys=True, default=str)

    def get(self, key: str | None) -> str | None:
        if key is None:
            return None
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str | None, value: str, generation: int) -> None:
        """Store unless the workspace was written since ``generation`` was read."""
        if key is not None and generation == self.generation:
            self._entries[key] = value

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()


# --- fingerprints ------------------------------------------------------------------------------


def _stat_line(path: Path) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path}:missing"
    return f"{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_mode}"


def path_state(workspace: Workspace, path: str) -> str | None:
    try:
        real = workspace.resolve(path)
    except WorkspaceEscape:
        return None
    return _stat_line(real)


def tree_state(workspace: Workspace, path: str = ".", *, recursive: bool = True) -> str | None:
    """Every entry under ``path`` (lstat, .git skipped), hashed; None for very large trees."""
    try:
        base = workspace.resolve(path)
    except WorkspaceEscape:
        return None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(_stat_line(base).encode())
    if not base.is_dir():
        return digest.hexdigest()
    count = 0
    stack = [base]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".git":
                continue
            count += 1
            if count > MAX_TREE_ENTRIES:
                return None
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError:
                digest.update(f"{entry.path}:broken".encode())
                continue
            digest.update(
                f"{entry.path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}".encode()
            )
            if recursive and entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return digest.hexdigest()


def git_dir(root: Path) -> Path | None:
    for candidate in (root, *root.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                return (candidate / text[len("gitdir:") :].strip()).resolve()
    return None


def git_state(root: Path) -> str | None:
    """HEAD, the branch it points at, packed refs and the index: what git's read commands see
    of the repository itself. None outside a repository (nothing to key on)."""
    directory = git_dir(root)
    if directory is None:
        return None
    head = (directory / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    parts = [head, _stat_line(directory / "index"), _stat_line(directory / "packed-refs")]
    if head.startswith("ref:"):
        ref = directory / head[4:].strip()
        parts.append(ref.read_text(encoding="utf-8").strip() if ref.is_file() else "packed")
    return "|".join(parts)
