"""run_command and run_python: real child processes in a temporary workspace."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest
from langchain_core.tools import ToolException

from lmsa.tools import Workspace, make_run_command_tool, make_run_python_tool
from lmsa.tools.registry import ToolRegistry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("alpha\nbeta\n")
    return tmp_path


# --- run_command ------------------------------------------------------------------------------


async def test_command_runs_argv_in_the_workspace(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    out = await tool.ainvoke({"command": "cat a.txt", "cwd": "src"})
    assert out.splitlines() == ["$ cat a.txt", "alpha", "beta", "[exit code 0]"]


async def test_command_nonzero_exit_is_reported_not_raised(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    out = await tool.ainvoke({"command": "ls does-not-exist"})
    assert "[exit code 2]" in out and "does-not-exist" in out


async def test_command_argv_mode_passes_quotes_literally(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    out = await tool.ainvoke({"command": "echo '$HOME; rm -rf /'"})
    assert "$HOME; rm -rf /" in out  # no shell: nothing expanded, nothing chained


async def test_command_refuses_shell_syntax_without_shell(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    with pytest.raises(ToolException, match="shell syntax"):
        await tool.ainvoke({"command": "cat src/a.txt | wc -l"})
    out = await tool.ainvoke({"command": "cat src/a.txt | wc -l", "shell": True})
    assert out.splitlines()[1].strip() == "2"


async def test_command_shell_can_be_disabled(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root), allow_shell=False)
    with pytest.raises(ToolException, match="disabled"):
        await tool.ainvoke({"command": "ls | wc -l", "shell": True})


async def test_dangerous_command_is_refused_by_the_tool_itself(root: Path) -> None:
    canary = root / "keep.txt"
    canary.write_text("x")
    tool = make_run_command_tool(Workspace(root))
    with pytest.raises(ToolException, match="Refused"):
        await tool.ainvoke({"command": "rm -rf .", "shell": True})
    assert canary.exists()


async def test_command_cwd_outside_workspace_is_refused(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    with pytest.raises(ToolException, match="Refused"):
        await tool.ainvoke({"command": "ls", "cwd": ".."})


async def test_command_timeout_kills_the_process_group(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root), timeout=0.5)
    pid_file = root / "grandchild.pid"
    with pytest.raises(ToolException, match="killed after"):
        await tool.ainvoke({"command": f"sleep 30 & echo $! > {pid_file}; sleep 30", "shell": True})
    # The backgrounded grandchild died with its group. A pidfd becomes readable when its
    # process has exited (reaped or not); one that is already reaped cannot be opened.
    grandchild = int(pid_file.read_text())
    try:
        pidfd = os.pidfd_open(grandchild)
    except ProcessLookupError:
        return
    # poll, not select: a worker that has run many tests can hold descriptors past select's
    # FD_SETSIZE (1024).
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    try:
        exited = poller.poll(10_000)
    finally:
        os.close(pidfd)
    assert exited, f"grandchild {grandchild} outlived the killed process group"


async def test_command_output_is_capped(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root), output_bytes=2000)
    out = await tool.ainvoke({"command": "seq 1 100000"})
    assert "more bytes were not captured" in out
    assert len(out) < 3000
    assert "[exit code 0]" in out


async def test_missing_program(root: Path) -> None:
    tool = make_run_command_tool(Workspace(root))
    with pytest.raises(ToolException, match="Program not found"):
        await tool.ainvoke({"command": "no-such-program-xyz"})


def test_command_risk_depends_on_the_call(root: Path) -> None:
    registry = ToolRegistry([make_run_command_tool(Workspace(root))])
    assert registry.assess("run_command", {"command": "ls"})[0] == "read"
    assert registry.assess("run_command", {"command": "touch x"})[0] == "write"
    risk, reason = registry.assess("run_command", {"command": "sudo ls"})
    assert risk == "dangerous" and "sudo" in reason
    assert registry.risk("run_command") == "write"  # what the planner is told


# --- run_python -------------------------------------------------------------------------------


async def test_python_runs_in_the_workspace(root: Path) -> None:
    tool = make_run_python_tool(Workspace(root))
    out = await tool.ainvoke(
        {"code": "import os\nprint(sorted(os.listdir('src')))\nprint(sum(range(10)))"}
    )
    lines = out.splitlines()
    assert lines[0] == "['a.txt']"
    assert lines[1] == "45"
    assert "[exit code 0]" in lines[2]


async def test_python_exception_exit_code(root: Path) -> None:
    tool = make_run_python_tool(Workspace(root))
    out = await tool.ainvoke({"code": "raise SystemExit(3)"})
    assert "[exit code 3]" in out


async def test_python_timeout(root: Path) -> None:
    tool = make_run_python_tool(Workspace(root), timeout=0.3)
    with pytest.raises(ToolException, match="killed after"):
        await tool.ainvoke({"code": "while True: pass"})


async def test_python_memory_limit(root: Path) -> None:
    tool = make_run_python_tool(Workspace(root), memory_mb=200)
    out = await tool.ainvoke({"code": "x = bytearray(600 * 1024 * 1024)\nprint('allocated')"})
    assert "MemoryError" in out
    assert "allocated" not in out


async def test_python_file_size_limit(root: Path) -> None:
    tool = make_run_python_tool(Workspace(root), max_file_mb=1)
    out = await tool.ainvoke(
        {"code": "open('big.bin','wb').write(b'x' * (5 * 1024 * 1024))\nprint('wrote')"}
    )
    assert "wrote" not in out
    assert (root / "big.bin").stat().st_size <= 1024 * 1024


async def test_python_has_no_network(root: Path) -> None:
    # Talking to itself over loopback works on any normal host; it must fail in the child.
    code = (
        "import socket\n"
        "try:\n"
        "    server = socket.socket()\n"
        "    server.bind(('127.0.0.1', 0))\n"
        "    server.listen()\n"
        "    socket.create_connection(server.getsockname(), timeout=2)\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('NO NETWORK', type(e).__name__)\n"
    )
    out = await make_run_python_tool(Workspace(root)).ainvoke({"code": code})
    assert "NO NETWORK" in out, out
    assert "[no network" in out
    allowed = await make_run_python_tool(Workspace(root), allow_network=True).ainvoke(
        {"code": code}
    )
    assert "CONNECTED" in allowed, allowed
