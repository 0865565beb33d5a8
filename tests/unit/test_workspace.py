"""The workspace jail: every way a path could leave the root, and the atomic writer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lmsa.tools import Workspace, WorkspaceEscape


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "a.txt").write_text("inside\n")
    return ws


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_text("secret\n")
    return out


@pytest.fixture
def ws(root: Path) -> Workspace:
    return Workspace(root)


# --- construction ---------------------------------------------------------------------------


def test_root_is_resolved(tmp_path: Path, root: Path) -> None:
    link = tmp_path / "rootlink"
    link.symlink_to(root, target_is_directory=True)
    assert Workspace(link).root == root.resolve()
    assert Workspace(str(root)).root == root.resolve()


def test_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Workspace(tmp_path / "missing")


def test_root_must_be_directory(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        Workspace(file)


# --- resolve: allowed ------------------------------------------------------------------------


def test_relative_path_resolves_under_root(ws: Workspace, root: Path) -> None:
    assert ws.resolve("src/a.txt") == root / "src" / "a.txt"
    assert ws.resolve(".") == root
    assert ws.resolve("src/../src/a.txt") == root / "src" / "a.txt"


def test_nonexistent_path_inside_is_allowed(ws: Workspace, root: Path) -> None:
    assert ws.resolve("new/dir/file.txt") == root / "new" / "dir" / "file.txt"


def test_absolute_path_inside_root_is_allowed(ws: Workspace, root: Path) -> None:
    assert ws.resolve(root / "src" / "a.txt") == root / "src" / "a.txt"
    assert ws.resolve(str(root)) == root


def test_absolute_path_through_symlinked_root_is_allowed(tmp_path: Path, root: Path) -> None:
    link = tmp_path / "rootlink"
    link.symlink_to(root, target_is_directory=True)
    ws = Workspace(link)
    assert ws.resolve(link / "src" / "a.txt") == root / "src" / "a.txt"


def test_symlink_pointing_inside_is_allowed_and_resolved(ws: Workspace, root: Path) -> None:
    (root / "alias.txt").symlink_to(root / "src" / "a.txt")
    (root / "srcdir").symlink_to(root / "src", target_is_directory=True)
    assert ws.resolve("alias.txt") == root / "src" / "a.txt"
    assert ws.resolve("srcdir/a.txt") == root / "src" / "a.txt"


# --- resolve: refused ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["..", "../outside/secret.txt", "src/../../outside", "a/../../x"])
def test_dotdot_escape_is_refused(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape, match=r"'\.\.' leads outside") as info:
        ws.resolve(path)
    message = str(info.value)
    assert path in message
    assert str(ws.root) in message


def test_absolute_path_outside_is_refused(ws: Workspace, outside: Path) -> None:
    with pytest.raises(WorkspaceEscape, match="absolute path outside") as info:
        ws.resolve(outside / "secret.txt")
    assert str(ws.root) in str(info.value)
    with pytest.raises(WorkspaceEscape):
        ws.resolve("/etc/passwd")


def test_sibling_with_common_prefix_is_refused(tmp_path: Path, root: Path) -> None:
    sibling = tmp_path / "ws2"
    sibling.mkdir()
    with pytest.raises(WorkspaceEscape):
        Workspace(root).resolve(sibling)


def test_file_symlink_escape_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(WorkspaceEscape, match="symlink") as info:
        ws.resolve("leak.txt")
    assert "leak.txt" in str(info.value)


def test_directory_symlink_escape_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "src" / "out").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkspaceEscape, match="symlink"):
        ws.resolve("src/out/secret.txt")
    with pytest.raises(WorkspaceEscape):
        ws.resolve("src/out")
    with pytest.raises(WorkspaceEscape):
        ws.resolve("src/out/not-yet-created.txt")


def test_dangling_symlink_escape_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "dangling").symlink_to(outside / "does-not-exist.txt")
    with pytest.raises(WorkspaceEscape, match="symlink"):
        ws.resolve("dangling")


def test_dangling_symlink_inside_resolves_to_target(ws: Workspace, root: Path) -> None:
    (root / "later").symlink_to(root / "created-later.txt")
    assert ws.resolve("later") == root / "created-later.txt"
    with pytest.raises(FileNotFoundError):
        ws.resolve("later", must_exist=True)


def test_symlink_chain_escape_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "hop2").symlink_to(outside, target_is_directory=True)
    (root / "hop1").symlink_to(root / "hop2", target_is_directory=True)
    with pytest.raises(WorkspaceEscape):
        ws.resolve("hop1/secret.txt")


def test_relative_symlink_escape_is_refused(ws: Workspace, root: Path) -> None:
    (root / "src" / "up").symlink_to(Path("..") / "..", target_is_directory=True)
    with pytest.raises(WorkspaceEscape):
        ws.resolve("src/up/outside/secret.txt")


def test_symlink_loop_is_refused_or_unreadable(ws: Workspace, root: Path) -> None:
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    # A loop cannot lead anywhere; it must never resolve to something outside the root.
    try:
        resolved = ws.resolve("loop1/../../outside")
    except WorkspaceEscape:
        return
    assert resolved.is_relative_to(ws.root)
    assert not resolved.exists()


def test_nul_byte_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceEscape, match="NUL"):
        ws.resolve("src/a.txt\0.png")


def test_must_exist(ws: Workspace) -> None:
    assert ws.resolve("src/a.txt", must_exist=True).is_file()
    with pytest.raises(FileNotFoundError, match=r"src/missing\.txt"):
        ws.resolve("src/missing.txt", must_exist=True)


def test_escape_is_a_permission_error() -> None:
    assert issubclass(WorkspaceEscape, PermissionError)


# --- relative --------------------------------------------------------------------------------


def test_relative_is_posix_and_root_relative(ws: Workspace, root: Path) -> None:
    assert ws.relative(root / "src" / "a.txt") == "src/a.txt"
    assert ws.relative(root) == "."
    assert ws.relative(Path("src/a.txt")) == "src/a.txt"


# --- atomic_write ----------------------------------------------------------------------------


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_creates_file_and_parents(ws: Workspace, root: Path) -> None:
    target = root / "deep" / "er" / "new.txt"
    ws.atomic_write(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert _leftovers(target.parent) == []


def test_atomic_write_replaces_content_without_temp_files(ws: Workspace, root: Path) -> None:
    target = root / "src" / "a.txt"
    ws.atomic_write(target, "new content")
    assert target.read_text() == "new content"
    assert _leftovers(root / "src") == []
    assert sorted(p.name for p in (root / "src").iterdir()) == ["a.txt"]


def test_atomic_write_preserves_permission_bits(ws: Workspace, root: Path) -> None:
    target = root / "src" / "script.sh"
    target.write_text("#!/bin/sh\n")
    target.chmod(0o751)
    ws.atomic_write(target, "#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert target.read_text().endswith("echo hi\n")


def test_atomic_write_new_file_follows_umask(ws: Workspace, root: Path) -> None:
    old = os.umask(0o022)
    try:
        ws.atomic_write(root / "fresh.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "fresh.txt").stat().st_mode) == 0o644


def test_atomic_write_failure_keeps_original(
    ws: Workspace, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = root / "src" / "a.txt"

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        ws.atomic_write(target, "half-written")
    assert target.read_text() == "inside\n"
    assert _leftovers(root / "src") == []


def test_atomic_write_encoding_error_touches_nothing(ws: Workspace, root: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        ws.atomic_write(root / "src" / "a.txt", "snowman ☃", encoding="ascii")
    assert (root / "src" / "a.txt").read_text() == "inside\n"
    assert _leftovers(root / "src") == []


def test_atomic_write_refuses_outside(ws: Workspace, outside: Path) -> None:
    with pytest.raises(WorkspaceEscape):
        ws.atomic_write(outside / "secret.txt", "pwned")
    assert (outside / "secret.txt").read_text() == "secret\n"


def test_atomic_write_does_not_create_dirs_through_escaping_symlink(
    ws: Workspace, root: Path, outside: Path
) -> None:
    (root / "out").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkspaceEscape):
        ws.atomic_write(root / "out" / "newdir" / "f.txt", "x")
    assert not (outside / "newdir").exists()


def test_atomic_write_through_inside_symlink_replaces_target(ws: Workspace, root: Path) -> None:
    link = root / "alias.txt"
    link.symlink_to(root / "src" / "a.txt")
    ws.atomic_write(link, "via link")
    assert link.is_symlink()
    assert (root / "src" / "a.txt").read_text() == "via link"


def test_atomic_write_to_directory_is_refused(ws: Workspace, root: Path) -> None:
    with pytest.raises(IsADirectoryError, match="src"):
        ws.atomic_write(root / "src", "x")
