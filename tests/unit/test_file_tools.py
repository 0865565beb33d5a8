"""The file tools, invoked the way the executor invokes them (``tool.invoke`` / ``ainvoke``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool, ToolException

from lmsa.tools import Workspace, file_reading, make_file_tools


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src" / "pkg").mkdir(parents=True)
    (ws / "docs").mkdir()
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("needle in git\n")
    (ws / "src" / "main.py").write_text("import os\n\ndef main():\n    print('Needle')\n")
    (ws / "src" / "pkg" / "util.py").write_text("NEEDLE = 1\nother = 2\n")
    (ws / "docs" / "readme.md").write_text("# Title\nA needle here.\n")
    (ws / "empty.txt").write_text("")
    return ws


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_text("needle secret\n")
    return out


@pytest.fixture
def tools(root: Path) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in make_file_tools(Workspace(root))}


def run(tools: dict[str, BaseTool], name: str, **args: Any) -> str:
    result = tools[name].invoke(args)
    assert isinstance(result, str)
    return result


def refused(tools: dict[str, BaseTool], name: str, **args: Any) -> str:
    with pytest.raises(ToolException) as info:
        tools[name].invoke(args)
    return str(info.value)


# --- common refusals, for every tool that takes a path --------------------------------------

DIRECTORY_TOOLS = ("list_dir", "search_files", "find_files")

PATH_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("read_file", {}),
    ("list_dir", {}),
    ("search_files", {"pattern": "needle"}),
    ("find_files", {"pattern": "*"}),
    ("write_file", {"content": "pwned"}),
    ("edit_file", {"search": "needle", "replace": "pwned"}),
]


@pytest.mark.parametrize(("name", "extra"), PATH_CALLS)
def test_dotdot_escape_refused(
    tools: dict[str, BaseTool], outside: Path, name: str, extra: dict[str, Any]
) -> None:
    target = "../outside" if name in DIRECTORY_TOOLS else "../outside/secret.txt"
    message = refused(tools, name, path=target, **extra)
    assert "outside the workspace" in message
    assert (outside / "secret.txt").read_text() == "needle secret\n"


@pytest.mark.parametrize(("name", "extra"), PATH_CALLS)
def test_absolute_outside_refused(
    tools: dict[str, BaseTool], outside: Path, name: str, extra: dict[str, Any]
) -> None:
    target = outside if name in DIRECTORY_TOOLS else outside / "secret.txt"
    message = refused(tools, name, path=str(target), **extra)
    assert "absolute path outside the workspace" in message
    assert (outside / "secret.txt").read_text() == "needle secret\n"


@pytest.mark.parametrize(("name", "extra"), PATH_CALLS)
def test_directory_symlink_escape_refused(
    tools: dict[str, BaseTool], root: Path, outside: Path, name: str, extra: dict[str, Any]
) -> None:
    (root / "out").symlink_to(outside, target_is_directory=True)
    target = "out" if name in DIRECTORY_TOOLS else "out/secret.txt"
    assert "symlink" in refused(tools, name, path=target, **extra)
    assert (outside / "secret.txt").read_text() == "needle secret\n"


@pytest.mark.parametrize(("name", "extra"), PATH_CALLS)
def test_file_symlink_escape_refused(
    tools: dict[str, BaseTool], root: Path, outside: Path, name: str, extra: dict[str, Any]
) -> None:
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    assert "symlink" in refused(tools, name, path="leak.txt", **extra)
    assert (outside / "secret.txt").read_text() == "needle secret\n"


@pytest.mark.parametrize(("name", "extra"), PATH_CALLS)
def test_nul_byte_refused(tools: dict[str, BaseTool], name: str, extra: dict[str, Any]) -> None:
    assert "NUL byte" in refused(tools, name, path="src/main.py\0", **extra)


def test_dangling_symlink_escape_refused_for_write(
    tools: dict[str, BaseTool], root: Path, outside: Path
) -> None:
    (root / "dangling").symlink_to(outside / "created.txt")
    assert "symlink" in refused(tools, "write_file", path="dangling", content="x")
    assert not (outside / "created.txt").exists()
    assert "symlink" in refused(tools, "read_file", path="dangling")


def test_absolute_path_inside_allowed(tools: dict[str, BaseTool], root: Path) -> None:
    out = run(tools, "read_file", path=str(root / "src" / "main.py"))
    assert out.splitlines()[0] == "src/main.py (4 lines)"
    run(tools, "write_file", path=str(root / "abs.txt"), content="ok")
    assert (root / "abs.txt").read_text() == "ok"


def test_tool_errors_are_tool_exceptions_not_handled(tools: dict[str, BaseTool]) -> None:
    # handle_tool_error=False: the executor, not the tool, turns errors into observations.
    with pytest.raises(ToolException):
        tools["read_file"].invoke({"path": "missing.txt"})


# --- read_file -------------------------------------------------------------------------------


def test_read_file_whole(tools: dict[str, BaseTool]) -> None:
    out = run(tools, "read_file", path="src/main.py")
    assert out == "src/main.py (4 lines)\nimport os\n\ndef main():\n    print('Needle')"


def test_read_file_range_notes_the_rest(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = run(tools, "read_file", path="long.txt", start_line=3, max_lines=4)
    lines = out.splitlines()
    assert lines[0] == "long.txt (lines 3-6 of 10)"
    assert lines[1:5] == ["line 3", "line 4", "line 5", "line 6"]
    assert lines[5] == "[4 more lines; continue with start_line=7]"


def test_read_file_crlf_and_no_final_newline(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "crlf.txt").write_bytes(b"a\r\nb\r\nc")
    assert run(tools, "read_file", path="crlf.txt") == "crlf.txt (3 lines)\na\nb\nc"


def test_read_file_empty(tools: dict[str, BaseTool]) -> None:
    assert run(tools, "read_file", path="empty.txt") == "empty.txt (empty file, 0 lines)"


def test_read_file_start_past_end(tools: dict[str, BaseTool]) -> None:
    message = refused(tools, "read_file", path="src/main.py", start_line=9)
    assert "past the end" in message and "4 lines" in message


def test_read_file_invalid_utf8_is_replaced(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert run(tools, "read_file", path="latin1.txt").endswith("caf\ufffd")


def test_read_file_binary_refused(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    assert "binary" in refused(tools, "read_file", path="img.png")


def test_read_file_oversized_refused(
    tools: dict[str, BaseTool], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_reading, "MAX_FILE_BYTES", 1024)
    (root / "big.log").write_text("x" * 2000)
    message = refused(tools, "read_file", path="big.log")
    assert "big.log" in message and "limit" in message


def test_read_file_real_size_cap(tools: dict[str, BaseTool], root: Path) -> None:
    with open(root / "huge.txt", "wb") as handle:
        handle.truncate(file_reading.MAX_FILE_BYTES + 1)  # sparse: cheap to create
    assert "2.0 MiB limit" in refused(tools, "read_file", path="huge.txt")


def test_read_file_missing(tools: dict[str, BaseTool]) -> None:
    message = refused(tools, "read_file", path="nope/missing.txt")
    assert "No such file" in message and "nope/missing.txt" in message


def test_read_file_on_directory(tools: dict[str, BaseTool]) -> None:
    assert "list_dir" in refused(tools, "read_file", path="src")


def test_read_file_through_inside_symlink(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "alias.py").symlink_to(root / "src" / "main.py")
    assert run(tools, "read_file", path="alias.py").startswith("src/main.py (4 lines)")


async def test_read_file_async(tools: dict[str, BaseTool]) -> None:
    out = await tools["read_file"].ainvoke({"path": "src/pkg/util.py"})
    assert out.splitlines()[0] == "src/pkg/util.py (2 lines)"
    with pytest.raises(ToolException, match="outside the workspace"):
        await tools["read_file"].ainvoke({"path": "../x"})


# --- list_dir --------------------------------------------------------------------------------


def test_list_dir_top_level(tools: dict[str, BaseTool]) -> None:
    assert run(tools, "list_dir").splitlines() == [
        ". (listing, 4 entries)",
        ".git/",
        "docs/",
        "empty.txt  (0 B)",
        "src/",
    ]


def test_list_dir_entries_sorted_with_sizes(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "b.txt").write_text("12345")
    (root / "a.bin").write_bytes(b"\0" * 2048)
    lines = run(tools, "list_dir").splitlines()
    assert lines[0] == ". (listing, 6 entries)"
    assert lines[1:] == [
        ".git/",
        "a.bin  (2.0 KiB)",
        "b.txt  (5 B)",
        "docs/",
        "empty.txt  (0 B)",
        "src/",
        "By type: .bin: a.bin; text (.txt): b.txt, empty.txt",
    ]


def test_list_dir_subdirectory_paths_are_workspace_relative(tools: dict[str, BaseTool]) -> None:
    lines = run(tools, "list_dir", path="src").splitlines()
    assert lines == ["src/ (listing, 2 entries)", "src/main.py  (43 B)", "src/pkg/"]


def test_list_dir_recursive_skips_git(tools: dict[str, BaseTool]) -> None:
    lines = run(tools, "list_dir", recursive=True).splitlines()
    assert lines[1:] == [
        ".git/",
        "docs/",
        "docs/readme.md  (23 B)",
        "empty.txt  (0 B)",
        "src/",
        "src/main.py  (43 B)",
        "src/pkg/",
        "src/pkg/util.py  (21 B)",
        "By type: Markdown (.md): docs/readme.md; text (.txt): empty.txt; "
        "Python (.py): src/main.py, src/pkg/util.py",
    ]
    assert ".git/config" not in "\n".join(lines)


def test_list_dir_recursive_does_not_follow_symlinks(
    tools: dict[str, BaseTool], root: Path, outside: Path
) -> None:
    (root / "src" / "out").symlink_to(outside, target_is_directory=True)
    (root / "src" / "loop").symlink_to(root, target_is_directory=True)
    out = run(tools, "list_dir", path="src", recursive=True)
    assert "src/out@ (symlink)" in out
    assert "src/loop@ (symlink)" in out
    assert "secret" not in out


def test_list_dir_truncation_is_noted(tools: dict[str, BaseTool], root: Path) -> None:
    for i in range(10):
        (root / "docs" / f"f{i}.txt").write_text("x")
    lines = run(tools, "list_dir", path="docs", max_entries=3).splitlines()
    assert lines[0] == "docs/ (listing, 3 entries)"
    assert lines[1:4] == ["docs/f0.txt  (1 B)", "docs/f1.txt  (1 B)", "docs/f2.txt  (1 B)"]
    assert lines[4].startswith("[truncated at 3 entries")


def test_list_dir_empty(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "void").mkdir()
    assert run(tools, "list_dir", path="void") == "void/ is empty."


def test_list_dir_on_file_and_missing(tools: dict[str, BaseTool]) -> None:
    assert "read_file" in refused(tools, "list_dir", path="src/main.py")
    assert "No such file or directory" in refused(tools, "list_dir", path="ghost")


# --- find_files ------------------------------------------------------------------------------


def test_find_files_counts_and_lists_matches_below_a_directory(
    tools: dict[str, BaseTool],
) -> None:
    out = run(tools, "find_files", pattern="*.py").splitlines()
    assert out == ["2 files named '*.py' in the workspace:", "src/main.py", "src/pkg/util.py"]
    assert run(tools, "find_files", pattern="*.py", path="src/pkg").splitlines()[1:] == [
        "src/pkg/util.py"
    ]
    assert run(tools, "find_files", pattern="docs/*.{md,rst}").splitlines()[1:] == [
        "docs/readme.md"
    ]
    assert run(tools, "find_files", pattern="*.rs") == "No files named '*.rs' in the workspace."
    assert "config" not in run(tools, "find_files", pattern="*")  # .git is skipped
    assert "is a file" in refused(tools, "find_files", pattern="*", path="empty.txt")
    capped = run(tools, "find_files", pattern="*.py", max_results=1).splitlines()
    assert capped[0].startswith("More than 1 files") and capped[1:2] == ["src/main.py"]
    assert "expands to more than" in refused(tools, "find_files", pattern="{a,b}" * 8)


# --- search_files ----------------------------------------------------------------------------


def test_search_plain_case_insensitive(tools: dict[str, BaseTool]) -> None:
    lines = run(tools, "search_files", pattern="needle").splitlines()
    assert lines == [
        "docs/readme.md:2: A needle here.",
        "src/main.py:4: print('Needle')",
        "src/pkg/util.py:1: NEEDLE = 1",
        "[3 matches in '.']",
    ]


def test_search_case_sensitive(tools: dict[str, BaseTool]) -> None:
    out = run(tools, "search_files", pattern="Needle", case_sensitive=True)
    assert out.splitlines()[:-1] == ["src/main.py:4: print('Needle')"]


def test_search_plain_pattern_is_literal(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "re.txt").write_text("a.c\nabc\n")
    out = run(tools, "search_files", pattern="a.c", path="re.txt")
    assert out.splitlines()[:-1] == ["re.txt:1: a.c"]


def test_search_regex(tools: dict[str, BaseTool]) -> None:
    out = run(tools, "search_files", pattern=r"^\s+print\(", regex=True)
    assert out.splitlines()[:-1] == ["src/main.py:4: print('Needle')"]


def test_search_invalid_regex(tools: dict[str, BaseTool]) -> None:
    message = refused(tools, "search_files", pattern="(unclosed", regex=True)
    assert "Invalid regular expression '(unclosed'" in message


def test_search_glob_and_path(tools: dict[str, BaseTool]) -> None:
    assert run(tools, "search_files", pattern="needle", glob="*.md").splitlines()[0] == (
        "docs/readme.md:2: A needle here."
    )
    out = run(tools, "search_files", pattern="needle", path="src", glob="pkg/*.py")
    assert out.splitlines()[:-1] == ["src/pkg/util.py:1: NEEDLE = 1"]
    out = run(tools, "search_files", pattern="needle", glob="**/*.{md,py}")
    assert len(out.splitlines()) == 4


def test_search_skips_git_binary_oversized(
    tools: dict[str, BaseTool], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "blob.bin").write_bytes(b"needle\0needle")
    (root / "big.txt").write_text("needle\n" * 400)
    monkeypatch.setattr(file_reading, "MAX_FILE_BYTES", 1024)
    out = run(tools, "search_files", pattern="needle")
    assert ".git" not in out
    assert "blob.bin" not in out
    assert "big.txt" not in out
    assert "src/main.py:4:" in out


def test_search_never_follows_symlinks_out(
    tools: dict[str, BaseTool], root: Path, outside: Path
) -> None:
    (root / "src" / "out").symlink_to(outside, target_is_directory=True)
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    out = run(tools, "search_files", pattern="secret")
    assert out.startswith("No matches for 'secret'")


def test_search_follows_file_symlink_inside(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "alias.md").symlink_to(root / "docs" / "readme.md")
    out = run(tools, "search_files", pattern="a needle", glob="alias.md")
    assert out.splitlines()[0] == "alias.md:2: A needle here."


def test_search_truncates_results(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "many.txt").write_text("hit\n" * 50)
    lines = run(tools, "search_files", pattern="hit", max_results=5).splitlines()
    assert lines[:5] == [f"many.txt:{i}: hit" for i in range(1, 6)]
    assert lines[5].startswith("[stopped at 5 matches")
    assert len(lines) == 6


def test_search_no_matches(tools: dict[str, BaseTool]) -> None:
    out = run(tools, "search_files", pattern="zebra")
    assert out == "No matches for 'zebra' in '.'; 4 files searched."


def test_search_single_file(tools: dict[str, BaseTool]) -> None:
    out = run(tools, "search_files", pattern="other", path="src/pkg/util.py")
    assert out.splitlines()[0] == "src/pkg/util.py:2: other = 2"


# --- write_file ------------------------------------------------------------------------------


def test_write_new_file_creates_parents(tools: dict[str, BaseTool], root: Path) -> None:
    out = run(tools, "write_file", path="new/dir/hello.txt", content="héllo\n")
    assert out == "Wrote 7 bytes to new/dir/hello.txt"
    assert (root / "new" / "dir" / "hello.txt").read_text(encoding="utf-8") == "héllo\n"


def test_write_overwrites_by_default_preserving_mode(
    tools: dict[str, BaseTool], root: Path
) -> None:
    target = root / "src" / "main.py"
    target.chmod(0o755)
    run(tools, "write_file", path="src/main.py", content="print(1)\n")
    assert target.read_text() == "print(1)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert [p.name for p in (root / "src").iterdir() if p.name.endswith(".tmp")] == []


def test_write_overwrite_false_refuses_existing(tools: dict[str, BaseTool], root: Path) -> None:
    message = refused(tools, "write_file", path="src/main.py", content="x", overwrite=False)
    assert "already exists" in message
    assert (root / "src" / "main.py").read_text().startswith("import os")
    run(tools, "write_file", path="fresh.txt", content="x", overwrite=False)
    assert (root / "fresh.txt").read_text() == "x"


def test_write_to_directory_refused(tools: dict[str, BaseTool]) -> None:
    assert "is a directory" in refused(tools, "write_file", path="src", content="x")


def test_write_failure_keeps_original(
    tools: dict[str, BaseTool], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", broken_replace)
    message = refused(tools, "write_file", path="src/main.py", content="oops")
    assert message == "No space left on device: 'src/main.py'."
    assert (root / "src" / "main.py").read_text().startswith("import os")
    assert sorted(p.name for p in (root / "src").iterdir()) == ["main.py", "pkg"]


async def test_write_file_async(tools: dict[str, BaseTool], root: Path) -> None:
    out = await tools["write_file"].ainvoke({"path": "async.txt", "content": "ok"})
    assert out == "Wrote 2 bytes to async.txt"
    assert (root / "async.txt").read_text() == "ok"


# --- edit_file -------------------------------------------------------------------------------


def test_edit_replaces_unique_match(tools: dict[str, BaseTool], root: Path) -> None:
    out = run(tools, "edit_file", path="src/main.py", search="print('Needle')", replace="return 0")
    assert out == "Edited src/main.py: replaced 1 occurrence."
    assert (root / "src" / "main.py").read_text() == "import os\n\ndef main():\n    return 0\n"


def test_edit_not_found_says_so_only(tools: dict[str, BaseTool], root: Path) -> None:
    message = refused(tools, "edit_file", path="src/main.py", search="print('Hay')", replace="")
    assert message.startswith(
        "The search text was not found in 'src/main.py'; no changes were made. Copy the exact "
    )
    assert "append=true" in message  # the way to add lines, which small models try as edits
    assert "import os" not in message  # no file contents in the error


def test_edit_ambiguous_asks_for_more_context(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "dup.txt").write_text("x = 1\nx = 1\nx = 1\n")
    message = refused(tools, "edit_file", path="dup.txt", search="x = 1", replace="x = 2")
    assert "occurs 3 times" in message
    assert "more surrounding text" in message
    assert (root / "dup.txt").read_text() == "x = 1\nx = 1\nx = 1\n"


def test_edit_count_zero_replaces_all(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "dup.txt").write_text("x = 1\nx = 1\nx = 1\n")
    out = run(tools, "edit_file", path="dup.txt", search="x = 1", replace="x = 2", count=0)
    assert out == "Edited dup.txt: replaced 3 occurrences."
    assert (root / "dup.txt").read_text() == "x = 2\nx = 2\nx = 2\n"


def test_edit_count_n_allows_up_to_n(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "dup.txt").write_text("a a a")
    assert "occurs 3 times" in refused(
        tools, "edit_file", path="dup.txt", search="a", replace="b", count=2
    )
    run(tools, "edit_file", path="dup.txt", search="a", replace="b", count=3)
    assert (root / "dup.txt").read_text() == "b b b"


def test_edit_matches_crlf_files(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    run(tools, "edit_file", path="win.txt", search="one\ntwo", replace="1\n2")
    assert (root / "win.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


def test_edit_refuses_non_utf8_and_binary(tools: dict[str, BaseTool], root: Path) -> None:
    (root / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert "not valid UTF-8" in refused(
        tools, "edit_file", path="latin1.txt", search="caf", replace="tea"
    )
    assert (root / "latin1.txt").read_bytes() == b"caf\xe9\n"
    (root / "blob.bin").write_bytes(b"abc\0def")
    assert "binary" in refused(tools, "edit_file", path="blob.bin", search="abc", replace="x")


def test_edit_missing_file(tools: dict[str, BaseTool]) -> None:
    error = refused(tools, "edit_file", path="ghost.py", search="a", replace="b")
    assert "'ghost.py' does not exist" in error


def test_edit_preserves_mode_and_leaves_no_temp(tools: dict[str, BaseTool], root: Path) -> None:
    target = root / "src" / "pkg" / "util.py"
    target.chmod(0o600)
    run(tools, "edit_file", path="src/pkg/util.py", search="other = 2", replace="other = 3")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["util.py"]


def test_edit_failure_keeps_original(
    tools: dict[str, BaseTool], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", broken_replace)
    message = refused(tools, "edit_file", path="src/pkg/util.py", search="other", replace="x")
    assert message == "Permission denied: 'src/pkg/util.py'."
    assert (root / "src" / "pkg" / "util.py").read_text() == "NEEDLE = 1\nother = 2\n"
    assert sorted(p.name for p in (root / "src" / "pkg").iterdir()) == ["util.py"]
