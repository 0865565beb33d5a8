"""``run_command``: runs a command line in the workspace, judged first by :mod:`.command_policy`.

By default the line is split into words (POSIX quoting) and executed directly, with no shell: no
pipes, globbing or variables, so nothing in the line is interpreted twice. ``shell=true`` runs it
through ``/bin/sh -c``, which the policy parses with the same grammar; it can be switched off
(``LMSA_COMMAND_SHELL=false``).

The executor asks the tool's ``assess`` (in its metadata) for the call's class before anything
runs (read-only commands run, modifying ones need approval, dangerous ones are refused); the tool
checks again when it is invoked so that a caller that bypasses the executor still cannot run a
dangerous line.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from lmsa.tools.command_policy import CommandPolicy
from lmsa.tools.factory import make_tool
from lmsa.tools.process import child_env, describe, run_process
from lmsa.tools.registry import RiskLevel
from lmsa.tools.workspace import Workspace

_SHELL_WORDS = frozenset({"|", "||", "&&", ";", ">", ">>", "<", "&", "2>&1", "|&"})


class RunCommandArgs(BaseModel):
    command: str = Field(
        min_length=1,
        description=(
            "The command line, e.g. 'pytest -q tests' or 'git log -3'. Without shell=true it is "
            "split into words and run directly: no pipes, redirections, globs or variables."
        ),
    )
    shell: bool = Field(
        default=False, description="Run through /bin/sh so pipes, &&, redirections and globs work."
    )
    cwd: str = Field(default=".", description="Working directory, relative to the workspace root.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds before the command is killed (capped)."
    )


def make_run_command_tool(
    workspace: Workspace,
    *,
    policy: CommandPolicy | None = None,
    timeout: float = 60.0,
    output_bytes: int = 256_000,
    allow_shell: bool = True,
) -> BaseTool:
    policy = policy or CommandPolicy(workspace)

    def assess(args: dict[str, Any]) -> tuple[RiskLevel, str]:
        verdict = policy.classify(args.get("command", ""), args.get("cwd") or ".")
        return verdict.risk, verdict.reason

    async def run(args: RunCommandArgs) -> str:
        command, shell, cwd = args.command, args.shell, args.cwd
        verdict = await asyncio.to_thread(policy.classify, command, cwd)
        if verdict.risk == "dangerous":
            raise ToolException(f"Refused: {verdict.reason}. Dangerous commands are never run.")
        directory = await asyncio.to_thread(workspace.resolve, cwd, must_exist=True)
        if not await asyncio.to_thread(directory.is_dir):
            raise ToolException(f"cwd '{cwd}' is not a directory.")
        if shell:
            if not allow_shell:
                raise ToolException(
                    "Shell command lines are disabled here; run a single program without "
                    "pipes or redirections (shell=false), one step per program."
                )
            argv = ["/bin/sh", "-c", command]
        else:
            try:
                argv = shlex.split(command)
            except ValueError as error:
                raise ToolException(f"The command does not parse: {error}.") from None
            operators = sorted({word for word in argv if word in _SHELL_WORDS})
            if operators:
                raise ToolException(
                    f"The command uses shell syntax ({' '.join(operators)}) but shell is false; "
                    "set shell=true, or run the programs as separate steps."
                )
            if not argv:
                raise ToolException("The command is empty.")
        limit = min(args.timeout or timeout, timeout)
        try:
            result = await run_process(
                argv,
                cwd=directory,
                timeout=limit,
                output_cap=output_bytes,
                env=child_env({"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}),
            )
        except FileNotFoundError:
            raise ToolException(f"Program not found: '{argv[0]}'.") from None
        except PermissionError:
            raise ToolException(f"Program is not executable: '{argv[0]}'.") from None
        body = result.output.rstrip("\n") or "(no output)"
        text = f"$ {command}\n{body}\n{describe(result, timeout=limit)}"
        if result.timed_out:
            raise ToolException(text)
        return text

    return make_tool(
        name="run_command",
        description=(
            "Run a command in the workspace (tests, linters, builds, git, ls ...) and return its "
            "combined output and exit code. Read-only commands run at once; commands that "
            "change files need the user's approval; dangerous ones (deleting outside the "
            "workspace, sudo, network uploads, killing processes) are refused."
        ),
        schema=RunCommandArgs,
        capability="Run a shell command or program in the workspace and see its output.",
        risk="write",
        arun=run,
        assess=assess,
        # Whether this call can reach the network: gated after untrusted input (nodes/_approval).
        egress=lambda args: (
            policy.classify(args.get("command", ""), args.get("cwd") or ".").network
        ),
        max_seconds=timeout,
    )
