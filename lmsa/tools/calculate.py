"""``calculate``: exact arithmetic for a model that cannot add.

A small local model reads "12.50, 30.00, 7.25, 50.25" correctly and then states a wrong total;
it copies numbers well and computes badly. With this tool it writes the expression and the
answer quotes the result.

Written by hand over :mod:`ast` because the job is a dozen lines of whitelisting: the
expression is parsed, never ``eval``-ed, and only numbers, the four operations, ``%``, ``//``,
bounded ``**``, parentheses and ``sum``/``min``/``max``/``abs``/``round`` over numbers are
accepted. A library (``simpleeval``, ``asteval``) would add a dependency for the same whitelist.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from lmsa.tools.factory import make_tool

MAX_EXPRESSION = 500
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sum": lambda *values: math.fsum(_flatten(values)),
    "min": lambda *values: min(_flatten(values)),
    "max": lambda *values: max(_flatten(values)),
    "abs": abs,
    "round": lambda value, digits=0: round(value, _digits(digits)),
}
MAX_ROUND_DIGITS = 20


class CalculateArgs(BaseModel):
    expression: str = Field(
        min_length=1,
        max_length=MAX_EXPRESSION,
        description="Arithmetic with numbers, e.g. '12.5 + 30 + 7.25' or 'max(31, 19, 36)'.",
    )


def _flatten(values: tuple[Any, ...]) -> list[float]:
    flat: list[float] = []
    for value in values:
        if isinstance(value, list | tuple):
            flat.extend(value)
        else:
            flat.append(value)
    if not flat:
        raise ToolException("sum, min and max need at least one number.")
    return flat


def _digits(value: Any) -> int:
    # round(5, -10**64) would compute 10**(10**64): the digits must be a small whole number.
    if not isinstance(value, int) or abs(value) > MAX_ROUND_DIGITS:
        raise ToolException(f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}.")
    return value


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolException(f"Exponents above {MAX_EXPONENT} are not calculated.")
        try:
            value = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ToolException("Division by zero.") from None
        except OverflowError:
            raise ToolException("The result is too large.") from None
        if isinstance(value, complex) or abs(value) > MAX_MAGNITUDE:
            raise ToolException("The result is not a real number of sensible size.")
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.List | ast.Tuple):
        return [_evaluate(item) for item in node.elts]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args))
    raise ToolException(
        "Only numbers, + - * / // % **, parentheses and sum, min, max, abs, round are allowed."
    )


def _shown(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def calculate(expression: str) -> str:
    """``expression = result``; raises :class:`ToolException` for anything but arithmetic."""
    text = expression.strip().replace("×", "*").replace("÷", "/").rstrip("=").strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolException(f"{expression!r} is not an arithmetic expression.") from None
    value = _evaluate(tree)
    if isinstance(value, list):
        raise ToolException("The expression gives a list, not a number; wrap it in sum(...).")
    return f"{text} = {_shown(value)}"


def make_calculate_tool() -> BaseTool:
    return make_tool(
        name="calculate",
        description=(
            "Evaluate an arithmetic expression exactly: numbers, + - * / // % **, parentheses, "
            "sum(...), min(...), max(...), abs(...), round(...). Use it for totals, averages "
            "and comparisons instead of computing in your head."
        ),
        schema=CalculateArgs,
        capability="Compute a total, difference, average, minimum or maximum of numbers.",
        risk="read",
        run=lambda args: calculate(args.expression),
    )


_NUMBER = r"\d+(?:\.\d+)?"
# Operations as written in prose: "+", "*" and "×" anywhere, "-" only with spaces around it
# ("10-20" is a range, "555-1234" a phone number). No division: "3/5" is as often a date or a
# score as a quotient.
_OPERATION = r"(?:\s*[+*×]\s*|\s+-\s+)"
_WRITTEN_SUM = re.compile(
    rf"(?<![\w.,:/'\"`-])({_NUMBER}(?:{_OPERATION}{_NUMBER})+)\s*=\s*({_NUMBER})"
    r"(?![\w%:/'\"`]|[.,]\d)"
)


def correct_arithmetic(text: str) -> str:
    """``text`` with every written-out calculation (``12.5 + 30 = 43.5``) given its exact
    result. A small model writes the right expression and then the wrong total; the
    expression is what it copied from the data, so that part is trusted. Anything that may
    not be arithmetic is left alone: numbers inside times, dates, thousands separators,
    percentages, quotes or code, and a result already right to the decimals it is given in."""

    def fix(match: re.Match[str]) -> str:
        expression, stated = match.group(1), match.group(2)
        try:
            value = _evaluate(ast.parse(expression.replace("×", "*"), mode="eval"))
        except (SyntaxError, ToolException, ArithmeticError):
            return match.group(0)
        decimals = len(stated.partition(".")[2])
        if isinstance(value, list) or abs(value - float(stated)) < 0.5 * 10**-decimals:
            return match.group(0)
        shown = f"{value:.{decimals}f}" if decimals else _shown(round(value, 10))
        return match.group(0)[: match.start(2) - match.start(0)] + shown

    return _WRITTEN_SUM.sub(fix, text)
