"""delete_file, move_file and file_info: happy paths and the jail's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.tools import BaseTool, ToolException

from lmsa.tools import Workspace, make_file_tools


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src" / "pkg").mkdir(parents=True)
    (ws / "src" / "main.py").write_text("print('hi')\nprint('there')\n")
    (ws / "src" / "pkg" / "util.py").write_text("X = 1\n")
    (ws / "empty").mkdir()
    return ws


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret.txt").write_text("s3cret")
    return target


def tools(root: Path) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in make_file_tools(Workspace(root))}


def test_delete_file_and_directories(root: Path) -> None:
    t = tools(root)
    assert t["delete_file"].invoke({"path": "src/main.py"}) == "Deleted src/main.py"
    assert not (root / "src" / "main.py").exists()
    assert t["delete_file"].invoke({"path": "empty"}) == "Deleted empty directory empty"
    with pytest.raises(ToolException, match="recursive=true"):
        t["delete_file"].invoke({"path": "src"})
    assert (root / "src" / "pkg" / "util.py").exists()
    assert "and its contents" in t["delete_file"].invoke({"path": "src", "recursive": True})
    assert not (root / "src").exists()


def test_delete_refusals(root: Path, outside: Path) -> None:
    t = tools(root)
    with pytest.raises(ToolException, match="workspace root"):
        t["delete_file"].invoke({"path": ".", "recursive": True})
    with pytest.raises(ToolException, match="Refused path"):
        t["delete_file"].invoke({"path": "../outside/secret.txt"})
    with pytest.raises(ToolException, match="No such file"):
        t["delete_file"].invoke({"path": "nope.txt"})
    assert (outside / "secret.txt").exists()


def test_deleting_a_symlink_removes_the_link_not_its_target(root: Path, outside: Path) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "secret.txt")
    t = tools(root)
    t["delete_file"].invoke({"path": "link", "recursive": True})
    t["delete_file"].invoke({"path": "filelink"})
    assert not (root / "link").is_symlink() and not (root / "filelink").is_symlink()
    assert (outside / "secret.txt").read_text() == "s3cret"


def test_move_file(root: Path) -> None:
    t = tools(root)
    assert t["move_file"].invoke({"source": "src/main.py", "destination": "app.py"}) == (
        "Moved src/main.py to app.py"
    )
    assert (root / "app.py").read_text().startswith("print")
    # Into an existing directory; parent directories are created for a new path.
    t["move_file"].invoke({"source": "app.py", "destination": "empty"})
    assert (root / "empty" / "app.py").exists()
    t["move_file"].invoke({"source": "src/pkg", "destination": "lib/pkg"})
    assert (root / "lib" / "pkg" / "util.py").exists()


def test_move_refusals(root: Path, outside: Path) -> None:
    t = tools(root)
    (root / "b.txt").write_text("b")
    (root / "c.txt").write_text("c")
    with pytest.raises(ToolException, match="overwrite is false"):
        t["move_file"].invoke({"source": "b.txt", "destination": "c.txt"})
    assert t["move_file"].invoke({"source": "b.txt", "destination": "c.txt", "overwrite": True})
    assert (root / "c.txt").read_text() == "b"
    with pytest.raises(ToolException, match="Refused path"):
        t["move_file"].invoke({"source": "c.txt", "destination": str(outside / "x.txt")})
    with pytest.raises(ToolException, match="Refused path"):
        t["move_file"].invoke({"source": str(outside / "secret.txt"), "destination": "s.txt"})
    with pytest.raises(ToolException, match="into itself"):
        t["move_file"].invoke({"source": "src", "destination": "src/pkg/inner"})
    assert (outside / "secret.txt").exists() and (root / "c.txt").exists()


def test_file_info(root: Path, outside: Path) -> None:
    t = tools(root)
    info = t["file_info"].invoke({"path": "src/main.py"})
    assert info.splitlines()[0] == "src/main.py: file"
    assert "content: text, 2 lines" in info
    assert "permissions: -rw" in info
    assert t["file_info"].invoke({"path": "src"}).splitlines()[0] == "src: directory, 2 entries"
    (root / "link").symlink_to(outside)
    assert "outside the workspace" in t["file_info"].invoke({"path": "link"})
    with pytest.raises(ToolException, match="No such file"):
        t["file_info"].invoke({"path": "missing"})
    with pytest.raises(ToolException, match="Refused path"):
        t["file_info"].invoke({"path": "../outside/secret.txt"})
