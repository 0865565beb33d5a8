"""``calculate`` evaluates arithmetic exactly and nothing else."""

from __future__ import annotations

import pytest
from langchain_core.tools import ToolException

from lmsa.tools.calculate import calculate, correct_arithmetic, make_calculate_tool


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("12.50 + 30.00 + 7.25 + 50.25", "100"),
        ("1200+1800", "3000"),
        ("max(31, 19, 36, 28, 17)", "36"),
        ("sum([1.5, 2.5]) / 2", "2"),
        ("(7 - 10) * 2 ** 3", "-24"),
        ("10 / 4", "2.5"),
        ("round(2 / 3, 2)", "0.67"),
        ("0.1 + 0.2", "0.3"),
        ("3 × 4 =", "12"),
    ],
)
def test_arithmetic_is_exact(expression: str, shown: str) -> None:
    assert calculate(expression).rsplit(" = ", 1)[1] == shown


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "open('/etc/passwd').read()",
        "(1).__class__",
        "x + 1",
        "'a' * 3",
        "9 ** 9999",
        "1 / 0",
        "[1, 2]",
        "max()",
        "1 +",
    ],
)
def test_anything_but_arithmetic_is_refused(expression: str) -> None:
    with pytest.raises(ToolException):
        calculate(expression)


def test_the_tool_is_read_only_and_reports_the_expression() -> None:
    tool = make_calculate_tool()
    assert (tool.metadata or {})["risk"] == "read"
    assert tool.invoke({"expression": "2+2"}) == "2+2 = 4"


@pytest.mark.parametrize(
    ("written", "corrected"),
    [
        (
            "Total: 12.50 + 30.00 + 7.25 + 50.25 = 167.00 EUR.",
            "Total: 12.50 + 30.00 + 7.25 + 50.25 = 100.00 EUR.",
        ),
        ("1200 + 1800 = 3000, and 2+2=5.", "1200 + 1800 = 3000, and 2+2=4."),
        ("7 × 6 = 41", "7 × 6 = 42"),
        ("10 - 4 = 5", "10 - 4 = 6"),
    ],
)
def test_written_out_calculations_get_their_exact_result(written: str, corrected: str) -> None:
    assert correct_arithmetic(written) == corrected


@pytest.mark.parametrize(
    "text",
    [
        "1,200 + 300 = 1,500",  # thousands separators
        "600 + 700 = 1,300",
        "At 10:30 + 2 = 12:30",  # times
        "18/20 = 90%",  # scores, dates, ratios: no division
        "Delivery 3/5 = 3 May",
        "range 10-20 = 10 items",  # a range, not a subtraction
        "555-1234 = 555",
        "1.333 + 2 = 3.3",  # right to the decimals given
        "line '7 + 5 = 13' is quoted",  # quoted text is not ours to change
        "-3 + 5 = 2",  # a leading minus is not dropped to make 3 + 5
        "x + 1 = 3",
    ],
)
def test_text_that_may_not_be_a_calculation_is_left_alone(text: str) -> None:
    assert correct_arithmetic(text) == text


@pytest.mark.parametrize("expression", ["round(5, -10**64)", "round(5, 2.5)", "1e308 ** 2"])
def test_calculations_that_would_not_finish_are_refused(expression: str) -> None:
    with pytest.raises(ToolException):
        calculate(expression)
