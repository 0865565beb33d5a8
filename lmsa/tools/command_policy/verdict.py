"""What judging a command line produces (a class and a reason) and what it carries along."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from lmsa.tools.registry import RiskLevel

_RANK: dict[RiskLevel, int] = {"read": 0, "write": 1, "dangerous": 2}


@dataclass(frozen=True)
class CommandVerdict:
    """A class and the one-line reason shown to the user (and, when refused, the model), and
    whether any part of the line can reach the network (a way out for data once the turn has
    read untrusted content: the approval gate then asks a person)."""

    risk: RiskLevel
    reason: str
    network: bool = False

    @staticmethod
    def worst(verdicts: Iterable[CommandVerdict]) -> CommandVerdict:
        chosen: CommandVerdict | None = None
        network = False
        for candidate in verdicts:
            network = network or candidate.network
            if chosen is None or _RANK[candidate.risk] > _RANK[chosen.risk]:
                chosen = candidate
        if chosen is None:
            return CommandVerdict("read", "does nothing")
        return chosen if chosen.network == network else replace(chosen, network=network)


def verdict(risk: RiskLevel, reason: str, *, network: bool = False) -> CommandVerdict:
    return CommandVerdict(risk, reason, network)


class Unanalysable(ValueError):
    """A construct whose effect cannot be known before it runs."""


@dataclass
class Scope:
    """Where a simple command runs, as far as the analysis can follow it."""

    cwd: Path | None  # None: only known at run time (after `cd $X`)
    depth: int = 0
    stdin_targets: bool = False  # xargs: arguments come from input, unseen here
