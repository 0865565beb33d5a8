"""Checks on a plan the model proposed that need no model: text copied from the prompt's
scaffolding into files, changes to files the user never named (asked about instead), a file
the request wants created that the plan ignores (sent back once), edits of files that do not
exist, listings of the whole workspace when the request names one folder, and appends that
repeat the file they add to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmsa.llm.structured import dumps
from lmsa.nodes._common import RESTATED_TABLE, read_footer
from lmsa.state import WorkspaceInfo
from lmsa.tools import ToolCallRejected, ToolRegistry

# ``lmsa.nodes.plan.Plan``, which imports this module (a plan: ``steps`` of ``tool``/``args``).
Plan = Any

GROUNDING_READER = "read_file"


def call_key(tools: ToolRegistry, tool: str, args: Any) -> str:
    """One call as a comparable key: the tool and its arguments with defaults filled in."""
    try:
        return dumps([tool, tools.validate_call(tool, dict(args or {}))])
    except (ToolCallRejected, TypeError, ValueError):
        return dumps([tool, args])


_OLD_HEADER = re.compile(r"^\s*\[[\w-]+\] \w+\(.*\)( -> .*)?$")
_CONTENT_ARGS = ("content", "replace", "text")


def scaffold_lines(results: Sequence[dict[str, Any]]) -> set[str]:
    """Lines the model was shown around tool outputs rather than in them: the line naming each
    call, ``read_file``'s own header (``notes.txt (2 lines)``) and the footer it is shown as
    (``[end of notes.txt: 2 lines]``), the restated-table lines."""
    lines = {RESTATED_TABLE}
    for result in results:
        lines.add(f"Result of {result.get('tool')}")
        output = result.get("output")
        if result.get("ok") and result.get("tool") == GROUNDING_READER and isinstance(output, str):
            lines.add(output.partition("\n")[0].strip())
            lines.add(read_footer(output) or "")
    return {line for line in lines if line}


def without_scaffolding(plan: Plan, results: Sequence[dict[str, Any]], tools: ToolRegistry) -> Plan:
    """The plan with the scaffolding lines the model copied from its prompt taken out of the
    text it writes into files: merging two files it has read, a small model writes
    ``Result of read_file (path part1.txt):`` or ``part1.txt (2 lines)`` into the merged file."""
    shown = scaffold_lines(results)

    def is_scaffold(line: str) -> bool:
        text = line.strip()
        return bool(text) and (
            text in shown
            or text.startswith("Result of ")
            or "TOOL_RESULTS" in text
            or bool(_OLD_HEADER.match(text))
        )

    steps = []
    changed = False
    for step in plan.steps:
        if step.tool not in tools or tools.risk(step.tool) == "read":
            steps.append(step)
            continue
        args = dict(step.args)
        for key in _CONTENT_ARGS:
            value = args.get(key)
            if isinstance(value, str) and any(is_scaffold(line) for line in value.split("\n")):
                args[key] = "\n".join(line for line in value.split("\n") if not is_scaffold(line))
                changed = True
        steps.append(step.model_copy(update={"args": args}))
    return plan.model_copy(update={"steps": steps}) if changed else plan


def _existing(root: Path, value: Any) -> str | None:
    """``value`` as a workspace-relative path when it names something that exists there."""
    path = _inside(root, value)
    return path if path is not None and (root / path).exists() else None


def _inside(root: Path, value: Any) -> str | None:
    """``value`` as a workspace-relative path when it names a place inside the workspace at
    ``root``, whether or not anything is there yet."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        real = (root / value.strip()).resolve()
    except (OSError, ValueError):
        return None
    if real == root or not real.is_relative_to(root):
        return None
    return real.relative_to(root).as_posix()


def _named_in(path: str, text: str) -> bool:
    """Whether ``text`` names ``path``: its file name, or its name without the extension as a
    word ("the readme" names README.md)."""
    lowered = text.lower()
    name = path.rsplit("/", 1)[-1].lower()
    if name in lowered or path.lower() in lowered:
        return True
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return (
        len(stem) >= 3 and re.search(rf"(?<![\w.]){re.escape(stem)}(?![\w])", lowered) is not None
    )


_TARGETS = ("path", "source", "destination")
"""The arguments that name what a changing tool writes, moves or creates."""


def _changed_paths(plan: Plan, tools: ToolRegistry, keys: Sequence[str]) -> dict[str, bool]:
    """Workspace-relative path -> whether it exists, for what the plan's changing steps name in
    ``keys`` (tools bound to the workspace only)."""
    root = tools.workspace_root
    if root is None:
        return {}
    root = root.resolve()
    paths: dict[str, bool] = {}
    for step in plan.steps:
        if step.tool not in tools or tools.risk(step.tool) == "read":
            continue
        if not (tools.get(step.tool).metadata or {}).get("workspace_root"):
            continue
        for key in keys:
            path = _inside(root, step.args.get(key))
            if path is not None:
                paths.setdefault(path, (root / path).exists())
    return paths


