"""Git tools against a real repository in a temporary workspace."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool, ToolException

from lmsa.tools import ToolCallRejected, ToolRegistry, Workspace, make_git_tools


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.name", "Test User")
    _git(tmp_path, "config", "user.email", "test@example.invalid")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "first commit")
    return tmp_path


def tools(root: Path) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in make_git_tools(Workspace(root))}


async def test_status_diff_log(repo: Path) -> None:
    (repo / "a.txt").write_text("one\ntwo\n")
    (repo / "new.txt").write_text("new\n")
    git = tools(repo)
    status = await git["git_status"].ainvoke({})
    assert "## main" in status
    assert " M a.txt" in status and "?? new.txt" in status
    diff = await git["git_diff"].ainvoke({})
    assert "+two" in diff and "a/a.txt" in diff
    assert await git["git_diff"].ainvoke({"staged": True}) == "(no differences)"
    log = await git["git_log"].ainvoke({"max_count": 5})
    assert log.endswith("Test User: first commit")


async def test_commit_stages_paths_and_commits(repo: Path) -> None:
    (repo / "b.txt").write_text("bee\n")
    git = tools(repo)
    out = await git["git_commit"].ainvoke({"message": "add b", "paths": ["b.txt"]})
    assert "add b" in out
    assert _git(repo, "log", "-1", "--format=%s").strip() == "add b"
    assert _git(repo, "status", "--porcelain") == ""


async def test_commit_with_nothing_to_commit_fails_clearly(repo: Path) -> None:
    with pytest.raises(ToolException, match="git commit failed"):
        await tools(repo)["git_commit"].ainvoke({"message": "empty"})


async def test_paths_outside_the_workspace_are_refused(repo: Path) -> None:
    git = tools(repo)
    with pytest.raises(PermissionError, match="outside"):
        await git["git_diff"].ainvoke({"path": "../elsewhere"})
    with pytest.raises(PermissionError):
        await git["git_commit"].ainvoke({"message": "x", "paths": ["/etc/passwd"]})


def test_option_injection_through_ref_is_rejected(repo: Path) -> None:
    registry = ToolRegistry(make_git_tools(Workspace(repo)))
    with pytest.raises(ToolCallRejected, match="ref"):
        registry.validate_call("git_diff", {"ref": "--output=/tmp/pwned"})
    with pytest.raises(ToolCallRejected, match="ref"):
        registry.validate_call("git_log", {"ref": "-p"})
    assert registry.validate_call("git_log", {"ref": "main~1..HEAD"})["ref"] == "main~1..HEAD"


async def test_repository_config_cannot_run_programs_on_read(repo: Path) -> None:
    # A hostile repo config: an fsmonitor hook and an external diff driver.
    marker = repo / "pwned"
    _git(repo, "config", "core.fsmonitor", f"touch {marker}; false")
    _git(repo, "config", "diff.external", f"sh -c 'touch {marker}'")
    (repo / "a.txt").write_text("changed\n")
    git = tools(repo)
    await git["git_status"].ainvoke({})
    await git["git_diff"].ainvoke({})
    assert not marker.exists()


async def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ToolException, match="not a git repository"):
        await tools(tmp_path)["git_status"].ainvoke({})


def test_risks(repo: Path) -> None:
    registry = ToolRegistry(make_git_tools(Workspace(repo)))
    assert {n: registry.risk(n) for n in registry.names()} == {
        "git_commit": "write",
        "git_diff": "read",
        "git_log": "read",
        "git_status": "read",
    }
    risk, reason = registry.assess("git_commit", {"message": "m", "all": True})
    assert risk == "write" and "all changes" in reason
