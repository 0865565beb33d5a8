"""The analyser: judges each simple command of a line from its program and arguments.

Variable assignments and wrapper programs (``env``, ``nice``, ``timeout``, ``xargs``,
``sh -c`` ...) are looked through, ``cd`` is followed, and every path argument is resolved
against the workspace jail (symlinks included). A line's class is the worst class of its parts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from lmsa.tools.command_policy.handlers import HANDLERS, dev_tool, interpreter
from lmsa.tools.command_policy.lexer import (
    PLACEHOLDER,
    Segment,
    cut_substitutions,
    has_flag,
    operands,
    skip_options,
    split_segments,
    tokenize,
)
from lmsa.tools.command_policy.network import reaches_network
from lmsa.tools.command_policy.tables import (
    DELETERS,
    DEV_TOOLS,
    DISK,
    INTERPRETERS,
    MODIFIERS,
    NETWORK,
    PATTERN_FIRST,
    PRIVILEGE,
    PROCESS,
    READ_NO_PATHS,
    READ_PATHS,
    SAFE_DEVICES,
    SHELLS,
    SYSTEM_PACKAGE_READS,
    SYSTEM_PACKAGES,
    WRAPPERS_NO_ARGS,
)
from lmsa.tools.command_policy.verdict import CommandVerdict, Scope, Unanalysable, verdict
from lmsa.tools.workspace import Workspace, WorkspaceEscape

_MAX_DEPTH = 4
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_GLOB = re.compile(r"[*?\[]")


class CommandPolicy:
    """Judges command lines against one workspace; the same instance serves every call."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._home = Path(os.path.expanduser("~"))

    def classify(self, command: str | Sequence[str], cwd: str | Path = ".") -> CommandVerdict:
        """The class of ``command`` run from ``cwd`` (a workspace path).

        An argv list is judged like a line whose words are already split: shell punctuation in
        it is literal, so it cannot chain commands, but the program is judged the same way.
        """
        try:
            start = self.workspace.resolve(cwd)
        except (WorkspaceEscape, OSError):
            return verdict("dangerous", f"the working directory '{cwd}' is outside the workspace")
        scope = Scope(cwd=start)
        try:
            if isinstance(command, str):
                if not command.strip():
                    return verdict("read", "does nothing")
                verdicts = self._line(command, scope)
            else:
                verdicts = [self._simple(Segment(argv=list(command)), scope)]
        except Unanalysable as problem:
            return verdict("dangerous", f"cannot be checked before it runs: {problem}")
        return CommandVerdict.worst(verdicts)

    # -- lines and segments

    def _line(self, text: str, scope: Scope) -> list[CommandVerdict]:
        if scope.depth > _MAX_DEPTH:
            raise Unanalysable("commands nested too deeply")
        text, inner = cut_substitutions(text)
        verdicts = [
            verdict(v.risk, f"{v.reason} (inside a command substitution)", network=v.network)
            for part in inner
            for v in self._line(part, Scope(scope.cwd, scope.depth + 1))
        ]
        segments = split_segments(tokenize(text))
        for segment in segments:
            verdicts.append(self._simple(segment, scope))
        verdicts.extend(_pipeline_checks(segments))
        return verdicts

    def _simple(self, segment: Segment, scope: Scope) -> CommandVerdict:
        verdicts: list[CommandVerdict] = []
        argv = list(segment.argv)
        while argv and _ASSIGNMENT.match(argv[0]):
            name = argv.pop(0).split("=", 1)[0]
            if name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "BASH_ENV", "ENV", "IFS"):
                verdicts.append(verdict("write", f"changes {name} for the command it runs"))
        if argv:
            verdicts.insert(0, self.program(argv, scope))
        verdicts += [self._redirect(op, target, scope) for op, target in segment.redirects]
        return CommandVerdict.worst(verdicts)

    def _redirect(self, op: str, target: str, scope: Scope) -> CommandVerdict:
        if op in ("<<", "<<-"):
            raise Unanalysable("here-documents are not supported; use write_file for content")
        if op == "<<<":
            return verdict("read", "uses a here-string")
        if op in (">&", "<&") and (target.isdigit() or target == "-"):
            return verdict("read", "duplicates a file descriptor")
        if op in ("<", "<&"):
            return self.reads([target], scope)
        return self.writes([target], scope, verb="writes to")

    # -- programs

    def program(self, argv: list[str], scope: Scope) -> CommandVerdict:
        """The class of running ``argv``; also what a handler asks about a command that its
        program runs in turn (``find -exec``)."""
        judged = self._program(argv, scope)
        if not judged.network and reaches_network(argv[0].rsplit("/", 1)[-1], argv[1:]):
            return replace(judged, network=True)
        return judged

    def _program(self, argv: list[str], scope: Scope) -> CommandVerdict:
        program, args = argv[0], argv[1:]
        if PLACEHOLDER in program or "$" in program or "`" in program:
            raise Unanalysable(f"the program name '{program}' is computed at run time")
        name = program.rsplit("/", 1)[-1]
        if "/" in program and not program.startswith("/"):
            return verdict("write", f"runs the workspace script '{program}'")
        if name in WRAPPERS_NO_ARGS:
            if not args:
                return verdict("read", f"'{name}' alone does nothing")
            if name == "command" and args[0] in ("-v", "-V"):
                return verdict("read", "looks up a command")
            return self.program(args, scope)
        if name in ("fi", "done", "esac", "}"):
            return verdict("read", "ends a shell block")
        if name in ("for", "select", "case", "in"):
            return verdict("read", "shell loop header")
        if name == "function":
            raise Unanalysable("shell function definitions")
        asks_version = args in (["--version"], ["--help"], ["-h"], ["-V"], ["version"], ["help"])
        if asks_version and name not in PRIVILEGE:
            return verdict("read", f"shows {name}'s version or help")
        wrapped = self._wrapper(name, args, scope)
        if wrapped is not None:
            return wrapped
        handler = HANDLERS.get(name)
        if handler is not None:
            return handler(self, name, args, scope)
        if name in READ_NO_PATHS:
            return verdict("read", f"'{name}' only prints information")
        if name in READ_PATHS:
            return self.reads(operands(args), scope, verb=name)
        if name in PATTERN_FIRST:
            return self._grep(name, args, scope)
        if name in DELETERS:
            recursive = name in ("rm", "srm", "wipe") and has_flag(args, "rR", ("--recursive",))
            if name == "rmdir":
                recursive = False
            return self.deletes(operands(args), scope, recursive=recursive, verb=f"{name} deletes")
        if name in MODIFIERS:
            return self.writes(
                operands(args, skip_values={"-s", "--size", "-m", "-o", "-g"}),
                scope,
                verb=f"{name} changes",
            )
        if name in PRIVILEGE:
            return verdict("dangerous", f"'{name}' changes privileges or accounts")
        if name in DISK or name.startswith("mkfs."):
            return verdict("dangerous", f"'{name}' changes disks or filesystems")
        if name in PROCESS:
            return verdict("dangerous", f"'{name}' stops processes or changes the running system")
        if name in NETWORK:
            return verdict(
                "dangerous", f"'{name}' opens a network connection (possible exfiltration)"
            )
        if name in SYSTEM_PACKAGES:
            if args and (args[0] in SYSTEM_PACKAGE_READS or name == "apt-cache"):
                return verdict("read", f"queries {name}")
            return verdict("dangerous", f"'{name}' changes system packages outside the workspace")
        if name == "apt-cache":
            return verdict("read", "queries apt's package lists")
        if name in SHELLS:
            return self._shell(name, args, scope)
        if name in INTERPRETERS:
            return interpreter(name, args)
        if name in DEV_TOOLS:
            return dev_tool(name, args)
        return verdict("write", f"runs '{name}', whose effects lmsa does not know")

    def _wrapper(self, name: str, args: list[str], scope: Scope) -> CommandVerdict | None:
        """Programs that run another program: judge that one instead."""
        rest: list[str] | None = None
        if name == "env":
            rest = skip_options(args, with_value={"-u", "--unset", "-C", "--chdir", "-S"})
            while rest and _ASSIGNMENT.match(rest[0]):
                rest = rest[1:]
            if not rest:
                return verdict("read", "prints the environment")
        elif name in ("nice", "ionice", "stdbuf", "chrt", "taskset"):
            rest = skip_options(args, with_value={"-n", "-c", "--adjustment", "-p"})
            if name in ("chrt", "taskset") and rest:
                rest = rest[1:]
        elif name == "timeout":
            rest = skip_options(args, with_value={"-s", "--signal", "-k", "--kill-after"})[1:]
        elif name == "xargs":
            rest = skip_options(
                args, with_value={"-I", "-i", "-n", "-P", "-d", "-L", "-s", "-E", "-a", "-e"}
            )
            if not rest:
                rest = ["echo"]
            inner = Scope(scope.cwd, scope.depth, stdin_targets=True)
            return self.program(rest, inner)
        elif name == "watch":
            rest = skip_options(args, with_value={"-n", "--interval", "-d"})
            return CommandVerdict.worst(self._line(" ".join(rest), _deeper(scope)))
        elif name == "eval":
            return CommandVerdict.worst(self._line(" ".join(args), _deeper(scope)))
        if rest is None:
            return None
        if not rest:
            return verdict("read", f"'{name}' without a command")
        return self.program(rest, scope)

    # -- judging paths (the handlers judge the operands they find with these too)

    def where(self, word: str, scope: Scope) -> str:
        """'inside', 'root', 'outside', 'device' or 'unknown' for a path argument."""
        text = word
        for home in ("${HOME}", "$HOME"):
            if text == home or text.startswith(home + "/"):
                text = str(self._home) + text[len(home) :]
        if text == "~" or text.startswith("~/"):
            text = str(self._home) + text[1:]
        elif text.startswith("~"):
            return "outside"  # ~user
        if "$" in text or "`" in text or PLACEHOLDER in text:
            return "unknown"
        if text.startswith("file://"):
            text = text[len("file://") :]
        if text.startswith(SAFE_DEVICES):
            return "device"
        glob = _GLOB.search(text)
        if glob:
            prefix = text[: glob.start()]
            text = prefix if prefix.endswith("/") else os.path.dirname(prefix)
            text = text or "."
        if not os.path.isabs(text):
            if scope.cwd is None:
                return "unknown"
            text = str(scope.cwd / text)
        try:
            real = self.workspace.resolve(os.path.normpath(text))
        except (WorkspaceEscape, OSError):
            return "outside"
        return "root" if real == self.workspace.root else "inside"

    def reads(self, paths: Iterable[str], scope: Scope, *, verb: str = "reads") -> CommandVerdict:
        for path in paths:
            where = self.where(path, scope)
            if where == "outside":
                return verdict("write", f"{verb} '{path}', outside the workspace")
            if where == "unknown":
                return verdict(
                    "write", f"{verb} '{path}', whose location is only known at run time"
                )
        return verdict("read", f"{verb} only reads files in the workspace")

    def writes(self, paths: Iterable[str], scope: Scope, *, verb: str = "writes") -> CommandVerdict:
        shown: list[str] = []
        for path in paths:
            where = self.where(path, scope)
            if where == "outside":
                return verdict("dangerous", f"{verb} '{path}', outside the workspace")
            if where == "device":
                continue
            if where == "unknown":
                return verdict(
                    "write", f"{verb} '{path}', whose location is only known at run time"
                )
            shown.append(path)
        if not shown:
            if scope.stdin_targets:
                return verdict("write", f"{verb} paths read from its input")
            return verdict("read", "writes only to a terminal or /dev/null")
        return verdict("write", f"{verb} {', '.join(repr(p) for p in shown[:3])} in the workspace")

    def deletes(
        self, paths: Sequence[str], scope: Scope, *, recursive: bool, verb: str = "deletes"
    ) -> CommandVerdict:
        if scope.stdin_targets:
            return verdict(
                "dangerous", f"{verb} paths read from its input, which cannot be checked"
            )
        for path in paths:
            where = self.where(path, scope)
            if where == "outside":
                return verdict("dangerous", f"{verb} '{path}', outside the workspace")
            if where == "unknown":
                return verdict(
                    "dangerous", f"{verb} '{path}', whose location is only known at run time"
                )
            if where == "device":
                return verdict("dangerous", f"{verb} the device '{path}'")
            if where == "root" and recursive:
                return verdict("dangerous", f"{verb} the whole workspace")
        shown = ", ".join(repr(p) for p in paths[:3]) or "nothing"
        return verdict("write", f"{verb} {shown} in the workspace")

    # -- program families with their own grammar

    def _grep(self, name: str, args: list[str], scope: Scope) -> CommandVerdict:
        positionals = operands(
            args, skip_values={"-e", "-f", "-m", "-A", "-B", "-C", "--max-count", "-g", "-t"}
        )
        explicit = any(a in ("-e", "-f") or a.startswith(("--regexp", "--file")) for a in args)
        return self.reads(positionals if explicit else positionals[1:], scope, verb=name)

    def _shell(self, name: str, args: list[str], scope: Scope) -> CommandVerdict:
        if "-c" in args:
            index = args.index("-c")
            if index + 1 >= len(args):
                raise Unanalysable(f"'{name} -c' without a command")
            return CommandVerdict.worst(self._line(args[index + 1], _deeper(scope)))
        scripts = [a for a in args if not a.startswith("-")]
        if not scripts:
            return verdict("write", f"runs '{name}' on commands from its input")
        return verdict("write", f"runs the shell script '{scripts[0]}'")


def _deeper(scope: Scope) -> Scope:
    return Scope(scope.cwd, scope.depth + 1, scope.stdin_targets)


def _pipeline_checks(segments: list[Segment]) -> list[CommandVerdict]:
    """Code from the network piped into an interpreter runs unseen code: refused."""
    verdicts = []
    for segment in segments:
        source = segment.piped_from
        if source is None or not segment.argv:
            continue
        receiver = segment.argv[0].rsplit("/", 1)[-1]
        reads_code = receiver in SHELLS or (
            receiver in INTERPRETERS and not any(not a.startswith("-") for a in segment.argv[1:])
        )
        chain: list[Segment] = []
        node: Segment | None = source
        while node is not None:
            chain.append(node)
            node = node.piped_from
        downloads = any(
            s.argv and s.argv[0].rsplit("/", 1)[-1] in ("curl", "wget", "nc", "ncat", "fetch")
            for s in chain
        )
        if reads_code and downloads:
            verdicts.append(
                verdict("dangerous", f"runs code downloaded from the network in {receiver}")
            )
        elif reads_code:
            verdicts.append(verdict("write", f"pipes commands into {receiver}"))
    return verdicts