def unnamed_changes(plan: Plan, tools: ToolRegistry, requests: str) -> list[str]:
    """Existing workspace files the plan would change, delete or move although the user's
    messages never name them. A request that says what to do but not to what ("fix it",
    "delete the old one") leaves the choice of file to the model, which then edits or deletes
    whichever file it saw first; such a change is asked about instead of made."""
    paths = _changed_paths(plan, tools, ("path", "source"))
    return [path for path, exists in paths.items() if exists and not _named_in(path, requests)]


def unnamed_creations(plan: Plan, tools: ToolRegistry, requests: str) -> list[str]:
    """Files the plan would create that the user's messages never name. Asked how many
    visitors two files add up to, a small model merges the files into ``total_visitors.txt``:
    a file nobody asked for, made in answer to a question."""
    paths = _changed_paths(plan, tools, _TARGETS)
    return [path for path, exists in paths.items() if not exists and not _named_in(path, requests)]


def without_changes_to(plan: Plan, tools: ToolRegistry, paths: Sequence[str]) -> Plan:
    """The plan without the steps that would change or create ``paths`` (and the steps
    waiting for them): for a message that asks for no change (thanks, a question), a small
    model still plans to write the first file it saw, and asking whether it should only
    puzzles the user."""
    root = tools.workspace_root
    if root is None or not paths:
        return plan
    root = root.resolve()
    dropped: set[str] = set()
    for step in plan.steps:
        if step.tool not in tools or tools.risk(step.tool) == "read":
            continue
        if any(_inside(root, step.args.get(key)) in paths for key in _TARGETS):
            dropped.add(step.id)
    changed = True
    while changed:
        waiting = {s.id for s in plan.steps if s.id not in dropped and dropped & set(s.depends_on)}
        changed = bool(waiting)
        dropped |= waiting
    kept = [s for s in plan.steps if s.id not in dropped]
    return plan.model_copy(update={"steps": kept, "answer_directly": not kept})


def confirmation_question(plan: Plan, unnamed: list[str]) -> str:
    """What to ask before changing files the user did not name: the files and the tools the
    plan chose for them, so the user can say yes, or name the right file."""
    actions = sorted({step.tool.replace("_", " ") for step in plan.steps})
    return (
        f"Your request does not name the file to change. Do you mean {', '.join(unnamed)} "
        f"({', '.join(actions)})? Please name the file and say exactly what to change."
    )


def missing_creations(
    plan: Plan, tools: ToolRegistry, workspace: WorkspaceInfo | None
) -> list[str]:
    """The reasons to re-plan a plan that changes something but never touches a file the
    request names and that does not exist yet ("add a .gitignore that ..."): such a file is
    almost always the one to create, and a plan without it did something else."""
    root = tools.workspace_root
    if workspace is None or root is None:
        return []
    changing = [s for s in plan.steps if s.tool in tools and tools.risk(s.tool) != "read"]
    if not changing:
        return []
    # Only where a path goes: a commit message that mentions the file does not create it.
    text = dumps(
        [
            value
            for step in plan.steps
            for key, value in step.args.items()
            if "path" in key or key in ("source", "destination")
        ]
    )
    root = root.resolve()
    return [
        f"The request names {word}, which does not exist yet, but no step creates it; "
        "create it with write_file, or do what the request asks with it."
        for word in workspace.get("mentioned_paths") or []
        if _existing(root, word) is None and word.rstrip("/") not in text
    ]


def scoped_searches(
    plan: Plan, tools: ToolRegistry, workspace: WorkspaceInfo | None, requests: str
) -> Plan:
    """Where listing and search steps look, mended: a step aimed at the whole workspace looks
    in the one folder the request names ("how many Python files are in src?": a small model
    copies the root ``.`` from its examples and counts the whole tree), and a step aimed at a
    place the user never named looks at the whole workspace, or that folder, instead (a small
    model picks a file from the listing, searches it for the TODO and finds none; a wider
    read-only search loses nothing). Tools say which argument is their folder (``scope_arg``
    in their metadata)."""
    if workspace is None:
        return plan
    folders = workspace.get("named_dirs") or []
    target = folders[0] if len(folders) == 1 and not workspace["named_files"] else "."
    steps = []
    changed = False
    for step in plan.steps:
        arg = _metadata(tools, step.tool, "scope_arg")
        where = str(step.args.get(arg, ".")).strip().rstrip("/") or "." if arg else ""
        named = where in folders or (where != "." and _named_in(where, requests))
        if arg and not named and where != target:
            step = step.model_copy(update={"args": {**step.args, arg: target}})
            changed = True
        steps.append(step)
    return plan.model_copy(update={"steps": steps}) if changed else plan


def _missing_edit_target(step: Any, tools: ToolRegistry, root: Path) -> str | None:
    """The path ``step`` would edit (its tool's ``edits_existing`` argument) when no such file
    exists in the workspace at ``root``."""
    arg = _metadata(tools, step.tool, "edits_existing")
    value = step.args.get(arg) if arg else None
    if not isinstance(value, str) or not value.strip() or _existing(root, value) is not None:
        return None
    return value.strip()


