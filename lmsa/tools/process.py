"""Runs a child process for a tool: argv only, bounded in time and in captured output.

Shared by ``run_command``, ``run_python`` and the git tools so they kill runaway children the
same way. The child gets its own session (process group), so a timeout or a cancelled turn kills
everything it started, not just the first process; output beyond the cap is drained and counted
but not kept, so a chatty child neither blocks on a full pipe nor fills memory.

Hand-written on asyncio rather than ``subprocess.run``: the latter blocks a thread for the whole
run and cannot be cancelled when the executor's own timeout fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 65536
_DROPPED_ENV_PREFIXES = ("LMSA_",)


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None  # None: killed at the timeout
    output: str
    dropped_bytes: int
    timed_out: bool
    seconds: float


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a tool's child runs with: the user's own, minus lmsa's settings (which
    may hold API keys the model has no business printing), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
    env.update(extra or {})
    return env


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    output_cap: int,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> ProcessResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=dict(env) if env is not None else child_env(),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    kept = bytearray()
    dropped = 0

    async def pump() -> None:
        nonlocal dropped
        if stdin is not None and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.write(stdin)
                await process.stdin.drain()
            process.stdin.close()
        assert process.stdout is not None
        while chunk := await process.stdout.read(_CHUNK):
            room = max(output_cap - len(kept), 0)
            kept.extend(chunk[:room])
            dropped += max(len(chunk) - room, 0)
        await process.wait()

    timed_out = False
    try:
        await asyncio.wait_for(pump(), timeout=timeout)
    except TimeoutError:
        timed_out = True
    finally:
        # Also reached when the executor cancels us: never leave the child running.
        if process.returncode is None:
            _kill_group(process.pid)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(process.wait())
        else:
            _kill_group(process.pid)  # grandchildren that outlived their parent
    return ProcessResult(
        exit_code=None if timed_out else process.returncode,
        output=kept.decode("utf-8", errors="replace"),
        dropped_bytes=dropped,
        timed_out=timed_out,
        seconds=loop.time() - started,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def describe(result: ProcessResult, *, timeout: float) -> str:
    """The status lines a model reads under a child's output."""
    notes = []
    if result.dropped_bytes:
        notes.append(f"[output cut: {result.dropped_bytes} more bytes were not captured]")
    if result.timed_out:
        notes.append(f"[killed after the {timeout:g} s timeout]")
    else:
        notes.append(f"[exit code {result.exit_code}]")
    return "\n".join(notes)
