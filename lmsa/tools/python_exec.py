"""``run_python``: runs a Python snippet in a separate interpreter, bounded and, where the OS
allows, without network.

Isolation, strongest first:
- a fresh ``python -I`` process (no user site-packages, no ``PYTHON*`` variables), its own
  process group (killed at the timeout with everything it started), cwd = the workspace root;
- resource limits set by a small launcher *inside* the child before the snippet runs (CPU
  seconds, address space, file size, open files, no core dumps); done there rather than with
  ``preexec_fn``, which is unsafe in a process that runs threads;
- no network: on Linux the child runs in a new, empty network namespace (``unshare --net``, with
  a user namespace when not root), where only a down loopback device exists. Where that is not
  possible the tool refuses to run, unless ``LMSA_PYTHON_UNISOLATED=true``: then the launcher
  replaces ``socket.socket`` for IPv4/IPv6 by a refusal, which stops ordinary library code but
  not a determined snippet; the output says which one applied.

The child gets a minimal environment (``snippet_env``): no API keys or tokens of the parent.

This is a guard against a confused model's accidents, not a sandbox for hostile code: the snippet
runs as the user and can read and write what the user can. That is why it needs approval.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from lmsa.tools.command_policy.network import NETWORK_CODE
from lmsa.tools.factory import make_tool
from lmsa.tools.process import describe, run_process
from lmsa.tools.registry import RiskLevel
from lmsa.tools.workspace import Workspace

_LAUNCHER = r"""
import resource, runpy, socket, sys
script, root, cpu, memory, fsize, nofile, block = sys.argv[1:8]
def limit(kind, value):
    value = int(value)
    try:
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass
limit(resource.RLIMIT_CPU, cpu)
limit(resource.RLIMIT_AS, memory)
limit(resource.RLIMIT_FSIZE, fsize)
limit(resource.RLIMIT_NOFILE, nofile)
limit(resource.RLIMIT_CORE, 0)
if block == "1":
    _socket = socket.socket
    class _NoNetwork(_socket):
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            if family in (-1, socket.AF_INET, socket.AF_INET6) and fileno is None:
                raise PermissionError("network access is disabled for run_python")
            super().__init__(family, type, proto, fileno)
    socket.socket = _NoNetwork
    def _refuse(*args, **kwargs):
        raise PermissionError("network access is disabled for run_python")
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
sys.argv = [script]
sys.path.insert(0, root)
runpy.run_path(script, run_name="__main__")
"""

_NAMESPACE_PROBE: dict[str, list[str] | None] = {}

# What a snippet may see of the parent's environment. Everything else stays behind: the server's
# API keys, LangSmith/OpenAI/cloud tokens. A network namespace does not hide variables, and
# without one the snippet can reach loopback services those tokens open.
_KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")


def snippet_env() -> dict[str, str]:
    """The environment ``run_python``'s child runs with: locale, paths and nothing else."""
    env = {name: os.environ[name] for name in _KEPT_ENV if name in os.environ}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"})
    return env


class RunPythonArgs(BaseModel):
    code: str = Field(min_length=1, description="Python source to run as a script (print results).")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds before it is killed (capped)."
    )


async def _network_namespace_prefix() -> list[str] | None:
    """The ``unshare`` prefix that gives the child an empty network namespace, if this machine
    allows one (probed once per process)."""
    if "prefix" in _NAMESPACE_PROBE:
        return _NAMESPACE_PROBE["prefix"]
    prefix: list[str] | None = None
    linux = sys.platform.startswith("linux")
    unshare = await asyncio.to_thread(shutil.which, "unshare") if linux else None
    if unshare:
        for candidate in ([unshare, "--net", "--map-root-user"], [unshare, "--net"]):
            with contextlib.suppress(OSError):
                probe = await asyncio.create_subprocess_exec(
                    *candidate,
                    "true",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                if await probe.wait() == 0:
                    prefix = candidate
                    break
    _NAMESPACE_PROBE["prefix"] = prefix
    return prefix


def make_run_python_tool(
    workspace: Workspace,
    *,
    timeout: float = 30.0,
    memory_mb: int = 1024,
    output_bytes: int = 256_000,
    allow_network: bool = False,
    max_file_mb: int = 64,
    allow_unisolated: bool = False,
) -> BaseTool:
    def assess(args: dict[str, Any]) -> tuple[RiskLevel, str]:
        lines = len(str(args.get("code", "")).splitlines())
        network = "with" if allow_network else "without"
        return "write", f"runs a {lines}-line Python snippet in the workspace, {network} network"

    async def run(args: RunPythonArgs) -> str:
        limit = min(args.timeout or timeout, timeout)
        prefix: list[str] = []
        isolation = "network allowed"
        if not allow_network:
            found = await _network_namespace_prefix()
            if found is None and not allow_unisolated:
                # The socket guard stops ordinary code, not a snippet that restores the real
                # socket: it could reach services on loopback (the lmsa server, Redis).
                raise ToolException(
                    "run_python cannot isolate snippets from the network on this machine (no "
                    "network namespace: `unshare --net` is unavailable), so it does not run "
                    "them. LMSA_PYTHON_UNISOLATED=true runs them behind a socket guard alone."
                )
            prefix = found or []
            isolation = "no network (namespace)" if found else "no network (socket guard)"
        scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix="lmsa-python-")
        try:
            script = Path(scratch) / "snippet.py"
            await asyncio.to_thread(script.write_text, args.code, encoding="utf-8")
            argv = [
                *prefix,
                sys.executable,
                "-I",
                "-c",
                _LAUNCHER,
                str(script),
                str(workspace.root),
                str(int(limit) + 1),
                str(memory_mb * 1024 * 1024),
                str(max_file_mb * 1024 * 1024),
                "256",
                "1" if not allow_network and not prefix else "0",
            ]
            result = await run_process(
                argv,
                cwd=workspace.root,
                timeout=limit,
                output_cap=output_bytes,
                env=snippet_env(),
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
        body = result.output.rstrip("\n") or "(no output)"
        text = f"{body}\n{describe(result, timeout=limit)} [{isolation}]"
        if result.timed_out:
            raise ToolException(text)
        return text

    return make_tool(
        name="run_python",
        description=(
            "Run a Python 3 snippet in a separate process with the workspace as cwd; returns "
            "what it prints and its exit code. Time, memory and file size are limited and "
            "there is no network access. Needs the user's approval."
        ),
        schema=RunPythonArgs,
        capability="Compute or check something by running a short Python script.",
        risk="write",
        arun=run,
        assess=assess,
        # A snippet importing a network library is a way out for data (even where the sandbox
        # would stop it: the person decides); gated after untrusted input (nodes/_approval).
        egress=lambda args: bool(NETWORK_CODE.search(str(args.get("code", "")))),
        max_seconds=timeout,
    )