def missing_edit_targets(plan: Plan, tools: ToolRegistry, requests: str) -> list[str]:
    """Files the plan would edit that neither exist nor are named in the user's messages: the
    model guessed them (often from an example), so the user is asked which file they mean."""
    root = tools.workspace_root
    if root is None:
        return []
    targets = (_missing_edit_target(step, tools, root.resolve()) for step in plan.steps)
    return list(dict.fromkeys(t for t in targets if t and not _named_in(t, requests)))


CREATOR = "write_file"


def edits_as_creations(plan: Plan, tools: ToolRegistry, requests: str) -> Plan:
    """Edits of a file the request names but that does not exist yet, turned into creating it
    with the edit's new text: "create greet.py with a function ..." planned as an edit of
    greet.py, which can only fail. A small model told so keeps planning the edit; its
    replacement text is the content it means. The write asks for approval like any other."""
    root = tools.workspace_root
    if root is None or CREATOR not in tools:
        return plan
    root = root.resolve()
    steps = []
    changed = False
    for step in plan.steps:
        target = _missing_edit_target(step, tools, root)
        text_arg = _metadata(tools, step.tool, "edit_text")
        text = step.args.get(text_arg) if text_arg else None
        if target and isinstance(text, str) and _named_in(target, requests):
            content = text if text.endswith("\n") or not text else text + "\n"
            step = step.model_copy(
                update={"tool": CREATOR, "args": {"path": target, "content": content}}
            )
            changed = True
        steps.append(step)
    return plan.model_copy(update={"steps": steps}) if changed else plan


def unchanged_edits_as_appends(plan: Plan, tools: ToolRegistry) -> Plan:
    """Edits whose search and replace texts are the same and absent from the file, turned
    into adding that text at the end of the file: asked to add a line ("put olive oil at the
    end of the list"), a small model writes the new line as both texts, and told that such an
    edit changes nothing, it plans the same edit again. The text it repeats is what it means
    to add. An edit whose text is already in the file is left for the planner to correct."""
    root = tools.workspace_root
    if root is None or CREATOR not in tools:
        return plan
    flag, path_arg, text_arg = _metadata(tools, CREATOR, "appends") or (None, None, None)
    if flag is None:
        return plan
    root = root.resolve()
    steps = []
    changed = False
    for step in plan.steps:
        search = step.args.get(_metadata(tools, step.tool, "edit_search") or "")
        text = step.args.get(_metadata(tools, step.tool, "edit_text") or "")
        path = _existing(root, step.args.get(_metadata(tools, step.tool, "edits_existing") or ""))
        if (
            path is None
            or not isinstance(search, str)
            or not isinstance(text, str)
            or not text.strip()
            or search.strip() != text.strip()
        ):
            steps.append(step)
            continue
        existing = _text_of(root, path)
        if existing is None or text.strip() in existing:
            steps.append(step)
            continue
        content = text.strip("\n") + "\n"
        args = {path_arg: path, text_arg: content, flag: True}
        steps.append(step.model_copy(update={"tool": CREATOR, "args": args}))
        changed = True
    return plan.model_copy(update={"steps": steps}) if changed else plan


def appends_without_repeats(plan: Plan, tools: ToolRegistry) -> Plan:
    """Appends whose text starts with the lines the file already has, cut to what is new:
    asked to add a line to a list it has just read, a small model writes the whole list plus
    the line, with ``append`` on, and the file ends up holding the list twice. Lines compare
    without their surrounding whitespace; an append that repeats only what is there is
    dropped."""
    root = tools.workspace_root
    if root is None:
        return plan
    root = root.resolve()
    steps = []
    changed = False
    for step in plan.steps:
        flag, path_arg, text_arg = _metadata(tools, step.tool, "appends") or (None, None, None)
        text = step.args.get(text_arg) if text_arg else None
        path = _existing(root, step.args.get(path_arg)) if flag and step.args.get(flag) else None
        if path is None or not isinstance(text, str):
            steps.append(step)
            continue
        content = _text_of(root, path)
        if content is None:
            steps.append(step)
            continue
        existing = [line.strip() for line in content.splitlines()]
        while existing and not existing[-1]:
            existing.pop()
        lines = text.split("\n")
        if not existing or [line.strip() for line in lines[: len(existing)]] != existing:
            steps.append(step)
            continue
        changed = True
        rest = "\n".join(lines[len(existing) :]).lstrip("\n")
        if rest.strip():
            steps.append(step.model_copy(update={"args": {**step.args, text_arg: rest}}))
    return plan.model_copy(update={"steps": steps}) if changed else plan


def _text_of(root: Path, path: str) -> str | None:
    """The text of the workspace file ``path``, or ``None`` when it cannot be read as UTF-8."""
    try:
        return (root / path).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _metadata(tools: ToolRegistry, name: str, key: str) -> Any:
    return (tools.get(name).metadata or {}).get(key) if name in tools else None


GUESSED_FILE_QUESTION = (
    "Your request does not say which file to change. Which file do you mean, and what exactly "
    "should change in it?"
)
