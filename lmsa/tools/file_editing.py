"""The file tools that change the workspace: ``write_file``, ``edit_file``, ``delete_file``
and ``move_file``. Writes are atomic (:meth:`Workspace.atomic_write`); deleting or moving a
symlink acts on the link, never on what it points to."""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Self

from langchain_core.tools import ToolException
from pydantic import BaseModel, Field, model_validator

from lmsa.tools.file_common import named_entry
from lmsa.tools.file_reading import read_text_file
from lmsa.tools.workspace import Workspace


class WriteFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")
    overwrite: bool = Field(
        default=True, description="Replace the file if it exists; if false, refuse instead."
    )
    append: bool = Field(
        default=False,
        description="Add the content at the end of the file (on a new line) instead of "
        "replacing the file; creates the file if it does not exist.",
    )


class CombineFilesArgs(BaseModel):
    paths: list[str] = Field(
        min_length=1, max_length=20, description="The files to join, in the order wanted."
    )
    destination: str = Field(description="The file to write the joined text to.")


class EditFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the workspace root.")
    search: str = Field(
        min_length=1, description="Exact existing text to replace, including whitespace."
    )
    replace: str = Field(description="Text to put in its place.")
    count: int = Field(
        default=1,
        ge=0,
        description=(
            "How many occurrences the search text may have (all are replaced): "
            "1 means it must be unique, 0 replaces every occurrence."
        ),
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        # A small model asked to add a line writes the line as both texts; refused here, the
        # plan goes back to it with the reason instead of failing later as "not found".
        if self.search == self.replace:
            raise ValueError(
                "search and replace are the same text, so the edit would change nothing; "
                "replace must hold the new text (to add lines at the end of a file, use "
                "write_file with append=true)"
            )
        return self


class DeleteFileArgs(BaseModel):
    path: str = Field(description="File or directory path, relative to the workspace root.")
    recursive: bool = Field(
        default=False, description="Needed to delete a directory that is not empty."
    )


class MoveFileArgs(BaseModel):
    source: str = Field(description="Existing file or directory, relative to the workspace root.")
    destination: str = Field(description="New path, relative to the workspace root.")
    overwrite: bool = Field(
        default=False, description="Replace an existing destination file; if false, refuse."
    )


def write_file(workspace: Workspace, args: WriteFileArgs) -> str:
    real = workspace.resolve(args.path)
    shown = workspace.relative(real)
    if real.is_dir():
        raise ToolException(f"'{shown}' is a directory; give a file path to write.")
    if args.append and real.is_file():
        _, before = read_text_file(workspace, args.path, strict_utf8=True)
        addition = args.content if args.content.endswith("\n") else args.content + "\n"
        separator = "\n" if before and not before.endswith("\n") else ""
        workspace.atomic_write(real, before + separator + addition)
        return f"Appended {len(addition.encode('utf-8'))} bytes to the end of {shown}"
    if not args.append and not args.overwrite and os.path.lexists(real):
        raise ToolException(
            f"'{shown}' already exists and overwrite is false; use edit_file or set overwrite=true."
        )
    workspace.atomic_write(real, args.content)
    return f"Wrote {len(args.content.encode('utf-8'))} bytes to {shown}"


def combine_files(workspace: Workspace, args: CombineFilesArgs) -> str:
    """Every source read before anything is written, so the destination may be one of them
    ("add b.txt to the end of a.txt"); each part ends with a line break, so the next one starts
    on a line of its own."""
    parts = []
    for path in args.paths:
        _, text = read_text_file(workspace, path, strict_utf8=True)
        parts.append(text if not text or text.endswith("\n") else text + "\n")
    real = workspace.resolve(args.destination)
    if real.is_dir():
        raise ToolException(f"'{workspace.relative(real)}' is a directory; give a file path.")
    joined = "".join(parts)
    workspace.atomic_write(real, joined)
    return (
        f"Wrote {len(joined.encode('utf-8'))} bytes to {workspace.relative(real)}: "
        + ", ".join(args.paths)
        + " joined in that order"
    )


def edit_file(workspace: Workspace, args: EditFileArgs) -> str:
    target = workspace.resolve(args.path)
    if not os.path.lexists(target):
        raise ToolException(
            f"'{workspace.relative(target)}' does not exist; edit_file changes existing files. "
            "To create it, use write_file."
        )
    real, text = read_text_file(workspace, args.path, strict_utf8=True)
    shown = workspace.relative(real)
    search, replace = args.search, args.replace
    found = text.count(search)
    if found == 0 and "\r\n" in text and "\n" in search and "\r\n" not in search:
        # The model saw the file with its line endings normalised; match it as written.
        search, replace = search.replace("\n", "\r\n"), replace.replace("\n", "\r\n")
        found = text.count(search)
    note = ""
    value_of_key = _bare_key_setting(
        text, search, replace, json_file=shown.lower().endswith(".json")
    )
    if value_of_key is not None:
        search, replace = value_of_key
        found = text.count(search)
        note = f" (set the value of {args.search.strip()})"
    elif found == 0 and shown.lower().endswith(".json"):
        setting = _json_setting(text, search, replace)
        if setting is not None:
            search, replace = setting
            found = text.count(search)
    if found == 0:
        spans = _loose_matches(text, search)
        if len(spans) != 1:
            raise ToolException(
                f"The search text was not found in '{shown}'; no changes were made. Copy the "
                "exact text to replace from the file; to add lines at its end, use write_file "
                "with append=true."
            )
        # The text is there with other spacing ("debug":true for "debug": true): a model
        # copying a line often changes only its spaces.
        start, end = spans[0]
        search, found = text[start:end], 1
        note = " (matched with different spacing)"
    if args.count and found > args.count:
        expected = "once" if args.count == 1 else f"{args.count} times"
        raise ToolException(
            f"The search text occurs {found} times in '{shown}' but was expected {expected}; "
            "include more surrounding text to make it unique, or set count=0 to replace all."
        )
    edited = text.replace(search, replace)
    _check_structure(shown, text, edited)
    workspace.atomic_write(real, edited)
    noun = "occurrence" if found == 1 else "occurrences"
    return f"Edited {shown}: replaced {found} {noun}{note}."


_PUNCTUATION = frozenset(":=,;{}[]()")


def _loose_matches(text: str, search: str) -> list[tuple[int, int]]:
    """Where ``search`` occurs in ``text`` if runs of spaces may differ, and spaces next to
    ``:``, ``=``, ``,`` and brackets may be missing or added (at most two matches)."""
    stripped = search.strip()
    if not stripped:
        return []
    parts: list[str] = []
    previous = ""
    for char in stripped:
        if char.isspace():
            if previous != "space":
                parts.append(r"\s+")
            previous = "space"
            continue
        if char in _PUNCTUATION:
            if parts and parts[-1] == r"\s+":
                parts.pop()
            # "port: 8080" for "port = 8080": either separator is the same assignment.
            shown = "[:=]" if char in ":=" else re.escape(char)
            parts.append(r"[ \t]*" + shown + r"[ \t]*")
            previous = "punctuation"
            continue
        parts.append(re.escape(char))
        previous = "char"
    pattern = re.compile("".join(parts))
    spans = []
    for match in pattern.finditer(text):
        spans.append((match.start(), match.end()))
        if len(spans) > 1:
            break
    return spans


_ASSIGNMENT = re.compile(r"""^\s*["']?([\w.-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$""")


def _json_literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'\"")


def _json_setting(text: str, search: str, replace: str) -> tuple[str, str] | None:
    """The exact text of a JSON file's ``"key": value`` pair that ``search`` means when written
    as a setting in another syntax (``debug = true``, ``debug: true``), and its replacement
    with ``replace``'s value: a model changing one setting rarely copies JSON's quotes."""
    old, new = _ASSIGNMENT.match(search), _ASSIGNMENT.match(replace)
    if old is None or new is None or old.group(1) != new.group(1):
        return None
    key = old.group(1)
    before = json.dumps(_json_literal(old.group(2)), ensure_ascii=False)
    after = json.dumps(_json_literal(new.group(2)), ensure_ascii=False)
    pattern = re.compile(rf'("{re.escape(key)}"\s*:\s*){re.escape(before)}')
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        return None
    found = matches[0]
    return found.group(0), found.group(1) + after


_BARE_KEY = re.compile(r"^[A-Za-z_][\w.-]*$")
_SCALAR = re.compile(r"^(?:true|false|yes|no|on|off|null|none|-?\d+(?:\.\d+)?)$", re.IGNORECASE)


def _bare_key_setting(
    text: str, search: str, replace: str, *, json_file: bool
) -> tuple[str, str] | None:
    """The setting line that ``search`` names by its bare key, and that line with ``replace``
    as its value, when ``replace`` is a plain value (a boolean, null or number): "turn off
    debug" planned as search ``debug``, replace ``false`` means the value, and replacing the
    key's name would leave ``"false": true``. Only a key that occurs once as a setting
    (``"key": value`` in JSON, ``key = value`` or ``key: value`` elsewhere) is changed; a
    rename to another name is left to the plain replacement."""
    key, value = search.strip(), replace.strip()
    if not _BARE_KEY.match(key) or not _SCALAR.match(value) or key == value:
        return None
    if json_file:
        pattern = re.compile(
            rf'("{re.escape(key)}"\s*:\s*)(true|false|null|-?\d+(?:\.\d+)?|"[^"]*")'
        )
        literal = json.dumps(
            _json_literal(value.lower() if value.lower() in ("true", "false", "null") else value)
        )
    else:
        pattern = re.compile(rf"(?m)^(\s*{re.escape(key)}\s*[=:]\s*)([^\n#;]*?)(?=\s*(?:[#;].*)?$)")
        literal = value
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        return None
    found = matches[0]
    return found.group(0), found.group(1) + literal


def _check_structure(shown: str, before: str, after: str) -> None:
    """Refuses an edit that turns a valid JSON file into an invalid one."""
    if not shown.lower().endswith(".json"):
        return
    try:
        json.loads(before)
    except ValueError:
        return  # it was not valid before: nothing to protect
    try:
        json.loads(after)
    except ValueError as error:
        raise ToolException(
            f"That edit would make '{shown}' invalid JSON ({error}); no changes were made. "
            "Replace a whole line such as '\"key\": value,' including its comma."
        ) from None


def delete_file(workspace: Workspace, args: DeleteFileArgs) -> str:
    real = named_entry(workspace, args.path)
    shown = workspace.relative(real)
    if real.is_symlink() or not real.is_dir():
        real.unlink()
        return f"Deleted {shown}"
    if any(real.iterdir()):
        if not args.recursive:
            raise ToolException(
                f"'{shown}' is a directory that is not empty; set recursive=true to delete "
                "it with everything in it."
            )
        shutil.rmtree(real)  # rmtree never follows symlinks inside the tree
        return f"Deleted directory {shown} and its contents"
    real.rmdir()
    return f"Deleted empty directory {shown}"


def move_file(workspace: Workspace, args: MoveFileArgs) -> str:
    source = named_entry(workspace, args.source)
    destination = workspace.resolve(args.destination)
    if destination.is_dir() and destination != source:
        destination = workspace.resolve(destination / source.name)
    shown_src, shown_dst = workspace.relative(source), workspace.relative(destination)
    if destination == workspace.root:
        raise ToolException("Cannot move something onto the workspace root.")
    if source.is_dir() and destination.is_relative_to(source):
        raise ToolException(f"Cannot move '{shown_src}' into itself.")
    if os.path.lexists(destination):
        if not args.overwrite:
            raise ToolException(
                f"'{shown_dst}' already exists and overwrite is false; choose another "
                "destination or set overwrite=true."
            )
        if destination.is_dir() and not destination.is_symlink():
            raise ToolException(f"'{shown_dst}' is a directory; it is never replaced.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)
    return f"Moved {shown_src} to {shown_dst}"
