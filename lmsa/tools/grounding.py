"""What the planner is told about the workspace before it plans: a bounded listing, and which
paths named in the request exist.

A small model that cannot see the folder guesses: it answers a question about ``notes.txt``
without reading it, or invents ``src/TODO.md``. A few dozen real names cost a few hundred
tokens and let the plan name real files; the files the request names and that exist are read
before the model plans at all (see ``lmsa.nodes.plan``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lmsa.tools.workspace import Workspace, WorkspaceEscape

SKIPPED = {".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".ruff_cache"}
LISTING_LIMIT = 40

# Words that look like paths: a name with an extension (notes.txt, config.json), with a slash
# (src/app) or a dotfile (.gitignore, .env.local). Quotes and trailing punctuation are trimmed
# by the pattern's character classes.
_PATH_LIKE = re.compile(
    r"(?<![\w/.-])([\w.-]*[\w-]+(?:/[\w.-]+)*(?:\.[A-Za-z0-9]{1,8}|/)"
    r"|\.[A-Za-z][\w-]*(?:\.[\w-]+)*)"
)


@dataclass
class WorkspaceView:
    root: Path
    listing: list[str] = field(default_factory=list)
    truncated: bool = False
    named_files: list[str] = field(default_factory=list)
    named_dirs: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)  # existing paths and file-like words

    def render(self) -> str:
        lines = ["Files in the workspace" + (" (first entries)" if self.truncated else "") + ":"]
        lines.append(", ".join(self.listing) if self.listing else "(empty)")
        if self.named_files or self.named_dirs:
            named = [*self.named_files, *(f"{d}/" for d in self.named_dirs)]
            lines.append("The request names these existing paths: " + ", ".join(named) + ".")
        return "\n".join(lines)


def view_workspace(root: Path, request: str, limit: int = LISTING_LIMIT) -> WorkspaceView:
    """A breadth-first listing of at most ``limit`` entries (directories end in ``/``; hidden
    and tool directories skipped), plus the request's path-like words that exist inside."""
    workspace = Workspace(root)
    view = WorkspaceView(workspace.root)
    queue = [workspace.root]
    while queue and not view.truncated:
        directory = queue.pop(0)
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIPPED:
                continue
            if len(view.listing) >= limit:
                view.truncated = True
                break
            relative = Path(entry.path).relative_to(workspace.root).as_posix()
            if entry.is_dir(follow_symlinks=False):
                view.listing.append(relative + "/")
                queue.append(Path(entry.path))
            else:
                view.listing.append(relative)
    for word in dict.fromkeys(_PATH_LIKE.findall(request)):
        try:
            real = workspace.resolve(word.rstrip("/"), must_exist=True)
        except (WorkspaceEscape, OSError, ValueError):
            if _looks_like_a_file(word):
                view.mentioned.append(word)
            continue
        view.mentioned.append(word)
        shown = workspace.relative(real)
        if real.is_file() and shown not in view.named_files:
            view.named_files.append(shown)
        elif real.is_dir() and real != workspace.root and shown not in view.named_dirs:
            view.named_dirs.append(shown)
    _name_listed_folders(view, request)
    return view


_WORD = re.compile(r"[\w.-]+")


def _name_listed_folders(view: WorkspaceView, request: str) -> None:
    """Folders the request names by their bare name ("the src folder", "im Ordner docs"): a
    word equal to the name of a listed directory. Path-like words (``src/``) are found with the
    files; a bare word is matched only against folders that exist, so an ordinary word names
    a folder only where the user has one by that name."""
    folders: dict[str, str] = {}
    for entry in view.listing:
        if entry.endswith("/"):
            folders.setdefault(entry.rstrip("/").rsplit("/", 1)[-1], entry.rstrip("/"))
    for word in dict.fromkeys(_WORD.findall(request)):
        path = folders.get(word)
        if path is not None and len(word) >= 2 and path not in view.named_dirs:
            view.named_dirs.append(path)
            view.mentioned.append(path + "/")


def _looks_like_a_file(word: str) -> bool:
    """Whether a path-like word that does not exist (yet) names a file: ``hello.txt``,
    ``src/app.py``, ``.gitignore``, but not ``12.5``, ``3.12``, ``e.g`` or ``and/``."""
    if word.endswith("/"):
        return False
    if "/" in word:
        return True
    stem, _, extension = word.rpartition(".")
    if not stem:
        return True  # a dotfile
    return any(c.isalpha() for c in extension) and (len(stem) >= 2 or len(extension) >= 2)
