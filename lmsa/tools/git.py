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

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field, field_validator

from lmsa.tools.cache import git_state, tree_state
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

    def git_fingerprint(with_tree: bool) -> Any:
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

    specs: list[tuple[str, str, str, type[BaseModel], Any, RiskLevel, dict[str, Any]]] = [
        (
            "git_status",
            "Show the branch and changed/untracked files (git status --short).",
            "See which files changed in the git repository.",
            GitStatusArgs,
            status,
            "read",
            {"fingerprint": git_fingerprint(True)},
        ),
        (
            "git_diff",
            "Show changes as a unified diff (working tree, staged, or against a ref).",
            "See exactly what changed in files tracked by git.",
            GitDiffArgs,
            diff,
            "read",
            {"fingerprint": git_fingerprint(True)},
        ),
        (
            "git_log",
            "List recent commits: short hash, date, author, subject.",
            "See the commit history.",
            GitLogArgs,
            log,
            "read",
            {"fingerprint": git_fingerprint(False)},
        ),
        (
            "git_commit",
            "Stage the given paths (or all changes) and create a commit.",
            "Record changes in git with a commit message.",
            GitCommitArgs,
            commit,
            "write",
            {"assess": commit_assess},
        ),
    ]
    tools: list[BaseTool] = []
    for name, description, capability, schema, impl, risk, extra in specs:
        tools.append(_tool(name, description, capability, schema, impl, risk, extra, timeout))
    return tools


def _tool(
    name: str,
    description: str,
    capability: str,
    schema: type[BaseModel],
    impl: Any,
    risk: RiskLevel,
    extra: dict[str, Any],
    timeout: float,
) -> BaseTool:
    async def coroutine(**kwargs: Any) -> str:
        result: str = await impl(schema.model_validate(kwargs))
        return result

    def func(**kwargs: Any) -> str:
        return asyncio.run(coroutine(**kwargs))

    return StructuredTool.from_function(
        func=func,
        coroutine=coroutine,
        name=name,
        description=description,
        args_schema=schema,
        infer_schema=False,
        metadata={"capability": capability, "risk": risk, "max_seconds": timeout, **extra},
        handle_tool_error=False,
    )
