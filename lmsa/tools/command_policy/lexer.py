"""Splits a command line the way a POSIX shell would, without running anything.

``$(...)``, backticks and ``<(...)`` are cut out (their contents are judged on their own); the
rest is split with :mod:`shlex` (POSIX quoting, shell punctuation) into simple commands at
``;``, ``&&``, ``||``, ``|``, ``&`` and newlines, with redirections taken out. The argument
helpers at the end tell options from operands.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lmsa.tools.command_policy.verdict import Unanalysable

PLACEHOLDER = "__lmsa_substitution__"
_SEPARATORS = frozenset({";", "&&", "||", "|", "|&", "&", "\n", ";;", "(", ")", "()"})
_PIPES = frozenset({"|", "|&"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<", "<>", "<&", "<<", "<<<", "<<-"})


@dataclass
class Segment:
    """One simple command: its words, its redirections, and the command piped into it."""

    argv: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)
    piped_from: Segment | None = None


def cut_substitutions(text: str) -> tuple[str, list[str]]:
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
            out.append(PLACEHOLDER)
            i = end + 1
            continue
        if char == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise Unanalysable("an unclosed backtick")
            inner.append(text[i + 1 : end])
            out.append(PLACEHOLDER)
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


def tokenize(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as error:
        raise Unanalysable(f"it does not parse ({error})") from None


def split_segments(tokens: list[str]) -> list[Segment]:
    segments: list[Segment] = []
    current = Segment()
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
            current = Segment(piped_from=segments[-1] if token in _PIPES and segments else None)
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


# --- argument words ---------------------------------------------------------------------------


def has_flag(args: Sequence[str], letters: str, long: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            break
        if arg in long:
            return True
        if arg.startswith("-") and not arg.startswith("--") and any(c in arg[1:] for c in letters):
            return True
    return False


def operands(args: Sequence[str], *, skip_values: Iterable[str] = ()) -> list[str]:
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


def skip_options(args: Sequence[str], *, with_value: Iterable[str]) -> list[str]:
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
