"""How long the guard takes on texts built to make regular expressions backtrack.

``python benchmarks/guard_shapes.py [--sizes 8000 31000]`` builds, for each shape below, a text of
each size ("Please read this. " followed by the shape repeated) and prints the seconds
``check_input`` and ``scan_tool_output`` take on it, the slowest shapes first, and how the time
grows with the size. A cost that grows faster than the text (say 16 times for 4 times the text)
is backtracking; the largest size is just under the input limit of ``check_input`` (32,000
characters). ``tests/unit/test_security_backtracking.py`` keeps the shapes that once hung.
"""

from __future__ import annotations

import argparse
import time

from lmsa.security import check_input, scan_tool_output

# Runs of one character, repeated words and markers of every family the guard reads, and long
# tokens after trigger words in each script.
SHAPES = [
    "\n", "\r\n", " ", "=", "-", "*", "#", "<", "[", "(", "{", "@", ".", ":", "'", '"', "\\", "/",
    "1", "a", "é", "文", "키", "ع", "ключ", "%EC%9D", "\u200b", "<!--", "<<", "[[", "{{", "```",
    "## system\n", "AI:", "Assistant: ", "[assistant ", "a:", "$(", "| ", "&#", "..", "1.",
    "end ", "fin ", "</", "[e", "конец ", "输入", "입력 ", "نهاية ", "ignore ", "ignore previous ",
    "send ", ".env ", "ssh ", "key ", "the user ", "you ", "AI assistant, ", "base64 ", "curl ",
    "| bash ", "rm -rf ", "i g n ", "Ig.no.re ", "a.b.", "A-", "a_", "x=", "'a' ", "a@b.",
    "http://", "отправь ", ".env を ", "아래 .env ", "أرسل ", "«", "「",
    "(http://x?a=b", "![a](http://x?a=b", "ab.cd", "a.", "?a=b&",
]  # fmt: skip


def seconds(text: str) -> float:
    started = time.perf_counter()
    check_input(text)
    scan_tool_output(text, source="benchmark")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(8000, 31000))
    parser.add_argument("--top", type=int, default=10)
    options = parser.parse_args(argv)
    small, large = options.sizes
    for shape in SHAPES:  # warm up: patterns are compiled at their first use, not timed here
        seconds("Please read this. " + shape * (200 // len(shape)))
    rows = []
    for shape in SHAPES:
        times = [
            seconds("Please read this. " + shape * (size // len(shape))) for size in (small, large)
        ]
        rows.append((times[1], times[0], shape))
    rows.sort(reverse=True)
    print(
        f"{len(SHAPES)} shapes; check_input + scan_tool_output, seconds at {small} / {large} chars"
    )
    for slow, fast, shape in rows[: options.top]:
        print(f"  {shape!r:<22} {fast:8.4f} {slow:8.4f}   x{slow / max(fast, 1e-6):5.1f}")
    growth = max(slow / max(fast, 1e-6) for slow, fast, _ in rows)
    print(f"slowest {rows[0][0]:.3f} s; largest growth x{growth:.1f} (text x{large / small:.1f})")


if __name__ == "__main__":
    main()
