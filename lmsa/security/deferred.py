"""Module-level patterns that are compiled when first used.

The guard's modules define 140 patterns at module level. ``re.compile`` parses each one in
Python; together that is about 30 ms of CPU, paid before the first request of every ``lmsa ask``.
A benign text reaches about 20 of them, because most families are read only after one of their
lexicon words is found (``tests/unit/test_security_deferred.py`` counts them). The standard
library has no deferred compile, so it is written here. After the first call the compiled
pattern's own bound methods sit in the instance's slots, so a call costs one slot read more than
on a compiled pattern (about 15 ns). ``re.sub(pattern, ...)`` and ``isinstance(x, re.Pattern)``
do not accept the deferred object: call its methods instead.
"""

from __future__ import annotations

import re
from typing import Any, cast

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class _Deferred:
    # A slot per method: once compiled, a call reads the slot (the compiled pattern's own bound
    # method) without reaching __getattr__.
    __slots__ = ("pattern", "_flags", "_compiled", *_METHODS)

    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        # Reached for an empty slot (not compiled yet) and for flags, groups, groupindex.
        if name.startswith("__") or name in ("pattern", "_flags"):
            raise AttributeError(name)
        try:
            compiled = object.__getattribute__(self, "_compiled")
        except AttributeError:
            compiled = re.compile(self.pattern, self._flags)
            for method in _METHODS:
                setattr(self, method, getattr(compiled, method))
            self._compiled = compiled
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"deferred({self.pattern!r})"


_CREATED: list[_Deferred] = []


def deferred(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern with ``re.Pattern``'s matching methods, compiled at the first of their calls."""
    made = _Deferred(pattern, int(flags))
    _CREATED.append(made)
    return cast("re.Pattern[str]", made)


def created() -> tuple[re.Pattern[str], ...]:
    """Every deferred pattern made so far (the guard's are made when its modules are imported)."""
    return tuple(cast("re.Pattern[str]", made) for made in _CREATED)


def is_compiled(pattern: re.Pattern[str]) -> bool:
    """Whether a deferred pattern has been compiled (a compiled ``re.Pattern`` always has)."""
    try:
        object.__getattribute__(pattern, "_compiled")
    except AttributeError:
        return not isinstance(pattern, _Deferred)
    return True
