"""The file tools over a :class:`~lmsa.tools.workspace.Workspace`: what the model sees of them
(names, descriptions, argument schemas) and what the cache and the approval gate read from their
metadata. The tools themselves are in :mod:`.file_reading` and :mod:`.file_editing`.

Two metadata keys serve the planner's checks (:mod:`lmsa.nodes.plan_checks`): ``scope_arg``
names the argument that says which folder a listing or search covers, ``edits_existing`` the
argument that must name a file that already exists, ``edit_text`` the one holding the new
text (what a file that does not exist yet is created with) and ``edit_search`` the one holding
the text it replaces; ``appends`` is ``(flag, path,
text)``: the arguments that, when the flag is true, add the text at the end of that file.

Every tool is bound to one workspace, so no call can reach outside it, and carries the root in
its metadata (``workspace_root``), so a registry holding them can show the planner the folder
(:meth:`ToolRegistry.view_workspace`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from lmsa.tools.cache import path_state, tree_state
from lmsa.tools.factory import Args, make_tool
from lmsa.tools.file_common import bind
from lmsa.tools.file_editing import (
    CombineFilesArgs,
    DeleteFileArgs,
    EditFileArgs,
    MoveFileArgs,
    WriteFileArgs,
    combine_files,
    delete_file,
    edit_file,
    move_file,
    write_file,
)
from lmsa.tools.file_reading import (
    FileInfoArgs,
    FindFilesArgs,
    ListDirArgs,
    ReadFileArgs,
    SearchFilesArgs,
    file_info,
    find_files,
    list_dir,
    read_file,
    search_files,
)
from lmsa.tools.registry import RiskLevel, ToolRegistry
from lmsa.tools.workspace import Workspace


def make_file_tools(workspace: Workspace) -> list[BaseTool]:
    """The file tools, each bound to ``workspace``."""
    root = str(workspace.root)

    def tool(run: Callable[[Workspace, Args], str], schema: type[Args], **spec: Any) -> BaseTool:
        return make_tool(run=bind(workspace, run), schema=schema, **spec, workspace_root=root)

    def stat_of(field: str) -> Callable[[dict[str, Any]], str | None]:
        return lambda args: path_state(workspace, str(args.get(field, ".")))

    def tree_of(args: dict[str, Any]) -> str | None:
        return tree_state(workspace, str(args.get("path", ".")))

    def listing_of(args: dict[str, Any]) -> str | None:
        return tree_state(
            workspace, str(args.get("path", ".")), recursive=bool(args.get("recursive"))
        )

    def writes(verb: str, *fields: str) -> Callable[[dict[str, Any]], tuple[RiskLevel, str]]:
        def assess(args: dict[str, Any]) -> tuple[RiskLevel, str]:
            named = " -> ".join(str(args.get(f, "")) for f in fields)
            if isinstance(args.get("paths"), list):
                named = ", ".join(str(p) for p in args["paths"]) + " -> " + named
            if "content" in args:
                named += f" ({len(str(args['content']).encode('utf-8'))} bytes)"
            if args.get("recursive"):
                named += " and everything in it"
            return "write", f"{verb} {named}"

        return assess

    return [
        tool(
            name="read_file",
            description=(
                "Read a UTF-8 text file in the workspace, optionally a range of lines. "
                "Output starts with a header giving the line range and total line count."
            ),
            capability="Read the contents of a text file (or a range of its lines).",
            risk="read",
            schema=ReadFileArgs,
            run=read_file,
            fingerprint=stat_of("path"),
        ),
        tool(
            name="list_dir",
            description=(
                "List a directory in the workspace: directories end with '/', files show "
                "their size, symlinks end with '@'. Recursive listings skip .git."
            ),
            capability=(
                "List everything in a directory, optionally recursively (for files of one "
                "kind, such as Python files, use find_files)."
            ),
            risk="read",
            schema=ListDirArgs,
            run=list_dir,
            fingerprint=listing_of,
            scope_arg="path",
        ),
        tool(
            name="find_files",
            description=(
                "Find files by name anywhere under a directory (subdirectories included), "
                "e.g. pattern '*.py'. Output: how many there are, then their paths."
            ),
            capability=(
                "Find and count files by their name, such as all '*.py' files (it does not "
                "look inside files)."
            ),
            risk="read",
            schema=FindFilesArgs,
            run=find_files,
            fingerprint=tree_of,
            scope_arg="path",
        ),
        tool(
            name="search_files",
            description=(
                "Search text files under a directory for lines containing a string or "
                "matching a regex (line by line). Results are 'path:line: text'. Skips binary "
                "files, files over 2 MiB and .git."
            ),
            capability=(
                "Find which files (and lines) contain a text, such as TODO or a function name."
            ),
            risk="read",
            schema=SearchFilesArgs,
            run=search_files,
            fingerprint=tree_of,
            scope_arg="path",
        ),
        tool(
            name="write_file",
            description=(
                "Create or replace a text file in the workspace with the given content "
                "(written atomically; parent directories are created); with append=true, add "
                "the content at the end of the file instead."
            ),
            capability=(
                "Create a new file or replace a file's whole content; append=true adds lines "
                "at the end of a file."
            ),
            risk="write",
            schema=WriteFileArgs,
            run=write_file,
            assess=writes("writes", "path"),
            appends=("append", "path", "content"),
        ),
        tool(
            name="combine_files",
            description=(
                "Join whole text files into one file (merge, concatenate), in the order "
                "given, each part starting on a new line. The destination may be new or one "
                "of the files."
            ),
            capability="Join (merge) whole files into one file, in the order given.",
            risk="write",
            schema=CombineFilesArgs,
            run=combine_files,
            assess=writes("joins", "destination"),
        ),
        tool(
            name="edit_file",
            description=(
                "Replace an exact piece of text in an existing file. The search text must "
                "match exactly (whitespace included) and, with count=1, occur exactly once."
            ),
            capability="Change part of an existing file by replacing an exact text snippet.",
            risk="write",
            schema=EditFileArgs,
            run=edit_file,
            assess=writes("edits", "path"),
            edits_existing="path",
            edit_text="replace",
            edit_search="search",
        ),
        tool(
            name="delete_file",
            description=(
                "Delete a file, a symlink (not its target) or a directory (recursive=true when "
                "it is not empty) inside the workspace."
            ),
            capability="Delete a file or directory.",
            risk="write",
            schema=DeleteFileArgs,
            run=delete_file,
            assess=writes("deletes", "path"),
        ),
        tool(
            name="move_file",
            description=(
                "Move or rename a file or directory inside the workspace; into a directory if "
                "the destination is one. Refuses to replace an existing file unless overwrite."
            ),
            capability="Rename or move a file or directory.",
            risk="write",
            schema=MoveFileArgs,
            run=move_file,
            assess=writes("moves", "source", "destination"),
        ),
        tool(
            name="file_info",
            description=(
                "Show what a path is (file, directory, symlink and its target), its size, "
                "modification time, permissions and, for text files, the line count."
            ),
            capability="Check whether a path exists and what it is, without reading it.",
            risk="read",
            schema=FileInfoArgs,
            run=file_info,
            fingerprint=stat_of("path"),
        ),
    ]


def file_tools_registry(workspace_root: Path | str) -> ToolRegistry:
    """A registry of the file tools alone, over ``workspace_root``; the full default tool set
    is :func:`lmsa.tools.defaults.build_registry`."""
    return ToolRegistry(make_file_tools(Workspace(workspace_root)))
