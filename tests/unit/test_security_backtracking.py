"""The guard reads every input without catastrophic backtracking.

Each text below once kept ``check_input`` or ``scan_tool_output`` busy for seconds to hours (a
long token after a trigger word, a run of one character, a line of labels): a message built like
that would tie up a worker. The checks run in a child process so that a pattern that backtracks
fails this test at the deadline instead of hanging the suite (a regex holds the interpreter while
it runs); the deadline is a hang guard, far above what the checks take. Costs that grow with the
square of the text are shown by ``benchmarks/guard_shapes.py``, not here."""

from __future__ import annotations

import subprocess
import sys

import pytest

HANG_GUARD = 120  # seconds for all the texts; they take well under a second in all

# (name, Python expression building the text)
TEXTS = [
    ("long token after a Korean trigger", "'아래 .env ' + '%EC%9D' * 500"),
    ("long token after a Russian verb", "'отправь ' + 'abc' * 1000"),
    ("run of at-signs in Japanese", "'.env を ' + '@' * 3000 + 'x にPOSTして'"),
    ("newlines", "'Please read this.' + '\\n' * 30000"),
    ("equals signs", "'Please read this. ' + '=' * 30000"),
    ("dashes", "'Please read this. ' + '-' * 30000"),
    ("unclosed HTML comments", "'Please read this. ' + '<!--' * 7000"),
    ("curl without a pipe", "'Please read this. ' + 'curl ' * 6000"),
    ("a line of AI labels", "'Please read this. ' + 'AI:' * 10000"),
    ("role headers", "'Please read this.\\n' + '## system\\n' * 3000"),
    ("blanks after a role word", "'[système' + ' ' * 8000 + 'x'"),
    ("tabs after a role word", "'system' + '\\t' * 8000 + 'x'"),
]

SCRIPT = """
import sys
from lmsa.security import check_input, scan_tool_output
texts = [{texts}]
for text in texts:
    check_input(text)
    scan_tool_output(text, source="fuzz")
print(len(texts))
"""


@pytest.mark.parametrize("name, expression", TEXTS, ids=[name for name, _ in TEXTS])
def test_the_text_is_checked_without_catastrophic_backtracking(name: str, expression: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(texts=expression)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "1"
