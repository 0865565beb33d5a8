"""What the saver's algorithms hand to the I/O drivers.

A plan is the whole algorithm of one operation written once, without I/O: it yields batches,
receives their replies and finally returns a value. The sync and async savers only differ in
the driver that executes the batches.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from langgraph.checkpoint.base import CheckpointTuple

T = TypeVar("T")


@dataclass(slots=True)
class Batch:
    """Commands the I/O driver sends in one round trip (pipelined, or MULTI/EXEC)."""

    cmds: list[tuple[Any, ...]]
    transaction: bool = False


@dataclass(slots=True)
class Emit:
    """A result that a listing plan hands to its caller before asking for more I/O."""

    item: CheckpointTuple


Plan = Generator[Batch, list[Any], T]
ListPlan = Generator[Batch | Emit, list[Any], None]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
