"""Git tools: status, diff, log (read-only, cached by repository state) and commit (approval).

Every call is an argv list run without a shell. Options that make git run other programs are
pinned off for the read tools (``core.fsmonitor``, pagers, external diff drivers and textconv):
a repository the user cloned could otherwise make a harmless ``git status`` execute its config.
Refs and paths from the model are checked before they reach git: a ref may not start with ``-``
(option injection) and paths must be inside the workspace; both go after ``--`` where git
allows it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, field_validator

from lmsa.tools.cache import Fingerprint, git_dir, git_state, tree_state
from lmsa.tools.factory import make_tool
from lmsa.tools.process import child_env, run_process
from lmsa.tools.registry import RiskLevel
from lmsa.tools.workspace import Workspace

_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./~^@{}:+-]*$")
_SAFE = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "color.ui=false",
    "-c",
    "diff.external=",
    "-c",
    "core.quotepath=false",
]


def _check_ref(value: str | None) -> str | None:
    if value is not None and not _REF.match(value):
        raise ValueError("must be a branch, tag, commit or range like HEAD~1 or main..HEAD")
    return value


class GitStatusArgs(BaseModel):
    path: str | None = Field(default=None, description="Limit to this path (optional).")


class GitDiffArgs(BaseModel):
    staged: bool = Field(default=False, description="Show staged changes instead of unstaged.")
    ref: str | None = Field(
        default=None, description="Compare against this commit/branch (e.g. HEAD~1) instead."
    )
    path: str | None = Field(default=None, description="Limit to this path (optional).")
    context_lines: int = Field(default=3, ge=0, le=50, description="Lines of context.")

    @field_validator("ref")
    @classmethod
    def _valid_ref(cls, value: str | None) -> str | None:
        return _check_ref(value)


class GitLogArgs(BaseModel):
    max_count: int = Field(default=10, ge=1, le=200, description="How many commits to show.")
    ref: str | None = Field(default=None, description="Branch, tag or range (default: HEAD).")
    path: str | None = Field(default=None, description="Only commits touching this path.")

    @field_validator("ref")
    @classmethod
    def _valid_ref(cls, value: str | None) -> str | None:
        return _check_ref(value)


class GitCommitArgs(BaseModel):
    message: str = Field(min_length=1, description="The commit message.")
    paths: list[str] = Field(
        default_factory=list, description="Files to stage before committing (optional)."
    )
    all: bool = Field(default=False, description="Stage every change (git add -A) first.")


def make_git_tools(
    workspace: Workspace, *, timeout: float = 30.0, output_bytes: int = 256_000
) -> list[BaseTool]:
    env = child_env({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"})

    async def inside(path: str | None) -> list[str]:
        if not path:
            return []
        real = await asyncio.to_thread(workspace.resolve, path)
        return ["--", workspace.relative(real)]

    async def git(*argv: str, read_only: bool = True) -> str:
        command = ["git", *(_SAFE if read_only else _SAFE[:2]), *argv]
        try:
            result = await run_process(
                command, cwd=workspace.root, timeout=timeout, output_cap=output_bytes, env=env
            )
        except FileNotFoundError:
            raise ToolException("git is not installed.") from None
        text = result.output.rstrip("\n")
        if result.timed_out:
            raise ToolException(f"git {argv[0]} timed out after {timeout:g} s.")
        if result.exit_code != 0:
            raise ToolException(f"git {argv[0]} failed (exit {result.exit_code}): {text[:2000]}")
        if result.dropped_bytes:
            text += f"\n[output cut: {result.dropped_bytes} more bytes]"
        return text

    async def status(args: GitStatusArgs) -> str:
        return await git("status", "--short", "--branch", *(await inside(args.path))) or "(clean)"

    async def diff(args: GitDiffArgs) -> str:
        argv = ["diff", "--no-ext-diff", "--no-textconv", "--no-color", f"-U{args.context_lines}"]
        if args.staged:
            argv.append("--cached")
        if args.ref:
            argv.append(args.ref)
        out = await git(*argv, *((await inside(args.path)) or ["--"]))
        return out or "(no differences)"

    async def log(args: GitLogArgs) -> str:
        argv = [
            "log",
            "--no-color",
            "--date=short",
            "--format=%h %ad %an: %s",
            f"--max-count={args.max_count}",
        ]
        if args.ref:
            argv.append(args.ref)
        return await git(*argv, *((await inside(args.path)) or ["--"])) or "(no commits)"

    async def commit(args: GitCommitArgs) -> str:
        if args.paths:
            staged = [
                workspace.relative(await asyncio.to_thread(workspace.resolve, p, must_exist=True))
                for p in args.paths
            ]
            await git("add", "--", *staged, read_only=False)
        elif args.all:
            await git("add", "-A", read_only=False)
        out = await git("commit", "-m", args.message, read_only=False)
        return out

    def git_fingerprint(with_tree: bool) -> Fingerprint:
        def fingerprint(args: dict[str, Any]) -> str | None:
            repo = git_state(workspace.root)
            if repo is None:
                return None
            if not with_tree:
                return repo
            tree = tree_state(workspace, ".")
            return None if tree is None else f"{repo}|{tree}"

        return fingerprint

    def commit_assess(args: dict[str, Any]) -> tuple[RiskLevel, str]:
        staged = (
            "all changes"
            if args.get("all")
            else (", ".join(args.get("paths") or []) or "the staged changes")
        )
        return "write", f"commits {staged} with message {str(args.get('message'))[:60]!r}"

    def in_a_repository() -> bool:
        # Offered to the planner only where they can work: outside a repository the word
        # "git" in ".gitignore" is enough for a small model to choose git_commit.
        return git_dir(workspace.root) is not None

    return [
        make_tool(
            name="git_status",
            description="Show the branch and changed/untracked files (git status --short).",
            schema=GitStatusArgs,
            capability="See which files changed in the git repository.",
            risk="read",
            arun=status,
            max_seconds=timeout,
            fingerprint=git_fingerprint(True),
            available=in_a_repository,
        ),
        make_tool(
            name="git_diff",
            description="Show changes as a unified diff (working tree, staged, or against a ref).",
            schema=GitDiffArgs,
            capability="See exactly what changed in files tracked by git.",
            risk="read",
            arun=diff,
            max_seconds=timeout,
            fingerprint=git_fingerprint(True),
            available=in_a_repository,
        ),
        make_tool(
            name="git_log",
            description="List recent commits: short hash, date, author, subject.",
            schema=GitLogArgs,
            capability="See the commit history.",
            risk="read",
            arun=log,
            max_seconds=timeout,
            fingerprint=git_fingerprint(False),
            available=in_a_repository,
        ),
        make_tool(
            name="git_commit",
            description="Stage the given paths (or all changes) and create a commit.",
            schema=GitCommitArgs,
            capability="Record changes in git with a commit message.",
            risk="write",
            arun=commit,
            max_seconds=timeout,
            assess=commit_assess,
            available=in_a_repository,
        ),
    ]
