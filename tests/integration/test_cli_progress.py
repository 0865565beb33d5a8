"""``lmsa chat`` in a real terminal (a pseudo-terminal): the live status line names each step
of a turn, a finished tool step is left as a line, and Ctrl-C (the byte a keyboard sends, turned
into SIGINT by the terminal) stops the running turn without ending the chat.

The stub holds a reply for as long as a test needs a turn in flight, so nothing here races a
timer; waits are for text to appear on the terminal."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import lmsa_command
from tests.integration.helpers import COMPLETE, intent, plan, queue_of, step
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

WAIT = 60.0
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal:
    """``lmsa`` with stdin, stdout and stderr on one pseudo-terminal that is its controlling
    terminal, and everything it writes collected as a transcript."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, *, stdout_pipe: bool = False
    ) -> None:
        self.master, slave = os.openpty()
        env = {**env, "TERM": "xterm", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            args,
            stdin=slave,
            stdout=subprocess.PIPE if stdout_pipe else slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            # The pty becomes the controlling terminal, so Ctrl-C typed on it is a SIGINT.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self._text = ""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal
                data = b""
            with self._changed:
                if not data:
                    self._text += "\0EOF"
                    self._changed.notify_all()
                    return
                self._text += data.decode("utf-8", "replace")
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return self._text.replace("\0EOF", "")

    def expect(self, pattern: str, *, after: int = 0) -> int:
        """Waits until ``pattern`` (a regex) appears at or after offset ``after``; returns the
        offset just past the match."""
        regex = re.compile(pattern)
        with self._changed:
            found = self._changed.wait_for(
                lambda: regex.search(self._text, after) or "\0EOF" in self._text, WAIT
            )
            match = regex.search(self._text, after)
            assert found and match, f"{pattern!r} never appeared in:\n{self._text[after:]!r}"
            return match.end()

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        os.close(self.master)


@pytest.fixture
def terminal(lmsa_env: dict[str, str], run_cwd: Path) -> Iterator[Terminal]:
    running = Terminal(lmsa_command("chat", "--thread", "tty-thread"), lmsa_env, run_cwd)
    try:
        yield running
    finally:
        running.close()


READ_NOTES = {
    "IntentResult": [intent("file_operation", entities=("notes.txt",))],
    "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
    "Validation": [COMPLETE],
    "text": ["The launch code in notes.txt is PINEAPPLE-42."],
}


def test_status_line_names_the_steps_in_order_and_leaves_a_tool_line(
    stub: LMStudioStub, terminal: Terminal
) -> None:
    stub.set_scenario(READ_NOTES)
    at = terminal.expect(r"you> ")
    terminal.send("What does notes.txt say?\n")
    end = terminal.expect(r"PINEAPPLE-42\.", after=at)
    terminal.expect(r"you> ", after=end)

    shown = ANSI.sub("", terminal.text[at:])
    steps = ["understanding", "planning", "running read_file notes.txt", "answering"]
    positions = [shown.find(f"... {name} (") for name in steps]
    assert -1 not in positions, shown
    assert positions == sorted(positions), shown
    # The finished step stays on the screen as a line of its own, before the answer.
    tool = re.search(r"\r  - read_file notes\.txt: ok \(\d+\.\d+ s\)\r\n", shown)
    assert tool, shown
    assert tool.start() < shown.index("assistant> The launch code")


def test_details_shows_the_last_turns_tool_output(stub: LMStudioStub, terminal: Terminal) -> None:
    stub.set_scenario(READ_NOTES)
    at = terminal.expect(r"you> ")
    terminal.send("What does notes.txt say?\n")
    at = terminal.expect(r"you> ", after=terminal.expect(r"PINEAPPLE-42\.", after=at))
    terminal.send("/details\n")
    terminal.expect(r"The launch code is PINEAPPLE-42\.", after=at)


def test_ctrl_c_stops_the_turn_and_the_next_message_continues_the_thread(
    stub: LMStudioStub, terminal: Terminal
) -> None:
    stub.set_scenario({**READ_NOTES, "Plan": [{"hold": True}]})
    at = terminal.expect(r"you> ")
    terminal.send("What does notes.txt say?\n")
    assert stub.wait_held(1, WAIT)
    at = terminal.expect(r"\.\.\. planning", after=at)

    terminal.send("\x03")  # Ctrl-C
    at = terminal.expect(r"turn stopped", after=at)
    at = terminal.expect(r"you> ", after=at)
    assert terminal.proc.poll() is None  # the chat is still running

    stub.set_scenario({"IntentResult": [intent("conversation")], "text": ["Hi again."]})
    before = len(stub.chat_requests())
    terminal.send("hello\n")
    at = terminal.expect(r"assistant> Hi again\.", after=at)
    at = terminal.expect(r"you> ", after=at)
    # Only the new turn's calls: nothing of the stopped turn (its plan) ran again.
    new_calls = stub.chat_requests()[before:]
    assert [queue_of(body) for body in new_calls] == ["IntentResult", "text"]
    terminal.send("/history\n")
    at = terminal.expect(r"you> ", after=terminal.expect(r"assistant> Hi again\.", after=at))
    history = ANSI.sub("", terminal.text)
    assert "you> What does notes.txt say?" in history
    assert "you> hello" in history

    terminal.send("\x04")  # Ctrl-D at the prompt leaves
    terminal.expect(r"bye - resume with: lmsa chat --thread tty-thread", after=at)
    assert terminal.proc.wait(WAIT) == 0


def test_ctrl_c_at_the_prompt_after_a_stopped_turn_leaves_the_chat(
    stub: LMStudioStub, terminal: Terminal
) -> None:
    stub.set_scenario({**READ_NOTES, "Plan": [{"hold": True}]})
    at = terminal.expect(r"you> ")
    terminal.send("What does notes.txt say?\n")
    assert stub.wait_held(1, WAIT)
    at = terminal.expect(r"\.\.\. planning", after=at)
    terminal.send("\x03")
    at = terminal.expect(r"you> ", after=terminal.expect(r"turn stopped", after=at))
    assert terminal.proc.poll() is None

    terminal.send("\x03")  # the second Ctrl-C, now at the prompt
    terminal.expect(r"bye - resume with: lmsa chat --thread tty-thread", after=at)
    assert terminal.proc.wait(WAIT) == 0


def test_ask_shows_progress_on_a_terminal_stderr_and_keeps_stdout_the_answer(
    stub: LMStudioStub, lmsa_env: dict[str, str], run_cwd: Path
) -> None:
    stub.set_scenario(READ_NOTES)
    command = lmsa_command("ask", "What does notes.txt say?")
    terminal = Terminal(command, lmsa_env, run_cwd, stdout_pipe=True)
    try:
        assert terminal.proc.stdout is not None
        stdout = terminal.proc.stdout.read().decode()
        assert terminal.proc.wait(WAIT) == 0
        shown = ANSI.sub("", terminal.text)
    finally:
        terminal.close()
    assert stdout == "The launch code in notes.txt is PINEAPPLE-42.\n"
    for name in ("understanding", "planning", "running read_file notes.txt", "answering"):
        assert f"... {name} (" in shown, shown
    assert "  - read_file notes.txt: ok (" in shown


def test_ask_piped_prints_no_progress_unless_verbose(
    stub: LMStudioStub, run_lmsa_process: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    stub.set_scenario(READ_NOTES)
    quiet = run_lmsa_process("ask", "What does notes.txt say?")
    assert quiet.returncode == 0, quiet.stderr
    # Only the line saying how to continue the new thread.
    [line] = quiet.stderr.splitlines()
    assert line.startswith("(thread ")
    thread = line.split()[1].rstrip(":")

    verbose = run_lmsa_process("ask", "--verbose", "--thread", thread, "What does notes.txt say?")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == quiet.stdout
    # The step line, then the tool's full output; no status line on a pipe.
    assert re.match(r"  - read_file notes\.txt: ok \(\d+\.\d+ s\)\n", verbose.stderr)
    assert "PINEAPPLE-42" in verbose.stderr
    assert "... planning" not in verbose.stderr
