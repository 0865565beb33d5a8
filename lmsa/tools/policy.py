"""Classifies a command line before it runs: read-only, modifies the workspace, or dangerous.

The model writes command lines, and a command line is a small program, so it is judged by
*parsing* it the way a POSIX shell would, never by looking for substrings: ``"r""m" -rf /`` is
``rm``, ``/bin/rm`` is ``rm``, ``cd / && rm -rf *`` deletes outside the workspace although no
argument says ``/*``, and ``echo "rm -rf /"`` deletes nothing.

How: ``$(...)``, backticks and ``<(...)`` are cut out and judged on their own; the rest is split
with :mod:`shlex` (POSIX quoting, shell punctuation) into simple commands at ``;``, ``&&``,
``||``, ``|``, ``&`` and newlines, redirections are taken out, variable assignments and wrapper
programs (``env``, ``nice``, ``timeout``, ``xargs``, ``sh -c`` ...) are looked through, ``cd``
is followed, and each simple command is judged from its program and arguments, every path
argument being resolved against the workspace jail (symlinks included). A line's class is the
worst class of its parts.

Classes: ``read`` (reads only, inside the workspace), ``write`` (modifies the workspace, reads
outside it, talks to the network, or runs code whose effects cannot be known: the user is asked),
``dangerous`` (deletes or writes outside the workspace, escalates privileges, destroys disks,
processes or system state, sends data over the network, or cannot be analysed: always refused).
Unknown programs are ``write``: lmsa cannot know what they do, so the user decides.

Why hand-written: the only maintained Python shell parser (bashlex) is GPL-3, and a generic
parser would not know what ``rm`` or ``curl -d`` do anyway; the tables below are the knowledge.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lmsa.tools.registry import RiskLevel
from lmsa.tools.workspace import Workspace, WorkspaceEscape

_RANK: dict[RiskLevel, int] = {"read": 0, "write": 1, "dangerous": 2}
_MAX_DEPTH = 4
_PLACEHOLDER = "__lmsa_substitution__"
_SEPARATORS = frozenset({";", "&&", "||", "|", "|&", "&", "\n", ";;", "(", ")", "()"})
_PIPES = frozenset({"|", "|&"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<", "<>", "<&", "<<", "<<<", "<<-"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SAFE_DEVICES = ("/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class CommandVerdict:
    """A class and the one-line reason shown to the user (and, when refused, the model)."""

    risk: RiskLevel
    reason: str

    @staticmethod
    def worst(verdicts: Iterable[CommandVerdict]) -> CommandVerdict:
        chosen: CommandVerdict | None = None
        for verdict in verdicts:
            if chosen is None or _RANK[verdict.risk] > _RANK[chosen.risk]:
                chosen = verdict
        return chosen or CommandVerdict("read", "does nothing")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _v(risk: RiskLevel, reason: str) -> CommandVerdict:
    return CommandVerdict(risk, reason)


class Unanalysable(ValueError):
    """A construct whose effect cannot be known before it runs."""


# --- tables -----------------------------------------------------------------------------------

READ_NO_PATHS = _words(
    """
    echo printf date whoami id uname true false seq sleep pwd hostname nproc arch tty groups
    users who w uptime free locale getconf printenv yes basename dirname expr test [ [[ ]]
    which type whereis ps pgrep lscpu lsblk jobs export unset shift exit return break
    continue wait : cal bc dc factor numfmt env tput clear history hash alias
    """
)
READ_PATHS = _words(
    """
    ls dir vdir cat head tail wc tree file stat du df diff cmp comm cut tr nl less more jq
    realpath readlink md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum
    od hexdump xxd strings tac rev fold expand unexpand column paste join look zcat bzcat
    xzcat zless zmore lsattr getfacl man info whatis cloc tokei namei pr fmt iconv base64
    base32 shasum md5 cd pushd popd source . uniq
    """
)
PATTERN_FIRST = _words("grep egrep fgrep rg ag ack zgrep")
DELETERS = _words("rm rmdir unlink shred srm wipe")
MODIFIERS = _words("touch mkdir truncate tee install")
PRIVILEGE = _words(
    """
    sudo su doas pkexec runuser chroot setpriv capsh setcap nsenter visudo passwd chpasswd
    useradd usermod userdel groupadd groupmod groupdel adduser deluser vipw newgrp sg
    """
)
DISK = _words(
    """
    mkfs mke2fs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkfs.fat
    mkfs.ntfs mkswap swapon swapoff fdisk sfdisk gdisk cfdisk parted wipefs blkdiscard
    hdparm badblocks lvremove vgremove pvremove lvcreate cryptsetup zpool zfs diskutil mount
    umount losetup fsck e2fsck tune2fs resize2fs debugfs
    """
)
PROCESS = _words(
    """
    kill killall killall5 pkill xkill skill slay shutdown reboot halt poweroff init telinit
    modprobe insmod rmmod sysctl iptables ip6tables nft ufw firewall-cmd launchctl
    """
)
NETWORK = _words(
    """
    nc ncat netcat socat telnet ssh scp sftp ftp tftp rsh rlogin rcp mosh sshpass smbclient
    lftp
    """
)
SHELLS = _words("sh bash zsh dash ksh fish csh tcsh ash busybox")
INTERPRETERS = _words(
    """
    python python2 python3 pypy pypy3 node nodejs deno bun ruby perl php lua luajit Rscript
    osascript pwsh powershell tclsh
    """
) | {f"python3.{minor}" for minor in range(6, 16)}
SYSTEM_PACKAGES = _words(
    """
    apt apt-get aptitude dpkg yum dnf rpm pacman zypper apk snap flatpak port emerge
    softwareupdate
    """
)
SYSTEM_PACKAGE_READS = _words(
    """
    list search show policy info query -l -L -s -q -Q -Ss -Si -Qi -Ql --list --search
    madison depends rdepends changelog --version -v
    """
)
DEV_TOOLS = _words(
    """
    pip pip3 uv pipx poetry pdm hatch conda mamba npm npx yarn pnpm cargo go gem bundle
    composer mvn gradle make cmake ninja meson pytest tox nox ruff mypy black isort flake8
    pylint eslint prettier tsc jest vitest gcc g++ cc c++ clang clang++ rustc javac java
    dotnet swift kotlinc scalac ghc stack cabal mix elixir erl rebar3 twine pre-commit
    coverage sphinx-build mkdocs
    """
)
DEV_READS = {
    "pip": {"list", "show", "freeze", "check", "--version", "-V", "help", "index", "inspect"},
    "pip3": {"list", "show", "freeze", "check", "--version", "-V", "help", "inspect"},
    "npm": {"ls", "list", "view", "info", "outdated", "help", "--version", "-v", "why"},
    "yarn": {"list", "info", "why", "--version", "-v"},
    "pnpm": {"list", "ls", "why", "--version", "-v"},
    "cargo": {"--version", "-V", "tree", "metadata", "search", "help"},
    "go": {"version", "env", "list", "doc", "help"},
    "poetry": {"show", "--version", "check", "env", "help"},
    "uv": {"--version", "tree", "help"},
    "conda": {"list", "info", "search", "--version"},
    "gem": {"list", "search", "info", "--version", "environment"},
}
PUBLISH = {
    "npm": {"publish", "adduser", "login", "token"},
    "yarn": {"publish", "npm"},
    "pnpm": {"publish"},
    "cargo": {"publish", "login", "owner", "yank"},
    "twine": {"upload", "register"},
    "gem": {"push", "owner", "signin"},
    "poetry": {"publish"},
    "uv": {"publish"},
    "pdm": {"publish"},
    "hatch": {"publish"},
    "dotnet": {"nuget"},
    "mvn": {"deploy"},
    "gradle": {"publish"},
}
GIT_READS = _words(
    """
    status log diff show rev-parse ls-files ls-tree blame describe shortlog grep cat-file
    whatchanged count-objects help version reflog rev-list name-rev merge-base show-ref
    for-each-ref var check-ignore annotate difftool --version
    """
)
GIT_LISTINGS = {
    "branch": {
        "-a",
        "-r",
        "-v",
        "-vv",
        "--list",
        "-l",
        "--all",
        "--show-current",
        "--merged",
        "--no-merged",
        "--contains",
    },
    "tag": {"-l", "--list", "-n", "--contains"},
    "remote": {"-v", "show", "get-url", "--verbose"},
    "stash": {"list", "show"},
    "worktree": {"list"},
    "config": {"--get", "--get-all", "--list", "-l", "--get-regexp", "--show-origin"},
    "submodule": {"status", "summary"},
    "notes": {"list", "show"},
}
GIT_DANGEROUS_KEYS = re.compile(
    r"(^alias\.|sshcommand|pager|fsmonitor|hookspath|editor|external|textconv|askpass|"
    r"credential|\.command$|^core\.gitproxy|^protocol\.|^url\.)",
    re.IGNORECASE,
)
DOCKER_READS = _words("ps images inspect logs version info top stats port history")
DOCKER_DESTROY = _words("rm rmi kill stop prune system volume network push login")
WRAPPERS_NO_ARGS = frozenset(
    {
        "nohup",
        "time",
        "builtin",
        "exec",
        "command",
        "then",
        "do",
        "else",
        "elif",
        "if",
        "while",
        "until",
        "!",
        "{",
        "}",
    }
)
SYSTEMCTL_READS = _words(
    """
    status show list-units list-unit-files list-timers list-sockets is-active is-enabled
    is-failed cat help --version
    """
)


# --- the analyser -----------------------------------------------------------------------------


@dataclass
class _Scope:
    cwd: Path | None  # None: only known at run time (after `cd $X`)
    depth: int = 0
    stdin_targets: bool = False  # xargs: arguments come from input, unseen here


@dataclass
class _Segment:
    argv: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)
    piped_from: _Segment | None = None


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
            return _v("dangerous", f"the working directory '{cwd}' is outside the workspace")
        scope = _Scope(cwd=start)
        try:
            if isinstance(command, str):
                if not command.strip():
                    return _v("read", "does nothing")
                verdicts = self._line(command, scope)
            else:
                verdicts = [self._simple(_Segment(argv=list(command)), scope)]
        except Unanalysable as problem:
            return _v("dangerous", f"cannot be checked before it runs: {problem}")
        return CommandVerdict.worst(verdicts)

    # -- lines and segments

    def _line(self, text: str, scope: _Scope) -> list[CommandVerdict]:
        if scope.depth > _MAX_DEPTH:
            raise Unanalysable("commands nested too deeply")
        text, inner = _cut_substitutions(text)
        verdicts = [
            _v(v.risk, f"{v.reason} (inside a command substitution)")
            for part in inner
            for v in self._line(part, _Scope(scope.cwd, scope.depth + 1))
        ]
        segments = _segments(_tokens(text))
        for segment in segments:
            verdicts.append(self._simple(segment, scope))
        verdicts.extend(_pipeline_checks(segments))
        return verdicts

    def _simple(self, segment: _Segment, scope: _Scope) -> CommandVerdict:
        verdicts: list[CommandVerdict] = []
        argv = list(segment.argv)
        while argv and _ASSIGNMENT.match(argv[0]):
            name = argv.pop(0).split("=", 1)[0]
            if name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "BASH_ENV", "ENV", "IFS"):
                verdicts.append(_v("write", f"changes {name} for the command it runs"))
        if argv:
            verdicts.insert(0, self._program(argv, scope))
        verdicts += [self._redirect(op, target, scope) for op, target in segment.redirects]
        return CommandVerdict.worst(verdicts)

    def _redirect(self, op: str, target: str, scope: _Scope) -> CommandVerdict:
        if op in ("<<", "<<-"):
            raise Unanalysable("here-documents are not supported; use write_file for content")
        if op == "<<<":
            return _v("read", "uses a here-string")
        if op in (">&", "<&") and (target.isdigit() or target == "-"):
            return _v("read", "duplicates a file descriptor")
        if op in ("<", "<&"):
            return self._reads([target], scope)
        return self._writes([target], scope, verb="writes to")

    # -- programs

    def _program(self, argv: list[str], scope: _Scope) -> CommandVerdict:
        program, args = argv[0], argv[1:]
        if _PLACEHOLDER in program or "$" in program or "`" in program:
            raise Unanalysable(f"the program name '{program}' is computed at run time")
        name = program.rsplit("/", 1)[-1]
        if "/" in program and not program.startswith("/"):
            return _v("write", f"runs the workspace script '{program}'")
        if name in WRAPPERS_NO_ARGS:
            if not args:
                return _v("read", f"'{name}' alone does nothing")
            if name == "command" and args[0] in ("-v", "-V"):
                return _v("read", "looks up a command")
            return self._program(args, scope)
        if name in ("fi", "done", "esac", "}"):
            return _v("read", "ends a shell block")
        if name in ("for", "select", "case", "in"):
            return _v("read", "shell loop header")
        if name == "function":
            raise Unanalysable("shell function definitions")
        asks_version = args in (["--version"], ["--help"], ["-h"], ["-V"], ["version"], ["help"])
        if asks_version and name not in PRIVILEGE:
            return _v("read", f"shows {name}'s version or help")
        wrapped = self._wrapper(name, args, scope)
        if wrapped is not None:
            return wrapped
        handler = _HANDLERS.get(name)
        if handler is not None:
            return handler(self, name, args, scope)
        if name in READ_NO_PATHS:
            return _v("read", f"'{name}' only prints information")
        if name in READ_PATHS:
            return self._reads(_positionals(args), scope, verb=name)
        if name in PATTERN_FIRST:
            return self._grep(name, args, scope)
        if name in DELETERS:
            recursive = name in ("rm", "srm", "wipe") and _has_flag(args, "rR", ("--recursive",))
            if name == "rmdir":
                recursive = False
            return self._deletes(
                _positionals(args), scope, recursive=recursive, verb=f"{name} deletes"
            )
        if name in MODIFIERS:
            return self._writes(
                _positionals(args, skip_values={"-s", "--size", "-m", "-o", "-g"}),
                scope,
                verb=f"{name} changes",
            )
        if name in PRIVILEGE:
            return _v("dangerous", f"'{name}' changes privileges or accounts")
        if name in DISK or name.startswith("mkfs."):
            return _v("dangerous", f"'{name}' changes disks or filesystems")
        if name in PROCESS:
            return _v("dangerous", f"'{name}' stops processes or changes the running system")
        if name in NETWORK:
            return _v("dangerous", f"'{name}' opens a network connection (possible exfiltration)")
        if name in SYSTEM_PACKAGES:
            if args and (args[0] in SYSTEM_PACKAGE_READS or name == "apt-cache"):
                return _v("read", f"queries {name}")
            return _v("dangerous", f"'{name}' changes system packages outside the workspace")
        if name == "apt-cache":
            return _v("read", "queries apt's package lists")
        if name in SHELLS:
            return self._shell(name, args, scope)
        if name in INTERPRETERS:
            return _interpreter(name, args)
        if name in DEV_TOOLS:
            return _dev_tool(name, args)
        return _v("write", f"runs '{name}', whose effects lmsa does not know")

    def _wrapper(self, name: str, args: list[str], scope: _Scope) -> CommandVerdict | None:
        """Programs that run another program: judge that one instead."""
        rest: list[str] | None = None
        if name == "env":
            rest = _skip_options(args, with_value={"-u", "--unset", "-C", "--chdir", "-S"})
            while rest and _ASSIGNMENT.match(rest[0]):
                rest = rest[1:]
            if not rest:
                return _v("read", "prints the environment")
        elif name in ("nice", "ionice", "stdbuf", "chrt", "taskset"):
            rest = _skip_options(args, with_value={"-n", "-c", "--adjustment", "-p"})
            if name in ("chrt", "taskset") and rest:
                rest = rest[1:]
        elif name == "timeout":
            rest = _skip_options(args, with_value={"-s", "--signal", "-k", "--kill-after"})[1:]
        elif name == "xargs":
            rest = _skip_options(
                args, with_value={"-I", "-i", "-n", "-P", "-d", "-L", "-s", "-E", "-a", "-e"}
            )
            if not rest:
                rest = ["echo"]
            inner = _Scope(scope.cwd, scope.depth, stdin_targets=True)
            return self._program(rest, inner)
        elif name == "watch":
            rest = _skip_options(args, with_value={"-n", "--interval", "-d"})
            return CommandVerdict.worst(self._line(" ".join(rest), _deeper(scope)))
        elif name == "eval":
            return CommandVerdict.worst(self._line(" ".join(args), _deeper(scope)))
        if rest is None:
            return None
        if not rest:
            return _v("read", f"'{name}' without a command")
        return self._program(rest, scope)

    # -- judging paths

    def _where(self, word: str, scope: _Scope) -> str:
        """'inside', 'root', 'outside', 'device' or 'unknown' for a path argument."""
        text = word
        for home in ("${HOME}", "$HOME"):
            if text == home or text.startswith(home + "/"):
                text = str(self._home) + text[len(home) :]
        if text == "~" or text.startswith("~/"):
            text = str(self._home) + text[1:]
        elif text.startswith("~"):
            return "outside"  # ~user
        if "$" in text or "`" in text or _PLACEHOLDER in text:
            return "unknown"
        if text.startswith("file://"):
            text = text[len("file://") :]
        if text.startswith(_SAFE_DEVICES):
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

    def _reads(self, paths: Iterable[str], scope: _Scope, *, verb: str = "reads") -> CommandVerdict:
        for path in paths:
            where = self._where(path, scope)
            if where == "outside":
                return _v("write", f"{verb} '{path}', outside the workspace")
            if where == "unknown":
                return _v("write", f"{verb} '{path}', whose location is only known at run time")
        return _v("read", f"{verb} only reads files in the workspace")

    def _writes(
        self, paths: Iterable[str], scope: _Scope, *, verb: str = "writes"
    ) -> CommandVerdict:
        shown: list[str] = []
        for path in paths:
            where = self._where(path, scope)
            if where == "outside":
                return _v("dangerous", f"{verb} '{path}', outside the workspace")
            if where == "device":
                continue
            if where == "unknown":
                return _v("write", f"{verb} '{path}', whose location is only known at run time")
            shown.append(path)
        if not shown:
            if scope.stdin_targets:
                return _v("write", f"{verb} paths read from its input")
            return _v("read", "writes only to a terminal or /dev/null")
        return _v("write", f"{verb} {', '.join(repr(p) for p in shown[:3])} in the workspace")

    def _deletes(
        self, paths: Sequence[str], scope: _Scope, *, recursive: bool, verb: str = "deletes"
    ) -> CommandVerdict:
        if scope.stdin_targets:
            return _v("dangerous", f"{verb} paths read from its input, which cannot be checked")
        for path in paths:
            where = self._where(path, scope)
            if where == "outside":
                return _v("dangerous", f"{verb} '{path}', outside the workspace")
            if where == "unknown":
                return _v("dangerous", f"{verb} '{path}', whose location is only known at run time")
            if where == "device":
                return _v("dangerous", f"{verb} the device '{path}'")
            if where == "root" and recursive:
                return _v("dangerous", f"{verb} the whole workspace")
        shown = ", ".join(repr(p) for p in paths[:3]) or "nothing"
        return _v("write", f"{verb} {shown} in the workspace")

    # -- program families with their own grammar

    def _grep(self, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
        positionals = _positionals(
            args, skip_values={"-e", "-f", "-m", "-A", "-B", "-C", "--max-count", "-g", "-t"}
        )
        explicit = any(a in ("-e", "-f") or a.startswith(("--regexp", "--file")) for a in args)
        return self._reads(positionals if explicit else positionals[1:], scope, verb=name)

    def _shell(self, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
        if "-c" in args:
            index = args.index("-c")
            if index + 1 >= len(args):
                raise Unanalysable(f"'{name} -c' without a command")
            return CommandVerdict.worst(self._line(args[index + 1], _deeper(scope)))
        scripts = [a for a in args if not a.startswith("-")]
        if not scripts:
            return _v("write", f"runs '{name}' on commands from its input")
        return _v("write", f"runs the shell script '{scripts[0]}'")


def _deeper(scope: _Scope) -> _Scope:
    return _Scope(scope.cwd, scope.depth + 1, scope.stdin_targets)


# --- handlers for programs with subcommands or file operands -----------------------------------


def _h_cd(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    target = next((a for a in args if not a.startswith("-")), "~")
    where = policy._where(target, scope)
    if where in ("inside", "root"):
        base = scope.cwd or policy.workspace.root
        scope.cwd = policy.workspace.resolve(os.path.normpath(os.path.join(base, target)))
    elif where == "unknown":
        scope.cwd = None
    else:
        text = os.path.expanduser(target)
        scope.cwd = Path(os.path.normpath(os.path.join(scope.cwd or "/", text)))
        return _v("write", f"changes to '{target}', outside the workspace")
    return _v("read", "changes directory")


def _h_find(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    roots: list[str] = []
    index = 0
    while index < len(args) and not args[index].startswith(("-", "(", "!")):
        roots.append(args[index])
        index += 1
    roots = roots or ["."]
    verdicts = [policy._reads(roots, scope, verb="find searches")]
    expression = args[index:]
    i = 0
    while i < len(expression):
        token = expression[i]
        if token == "-delete":
            # Without tests (-name, -type ...) find deletes everything under its roots.
            filtered = bool(set(expression) - {"-delete", "-depth", "-print", "-xdev"})
            verdicts.append(
                policy._deletes(roots, scope, recursive=not filtered, verb="find -delete removes")
            )
        elif token in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(expression) and expression[end] not in (";", "+"):
                end += 1
            inner = [roots[0] if word == "{}" else word for word in expression[i + 1 : end]]
            if inner:
                verdicts.append(policy._program(inner, scope))
            i = end
        elif token in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(expression):
            verdicts.append(policy._writes([expression[i + 1]], scope, verb="find writes"))
        i += 1
    return CommandVerdict.worst(verdicts)


def _h_sed(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    in_place = any(
        a.startswith("--in-place") or (a.startswith("-") and not a.startswith("--") and "i" in a)
        for a in args
    )
    scripts = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-e", "--expression")]
    positionals = _positionals(args, skip_values={"-e", "--expression", "-f", "--file", "-l"})
    if not scripts and positionals:
        scripts, positionals = [positionals[0]], positionals[1:]
    if in_place:
        return policy._writes(positionals, scope, verb="sed -i edits")
    if any(re.search(r"(?:^|[;}\s/0-9$])[wWe](?:\s|$)", script) for script in scripts):
        return _v("write", "the sed script writes files or runs commands")
    return policy._reads(positionals, scope, verb="sed")


def _h_awk(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    positionals = _positionals(args, skip_values={"-F", "-v", "-f"})
    if "-f" in args:
        return _v("write", f"runs an {name} program file")
    if not positionals:
        return _v("read", f"{name} filters its input")
    program, files = positionals[0], positionals[1:]
    if re.search(r"system\s*\(|[>|]|getline|close\s*\(", program):
        return _v("write", f"the {name} program writes files or runs commands")
    return policy._reads(files, scope, verb=name)


def _h_sort(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    for i, arg in enumerate(args):
        if arg == "-o" and i + 1 < len(args):
            return policy._writes([args[i + 1]], scope, verb="sort writes")
        if arg.startswith("--output="):
            return policy._writes([arg.split("=", 1)[1]], scope, verb="sort writes")
    return policy._reads(
        _positionals(args, skip_values={"-k", "-t", "-S", "-T"}), scope, verb="sort"
    )


def _h_copy(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    """cp, mv, ln, install: sources are read (mv: removed), the destination is written."""
    target = None
    for i, arg in enumerate(args):
        if arg in ("-t", "--target-directory") and i + 1 < len(args):
            target = args[i + 1]
        elif arg.startswith("--target-directory="):
            target = arg.split("=", 1)[1]
    positionals = _positionals(args, skip_values={"-t", "--target-directory", "-S", "--suffix"})
    if target is None:
        if len(positionals) < 2:
            return _v("write", f"'{name}' with too few operands")
        sources, target = positionals[:-1], positionals[-1]
    else:
        sources = positionals
    verdicts = [policy._writes([target], scope, verb=f"{name} writes")]
    if name == "mv":
        verdicts.append(policy._deletes(sources, scope, recursive=True, verb="mv removes"))
    elif name != "ln":
        verdicts.append(policy._reads(sources, scope, verb=name))
    return CommandVerdict.worst(verdicts)


def _h_chmod(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    positionals = _positionals(args, skip_values={"--reference"})
    if not positionals:
        return _v("write", f"'{name}' without operands")
    mode, files = positionals[0], positionals[1:]
    if name == "chmod" and (
        re.search(r"[ugoa]*[+=][rwxXt]*s", mode) or re.fullmatch(r"0?[2-7][0-7]{3}", mode)
    ):
        return _v("dangerous", f"'chmod {mode}' sets setuid/setgid bits (privilege escalation)")
    return policy._writes(files, scope, verb=f"{name} changes")


def _h_dd(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    verdicts = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "of":
            if value.startswith("/dev/") and not value.startswith(_SAFE_DEVICES):
                return _v("dangerous", f"dd writes to the device '{value}'")
            verdicts.append(policy._writes([value], scope, verb="dd writes"))
        elif key == "if":
            verdicts.append(policy._reads([value], scope, verb="dd reads"))
    return CommandVerdict.worst(verdicts or [_v("read", "dd copies its input to its output")])


def _h_tar(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
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
        positional = _positionals(args[1:])
        archive = positional[0] if positional else None
    if "x" in flags or "--extract" in args or "--get" in args:
        return policy._writes([directory], scope, verb="tar extracts into")
    if "c" in flags or "r" in flags or "u" in flags or "--create" in args:
        return policy._writes([archive or "-"], scope, verb="tar writes")
    return _v("read", "tar lists an archive")


def _h_archive(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    if name == "unzip":
        if "-l" in args or "-t" in args or "-Z" in args:
            return _v("read", "unzip lists an archive")
        for i, arg in enumerate(args[:-1]):
            if arg == "-d":
                return policy._writes([args[i + 1]], scope, verb="unzip extracts into")
        return policy._writes(["."], scope, verb="unzip extracts into")
    positionals = _positionals(args, skip_values={"-S", "--suffix"})
    if name in ("zip", "7z", "rar"):
        return policy._writes(positionals[:1], scope, verb=f"{name} writes")
    if "-c" in args or "--stdout" in args or "-l" in args or "-t" in args:
        return policy._reads(positionals, scope, verb=name)
    return policy._writes(positionals, scope, verb=f"{name} replaces")


def _h_curl(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
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
            return _v("dangerous", f"{name} sends data over the network (possible exfiltration)")
        if key in ("-X", "--request", "--method"):
            method = (
                arg.split("=", 1)[1] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            )
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                return _v("dangerous", f"{name} sends a {method.upper()} request")
        if key in ("-o", "--output", "-O", "--output-document", "-P", "--directory-prefix"):
            value = (
                arg.split("=", 1)[1] if "=" in arg else (args[i + 1] if i + 1 < len(args) else ".")
            )
            if key != "-O" or name == "wget":
                verdicts.append(policy._writes([value], scope, verb=f"{name} saves to"))
        if arg.startswith("file:"):
            verdicts.append(policy._reads([arg], scope, verb=f"{name} reads"))
    verdicts.append(_v("write", f"{name} downloads from the network"))
    return CommandVerdict.worst(verdicts)


def _h_rsync(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    positionals = _positionals(args, skip_values={"-e", "--rsh", "--exclude", "--include"})
    if any(re.match(r"^[^/]*:", p) or p.startswith("rsync://") for p in positionals):
        return _v("dangerous", "rsync copies over the network (possible exfiltration)")
    if len(positionals) < 2:
        return _v("write", "rsync with too few operands")
    sources, target = positionals[:-1], positionals[-1]
    verdicts = [
        policy._writes([target], scope, verb="rsync writes"),
        policy._reads(sources, scope, verb="rsync"),
    ]
    if any(a.startswith("--delete") or a == "--remove-source-files" for a in args):
        verdicts.append(
            policy._deletes(
                [target, *sources], scope, recursive=False, verb="rsync --delete removes from"
            )
        )
    return CommandVerdict.worst(verdicts)


def _h_git(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    verdicts: list[CommandVerdict] = []
    local = _Scope(scope.cwd, scope.depth, scope.stdin_targets)
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
                return _v("dangerous", f"git -c {key} can run arbitrary commands")
            verdicts.append(_v("write", f"git runs with the option {key}"))
            i += 2
            continue
        if option in ("--git-dir", "--work-tree") or option.startswith(
            ("--git-dir=", "--work-tree=")
        ):
            verdicts.append(_v("write", "git works on another repository directory"))
            i += 1 if "=" in option else 2
            continue
        i += 1
    if i >= len(args):
        return CommandVerdict.worst([*verdicts, _v("read", "git without a subcommand")])
    sub, rest = args[i], args[i + 1 :]
    if sub in GIT_READS:
        if sub == "diff" and "--output" in " ".join(rest):
            verdicts.append(_v("write", "git diff --output writes a file"))
        elif sub == "grep" and any(a.startswith(("-O", "--open-files-in-pager")) for a in rest):
            verdicts.append(_v("write", "git grep -O runs a pager program"))
        else:
            verdicts.append(_v("read", f"git {sub} only reads the repository"))
    elif sub in GIT_LISTINGS and (not rest or rest[0] in GIT_LISTINGS[sub]):
        if (
            sub == "config"
            and any(a in ("--global", "--system") for a in rest)
            and not any(a in GIT_LISTINGS["config"] for a in rest)
        ):
            verdicts.append(_v("dangerous", "git config changes settings outside the workspace"))
        else:
            verdicts.append(_v("read", f"git {sub} lists information"))
    elif sub == "config":
        if any(a in ("--global", "--system") for a in rest):
            verdicts.append(_v("dangerous", "git config changes settings outside the workspace"))
        elif rest and GIT_DANGEROUS_KEYS.search(rest[-2] if len(rest) >= 2 else rest[0]):
            verdicts.append(_v("dangerous", "git config sets an option that runs commands"))
        else:
            verdicts.append(_v("write", "git config changes the repository's settings"))
    elif sub == "push":
        positionals = _positionals(rest, skip_values={"-o", "--push-option", "--repo"})
        remote = positionals[0] if positionals else ""
        if "://" in remote or re.match(r"^[^/]+@[^/]+:", remote) or remote.startswith("/"):
            verdicts.append(_v("dangerous", f"git push sends the code to '{remote}'"))
        else:
            verdicts.append(_v("write", "git push publishes commits to a configured remote"))
    elif sub in ("clean", "reset", "checkout", "restore", "rm", "stash"):
        verdicts.append(_v("write", f"git {sub} changes or discards files in the workspace"))
    elif sub in ("clone", "fetch", "pull", "submodule", "ls-remote"):
        verdicts.append(_v("write", f"git {sub} talks to the network"))
    else:
        verdicts.append(_v("write", f"git {sub} changes the repository"))
    return CommandVerdict.worst(verdicts)


def _h_service(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    positionals = _positionals(args)
    action = positionals[0] if positionals else ""
    if name == "service":
        action = positionals[1] if len(positionals) > 1 else ""
    if action in SYSTEMCTL_READS or (not positionals and name == "systemctl"):
        return _v("read", f"{name} shows service state")
    return _v("dangerous", f"'{name} {action}' changes system services")


def _h_crontab(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    if args == ["-l"]:
        return _v("read", "lists the crontab")
    return _v("dangerous", "crontab changes scheduled jobs outside the workspace")


def _h_docker(policy: CommandPolicy, name: str, args: list[str], scope: _Scope) -> CommandVerdict:
    positionals = _positionals(args)
    sub = positionals[0] if positionals else ""
    if sub in DOCKER_READS or (sub in ("container", "image") and positionals[1:2] in (["ls"],)):
        return _v("read", f"{name} {sub} shows containers or images")
    if sub in DOCKER_DESTROY:
        return _v("dangerous", f"'{name} {sub}' affects containers or data outside the workspace")
    joined = " ".join(args)
    if "--privileged" in args or re.search(r"--(pid|net|network|ipc|userns)[= ]host", joined):
        return _v("dangerous", f"{name} runs a container with host privileges")
    for i, arg in enumerate(args):
        if arg in ("-v", "--volume", "--mount") and i + 1 < len(args):
            host = args[i + 1].split(":", 1)[0].replace("source=", "").split(",")[0]
            if host.startswith(("/", "~", "$", ".")) and policy._where(host, scope) not in (
                "inside",
                "root",
            ):
                return _v("dangerous", f"{name} mounts '{host}', outside the workspace")
    return _v("write", f"{name} {sub} runs or builds containers")


def _interpreter(name: str, args: list[str]) -> CommandVerdict:
    for i, arg in enumerate(args):
        if arg in ("-c", "-e", "--eval", "-E", "-p", "--print", "-r"):
            return _v("write", f"{name} runs inline code that cannot be checked")
        if arg == "-m" and i + 1 < len(args):
            return _v("write", f"{name} runs the module '{args[i + 1]}'")
        if not arg.startswith("-"):
            return _v("write", f"{name} runs the script '{arg}'")
    return _v("write", f"{name} runs code from its input")


def _dev_tool(name: str, args: list[str]) -> CommandVerdict:
    positionals = [a for a in args if not a.startswith("-")] or args[:1]
    sub = positionals[0] if positionals else ""
    if sub in PUBLISH.get(name, ()):
        return _v("dangerous", f"'{name} {sub}' publishes to the network")
    if sub in DEV_READS.get(name, ()) or (args and args[0] in DEV_READS.get(name, ())):
        return _v("read", f"'{name} {sub}' only shows information")
    return _v("write", f"'{' '.join([name, *args[:2]])}' may change the workspace")


_HANDLERS = {
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


# --- parsing helpers ---------------------------------------------------------------------------


def _cut_substitutions(text: str) -> tuple[str, list[str]]:
    """Replace ``$(...)``, backticks and ``<(...)``/``>(...)`` with a placeholder word and
    return their contents, honouring quotes (nothing expands inside single quotes)."""
    out: list[str] = []
    inner: list[str] = []
    i, quote = 0, ""
    while i < len(text):
        char = text[i]
        if char == "\\" and quote != "'":
            out.append(text[i : i + 2])
            i += 2
            continue
        if quote == "'":
            if char == "'":
                quote = ""
            out.append(char)
            i += 1
            continue
        if char in "'\"" and (not quote or quote == char):
            if char == "'" and quote == '"':
                out.append(char)
                i += 1
                continue
            quote = "" if quote == char else char
            out.append(char)
            i += 1
            continue
        opener = text[i : i + 2]
        if opener in ("$(", "<(", ">(") and not (quote and opener != "$("):
            end = _matching_paren(text, i + 1)
            body = text[i + 2 : end]
            if opener == "$(" and body.startswith("("):
                body = ""  # arithmetic $(( ... )): no command inside unless nested, checked below
                if "$(" in text[i + 3 : end] or "`" in text[i + 3 : end]:
                    raise Unanalysable("command substitution inside arithmetic")
            else:
                inner.append(body)
            out.append(_PLACEHOLDER)
            i = end + 1
            continue
        if char == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise Unanalysable("an unclosed backtick")
            inner.append(text[i + 1 : end])
            out.append(_PLACEHOLDER)
            i = end + 1
            continue
        out.append(char)
        i += 1
    return "".join(out), inner


def _matching_paren(text: str, open_index: int) -> int:
    depth, i, quote = 0, open_index, ""
    while i < len(text):
        char = text[i]
        if char == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Unanalysable("an unclosed '$('")


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as error:
        raise Unanalysable(f"it does not parse ({error})") from None


def _segments(tokens: list[str]) -> list[_Segment]:
    segments: list[_Segment] = []
    current = _Segment()
    exec_open = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("-exec", "-execdir", "-ok", "-okdir"):
            exec_open = True
        if exec_open and token in (";", "+"):
            current.argv.append(token)
            exec_open = False
            i += 1
            continue
        if token == "()" or (
            token == "(" and i + 1 < len(tokens) and tokens[i + 1] == ")" and current.argv
        ):
            raise Unanalysable("shell function definitions")
        if token in _SEPARATORS:
            if current.argv or current.redirects:
                segments.append(current)
            current = _Segment(piped_from=segments[-1] if token in _PIPES and segments else None)
            i += 1
            continue
        if token in _REDIRECTS:
            if i + 1 >= len(tokens) or tokens[i + 1] in _SEPARATORS | _REDIRECTS:
                raise Unanalysable(f"a '{token}' redirection without a target")
            if current.argv and current.argv[-1].isdigit() and token.startswith(">"):
                current.argv.pop()  # the fd number of `2>file`
            current.redirects.append((token, tokens[i + 1]))
            i += 2
            continue
        current.argv.append(token)
        i += 1
    if current.argv or current.redirects:
        segments.append(current)
    return segments


def _pipeline_checks(segments: list[_Segment]) -> list[CommandVerdict]:
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
        chain: list[_Segment] = []
        node: _Segment | None = source
        while node is not None:
            chain.append(node)
            node = node.piped_from
        downloads = any(
            s.argv and s.argv[0].rsplit("/", 1)[-1] in ("curl", "wget", "nc", "ncat", "fetch")
            for s in chain
        )
        if reads_code and downloads:
            verdicts.append(_v("dangerous", f"runs code downloaded from the network in {receiver}"))
        elif reads_code:
            verdicts.append(_v("write", f"pipes commands into {receiver}"))
    return verdicts


def _has_flag(args: Sequence[str], letters: str, long: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            break
        if arg in long:
            return True
        if arg.startswith("-") and not arg.startswith("--") and any(c in arg[1:] for c in letters):
            return True
    return False


def _positionals(args: Sequence[str], *, skip_values: Iterable[str] = ()) -> list[str]:
    """Operands: arguments that are not options (everything after ``--``)."""
    takes_value = set(skip_values)
    result: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            result.extend(args[i + 1 :])
            break
        if arg in takes_value:
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            i += 1
            continue
        result.append(arg)
        i += 1
    return result


def _skip_options(args: Sequence[str], *, with_value: Iterable[str]) -> list[str]:
    """What follows a wrapper's own options: the command it runs."""
    takes_value = set(with_value)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return list(args[i + 1 :])
        if arg in takes_value:
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            i += 1
            continue
        break
    return list(args[i:])
