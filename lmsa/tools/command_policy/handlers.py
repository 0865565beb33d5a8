"""Rules for programs whose effect depends on their subcommand or operands: ``cd``, ``find``,
``sed``, ``cp``/``mv``, archives, ``curl``, ``rsync``, ``git``, services, containers ...

Each handler gets the analyser (to judge the paths it finds, or a command it runs), the program
name, its arguments and the scope, and returns the worst class of what it saw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from lmsa.tools.command_policy.lexer import operands
from lmsa.tools.command_policy.tables import (
    DEV_READS,
    DOCKER_DESTROY,
    DOCKER_READS,
    GIT_DANGEROUS_KEYS,
    GIT_LISTINGS,
    GIT_READS,
    PUBLISH,
    SAFE_DEVICES,
    SYSTEMCTL_READS,
)
from lmsa.tools.command_policy.verdict import CommandVerdict, Scope, verdict
from lmsa.tools.workspace import Workspace


class Judge(Protocol):
    """What a handler needs of the analyser: the workspace and its path and program checks."""

    workspace: Workspace

    def where(self, word: str, scope: Scope) -> str: ...

    def reads(self, paths: Iterable[str], scope: Scope, *, verb: str = ...) -> CommandVerdict: ...

    def writes(self, paths: Iterable[str], scope: Scope, *, verb: str = ...) -> CommandVerdict: ...

    def deletes(
        self, paths: Sequence[str], scope: Scope, *, recursive: bool, verb: str = ...
    ) -> CommandVerdict: ...

    def program(self, argv: list[str], scope: Scope) -> CommandVerdict: ...


def _h_cd(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    target = next((a for a in args if not a.startswith("-")), "~")
    where = policy.where(target, scope)
    if where in ("inside", "root"):
        base = scope.cwd or policy.workspace.root
        scope.cwd = policy.workspace.resolve(os.path.normpath(os.path.join(base, target)))
    elif where == "unknown":
        scope.cwd = None
    else:
        text = os.path.expanduser(target)
        scope.cwd = Path(os.path.normpath(os.path.join(scope.cwd or "/", text)))
        return verdict("write", f"changes to '{target}', outside the workspace")
    return verdict("read", "changes directory")


def _h_find(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    roots: list[str] = []
    index = 0
    while index < len(args) and not args[index].startswith(("-", "(", "!")):
        roots.append(args[index])
        index += 1
    roots = roots or ["."]
    verdicts = [policy.reads(roots, scope, verb="find searches")]
    expression = args[index:]
    i = 0
    while i < len(expression):
        token = expression[i]
        if token == "-delete":
            # Without tests (-name, -type ...) find deletes everything under its roots.
            filtered = bool(set(expression) - {"-delete", "-depth", "-print", "-xdev"})
            verdicts.append(
                policy.deletes(roots, scope, recursive=not filtered, verb="find -delete removes")
            )
        elif token in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(expression) and expression[end] not in (";", "+"):
                end += 1
            inner = [roots[0] if word == "{}" else word for word in expression[i + 1 : end]]
            if inner:
                verdicts.append(policy.program(inner, scope))
            i = end
        elif token in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(expression):
            verdicts.append(policy.writes([expression[i + 1]], scope, verb="find writes"))
        i += 1
    return CommandVerdict.worst(verdicts)


def _h_sed(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    in_place = any(
        a.startswith("--in-place") or (a.startswith("-") and not a.startswith("--") and "i" in a)
        for a in args
    )
    scripts = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-e", "--expression")]
    positionals = operands(args, skip_values={"-e", "--expression", "-f", "--file", "-l"})
    if not scripts and positionals:
        scripts, positionals = [positionals[0]], positionals[1:]
    if in_place:
        return policy.writes(positionals, scope, verb="sed -i edits")
    if any(re.search(r"(?:^|[;}\s/0-9$])[wWe](?:\s|$)", script) for script in scripts):
        return verdict("write", "the sed script writes files or runs commands")
    return policy.reads(positionals, scope, verb="sed")


def _h_awk(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    positionals = operands(args, skip_values={"-F", "-v", "-f"})
    if "-f" in args:
        return verdict("write", f"runs an {name} program file")
    if not positionals:
        return verdict("read", f"{name} filters its input")
    program, files = positionals[0], positionals[1:]
    if re.search(r"system\s*\(|[>|]|getline|close\s*\(", program):
        return verdict("write", f"the {name} program writes files or runs commands")
    return policy.reads(files, scope, verb=name)


def _h_sort(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    for i, arg in enumerate(args):
        if arg == "-o" and i + 1 < len(args):
            return policy.writes([args[i + 1]], scope, verb="sort writes")
        if arg.startswith("--output="):
            return policy.writes([arg.split("=", 1)[1]], scope, verb="sort writes")
    return policy.reads(operands(args, skip_values={"-k", "-t", "-S", "-T"}), scope, verb="sort")


def _h_copy(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    """cp, mv, ln, install: sources are read (mv: removed), the destination is written."""
    target = None
    for i, arg in enumerate(args):
        if arg in ("-t", "--target-directory") and i + 1 < len(args):
            target = args[i + 1]
        elif arg.startswith("--target-directory="):
            target = arg.split("=", 1)[1]
    positionals = operands(args, skip_values={"-t", "--target-directory", "-S", "--suffix"})
    if target is None:
        if len(positionals) < 2:
            return verdict("write", f"'{name}' with too few operands")
        sources, target = positionals[:-1], positionals[-1]
    else:
        sources = positionals
    verdicts = [policy.writes([target], scope, verb=f"{name} writes")]
    if name == "mv":
        verdicts.append(policy.deletes(sources, scope, recursive=True, verb="mv removes"))
    elif name != "ln":
        verdicts.append(policy.reads(sources, scope, verb=name))
    return CommandVerdict.worst(verdicts)


def _h_chmod(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    positionals = operands(args, skip_values={"--reference"})
    if not positionals:
        return verdict("write", f"'{name}' without operands")
    mode, files = positionals[0], positionals[1:]
    if name == "chmod" and (
        re.search(r"[ugoa]*[+=][rwxXt]*s", mode) or re.fullmatch(r"0?[2-7][0-7]{3}", mode)
    ):
        return verdict(
            "dangerous", f"'chmod {mode}' sets setuid/setgid bits (privilege escalation)"
        )
    return policy.writes(files, scope, verb=f"{name} changes")


def _h_dd(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    verdicts = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "of":
            if value.startswith("/dev/") and not value.startswith(SAFE_DEVICES):
                return verdict("dangerous", f"dd writes to the device '{value}'")
            verdicts.append(policy.writes([value], scope, verb="dd writes"))
        elif key == "if":
            verdicts.append(policy.reads([value], scope, verb="dd reads"))
    return CommandVerdict.worst(verdicts or [verdict("read", "dd copies its input to its output")])


def _h_tar(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    flags = "".join(a.lstrip("-") for a in args[:1]) + "".join(
        a[1:] for a in args[1:] if a.startswith("-") and not a.startswith("--")
    )
    directory = "."
    for i, arg in enumerate(args):
        if arg in ("-C", "--directory") and i + 1 < len(args):
            directory = args[i + 1]
        elif arg.startswith("--directory="):
            directory = arg.split("=", 1)[1]
    archive = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-f", "--file")), None)
    if archive is None and args and "f" in flags:
        positional = operands(args[1:])
        archive = positional[0] if positional else None
    if "x" in flags or "--extract" in args or "--get" in args:
        return policy.writes([directory], scope, verb="tar extracts into")
    if "c" in flags or "r" in flags or "u" in flags or "--create" in args:
        return policy.writes([archive or "-"], scope, verb="tar writes")
    return verdict("read", "tar lists an archive")


def _h_archive(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    if name == "unzip":
        if "-l" in args or "-t" in args or "-Z" in args:
            return verdict("read", "unzip lists an archive")
        for i, arg in enumerate(args[:-1]):
            if arg == "-d":
                return policy.writes([args[i + 1]], scope, verb="unzip extracts into")
        return policy.writes(["."], scope, verb="unzip extracts into")
    positionals = operands(args, skip_values={"-S", "--suffix"})
    if name in ("zip", "7z", "rar"):
        return policy.writes(positionals[:1], scope, verb=f"{name} writes")
    if "-c" in args or "--stdout" in args or "-l" in args or "-t" in args:
        return policy.reads(positionals, scope, verb=name)
    return policy.writes(positionals, scope, verb=f"{name} replaces")


def _h_curl(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    upload = {
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-ascii",
        "--data-urlencode",
        "-F",
        "--form",
        "--form-string",
        "-T",
        "--upload-file",
        "--json",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
    }
    verdicts: list[CommandVerdict] = []
    for i, arg in enumerate(args):
        key = arg.split("=", 1)[0]
        if key in upload or (key.startswith("-d") and name == "curl" and len(key) > 2):
            return verdict(
                "dangerous", f"{name} sends data over the network (possible exfiltration)"
            )
        if key in ("-X", "--request", "--method"):
            method = (
                arg.split("=", 1)[1] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            )
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                return verdict("dangerous", f"{name} sends a {method.upper()} request")
        if key in ("-o", "--output", "-O", "--output-document", "-P", "--directory-prefix"):
            value = (
                arg.split("=", 1)[1] if "=" in arg else (args[i + 1] if i + 1 < len(args) else ".")
            )
            if key != "-O" or name == "wget":
                verdicts.append(policy.writes([value], scope, verb=f"{name} saves to"))
        if arg.startswith("file:"):
            verdicts.append(policy.reads([arg], scope, verb=f"{name} reads"))
    verdicts.append(verdict("write", f"{name} downloads from the network"))
    return CommandVerdict.worst(verdicts)


def _h_rsync(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    positionals = operands(args, skip_values={"-e", "--rsh", "--exclude", "--include"})
    if any(re.match(r"^[^/]*:", p) or p.startswith("rsync://") for p in positionals):
        return verdict("dangerous", "rsync copies over the network (possible exfiltration)")
    if len(positionals) < 2:
        return verdict("write", "rsync with too few operands")
    sources, target = positionals[:-1], positionals[-1]
    verdicts = [
        policy.writes([target], scope, verb="rsync writes"),
        policy.reads(sources, scope, verb="rsync"),
    ]
    if any(a.startswith("--delete") or a == "--remove-source-files" for a in args):
        verdicts.append(
            policy.deletes(
                [target, *sources], scope, recursive=False, verb="rsync --delete removes from"
            )
        )
    return CommandVerdict.worst(verdicts)


def _h_git(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    verdicts: list[CommandVerdict] = []
    local = Scope(scope.cwd, scope.depth, scope.stdin_targets)
    i = 0
    while i < len(args) and args[i].startswith("-"):
        option = args[i]
        if option == "-C" and i + 1 < len(args):
            verdicts.append(_h_cd(policy, "cd", [args[i + 1]], local))
            i += 2
            continue
        if option == "-c" and i + 1 < len(args):
            key = args[i + 1].split("=", 1)[0]
            if GIT_DANGEROUS_KEYS.search(key):
                return verdict("dangerous", f"git -c {key} can run arbitrary commands")
            verdicts.append(verdict("write", f"git runs with the option {key}"))
            i += 2
            continue
        if option in ("--git-dir", "--work-tree") or option.startswith(
            ("--git-dir=", "--work-tree=")
        ):
            verdicts.append(verdict("write", "git works on another repository directory"))
            i += 1 if "=" in option else 2
            continue
        i += 1
    if i >= len(args):
        return CommandVerdict.worst([*verdicts, verdict("read", "git without a subcommand")])
    sub, rest = args[i], args[i + 1 :]
    if sub in GIT_READS:
        if sub == "diff" and "--output" in " ".join(rest):
            verdicts.append(verdict("write", "git diff --output writes a file"))
        elif sub == "grep" and any(a.startswith(("-O", "--open-files-in-pager")) for a in rest):
            verdicts.append(verdict("write", "git grep -O runs a pager program"))
        else:
            verdicts.append(verdict("read", f"git {sub} only reads the repository"))
    elif sub in GIT_LISTINGS and (not rest or rest[0] in GIT_LISTINGS[sub]):
        if (
            sub == "config"
            and any(a in ("--global", "--system") for a in rest)
            and not any(a in GIT_LISTINGS["config"] for a in rest)
        ):
            verdicts.append(
                verdict("dangerous", "git config changes settings outside the workspace")
            )
        else:
            verdicts.append(verdict("read", f"git {sub} lists information"))
    elif sub == "config":
        if any(a in ("--global", "--system") for a in rest):
            verdicts.append(
                verdict("dangerous", "git config changes settings outside the workspace")
            )
        elif rest and GIT_DANGEROUS_KEYS.search(rest[-2] if len(rest) >= 2 else rest[0]):
            verdicts.append(verdict("dangerous", "git config sets an option that runs commands"))
        else:
            verdicts.append(verdict("write", "git config changes the repository's settings"))
    elif sub == "push":
        positionals = operands(rest, skip_values={"-o", "--push-option", "--repo"})
        remote = positionals[0] if positionals else ""
        if "://" in remote or re.match(r"^[^/]+@[^/]+:", remote) or remote.startswith("/"):
            verdicts.append(verdict("dangerous", f"git push sends the code to '{remote}'"))
        else:
            verdicts.append(verdict("write", "git push publishes commits to a configured remote"))
    elif sub in ("clean", "reset", "checkout", "restore", "rm", "stash"):
        verdicts.append(verdict("write", f"git {sub} changes or discards files in the workspace"))
    elif sub in ("clone", "fetch", "pull", "submodule", "ls-remote"):
        verdicts.append(verdict("write", f"git {sub} talks to the network"))
    else:
        verdicts.append(verdict("write", f"git {sub} changes the repository"))
    return CommandVerdict.worst(verdicts)


def _h_service(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    positionals = operands(args)
    action = positionals[0] if positionals else ""
    if name == "service":
        action = positionals[1] if len(positionals) > 1 else ""
    if action in SYSTEMCTL_READS or (not positionals and name == "systemctl"):
        return verdict("read", f"{name} shows service state")
    return verdict("dangerous", f"'{name} {action}' changes system services")


def _h_crontab(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    if args == ["-l"]:
        return verdict("read", "lists the crontab")
    return verdict("dangerous", "crontab changes scheduled jobs outside the workspace")


def _h_docker(policy: Judge, name: str, args: list[str], scope: Scope) -> CommandVerdict:
    positionals = operands(args)
    sub = positionals[0] if positionals else ""
    if sub in DOCKER_READS or (sub in ("container", "image") and positionals[1:2] in (["ls"],)):
        return verdict("read", f"{name} {sub} shows containers or images")
    if sub in DOCKER_DESTROY:
        return verdict(
            "dangerous", f"'{name} {sub}' affects containers or data outside the workspace"
        )
    joined = " ".join(args)
    if "--privileged" in args or re.search(r"--(pid|net|network|ipc|userns)[= ]host", joined):
        return verdict("dangerous", f"{name} runs a container with host privileges")
    for i, arg in enumerate(args):
        if arg in ("-v", "--volume", "--mount") and i + 1 < len(args):
            host = args[i + 1].split(":", 1)[0].replace("source=", "").split(",")[0]
            if host.startswith(("/", "~", "$", ".")) and policy.where(host, scope) not in (
                "inside",
                "root",
            ):
                return verdict("dangerous", f"{name} mounts '{host}', outside the workspace")
    return verdict("write", f"{name} {sub} runs or builds containers")


def interpreter(name: str, args: list[str]) -> CommandVerdict:
    for i, arg in enumerate(args):
        if arg in ("-c", "-e", "--eval", "-E", "-p", "--print", "-r"):
            return verdict("write", f"{name} runs inline code that cannot be checked")
        if arg == "-m" and i + 1 < len(args):
            return verdict("write", f"{name} runs the module '{args[i + 1]}'")
        if not arg.startswith("-"):
            return verdict("write", f"{name} runs the script '{arg}'")
    return verdict("write", f"{name} runs code from its input")


def dev_tool(name: str, args: list[str]) -> CommandVerdict:
    positionals = [a for a in args if not a.startswith("-")] or args[:1]
    sub = positionals[0] if positionals else ""
    if sub in PUBLISH.get(name, ()):
        return verdict("dangerous", f"'{name} {sub}' publishes to the network")
    if sub in DEV_READS.get(name, ()) or (args and args[0] in DEV_READS.get(name, ())):
        return verdict("read", f"'{name} {sub}' only shows information")
    return verdict("write", f"'{' '.join([name, *args[:2]])}' may change the workspace")


HANDLERS = {
    "cd": _h_cd,
    "pushd": _h_cd,
    "find": _h_find,
    "sed": _h_sed,
    "gsed": _h_sed,
    "awk": _h_awk,
    "gawk": _h_awk,
    "mawk": _h_awk,
    "nawk": _h_awk,
    "sort": _h_sort,
    "cp": _h_copy,
    "mv": _h_copy,
    "ln": _h_copy,
    "chmod": _h_chmod,
    "chown": _h_chmod,
    "chgrp": _h_chmod,
    "dd": _h_dd,
    "tar": _h_tar,
    "unzip": _h_archive,
    "zip": _h_archive,
    "gzip": _h_archive,
    "gunzip": _h_archive,
    "bzip2": _h_archive,
    "bunzip2": _h_archive,
    "xz": _h_archive,
    "unxz": _h_archive,
    "zstd": _h_archive,
    "7z": _h_archive,
    "curl": _h_curl,
    "wget": _h_curl,
    "rsync": _h_rsync,
    "git": _h_git,
    "systemctl": _h_service,
    "service": _h_service,
    "crontab": _h_crontab,
    "docker": _h_docker,
    "podman": _h_docker,
}
