"""The web chat page of ``lmsa serve``, driven in headless Chromium through Playwright.

One ``lmsa serve`` (Redis checkpointer, writes need approval) and one browser serve the whole
module; the LM Studio stub scripts each test's turn. The page is a plain client of the
LangGraph Server API the same server answers, so every test goes through the real routes: a
streamed answer, a clarification answered in place, tool calls approved and rejected from
their cards, a reload that finds the thread again, and LM Studio going away. Every test also
checks that the browser logged no error (a script error, or a Content-Security-Policy refusal).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deps import missing, require_module
from tests.integration.helpers import (
    CLARIFY_SCENARIO,
    COMPLETE,
    ServerProcess,
    intent,
    plan,
    server_env,
    start_server,
    step,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

sync_api = require_module("playwright.sync_api", "needs playwright (the dev extra)")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    missing(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
require_redis()

pytestmark = pytest.mark.integration

TIMEOUT_MS = 30_000
ANSWER = (
    "Here is **the answer** with `inline code`.\n\n"
    "```python\nprint('hello')\n```\n\n"
    "- first point\n- second point <b>not bold</b> <script>window.pwned = 1</script>"
)


def write_scenario(name: str, answer: str) -> dict[str, Any]:
    return {
        "IntentResult": [intent("file_operation")],
        "Plan": [plan(step("w1", "write_file", path=name, content="hello"))],
        "Validation": [COMPLETE],
        "text": [answer],
    }


@dataclass
class Upstream:
    """The stub standing in for LM Studio; replaced when a test stops it."""

    stub: LMStudioStub
    port: int


@dataclass
class Console:
    """What the browser reported: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def assert_clean(self, allowed: str | None = None) -> None:
        unexpected = [e for e in self.errors if not (allowed and re.search(allowed, e))]
        assert not unexpected, f"the browser logged errors: {unexpected}"


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    stub = LMStudioStub(scenario={}).start()
    holder = Upstream(stub, stub.port)
    yield holder
    holder.stub.stop()


@pytest.fixture(scope="module")
def server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("web")
    prefixes = fresh_key_prefix("web")
    prefix = next(prefixes)
    env = server_env(
        upstream.stub,
        tmp_path,
        LMSA_CHECKPOINTER="redis",
        LMSA_REDIS_URL=REDIS_URL,
        LMSA_REDIS_KEY_PREFIX=prefix,
    )
    running = start_server(env, tmp_path)
    running.workspace = tmp_path / "workspace"  # type: ignore[attr-defined]
    yield running
    running.stop()
    next(prefixes, None)  # deletes the prefix's keys


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, server: ServerProcess, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    opened = context.new_page()
    opened.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    opened.goto(server.url + "/")
    yield opened
    context.close()


def send(page: Any, text: str) -> None:
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")


def last_answer(page: Any) -> Any:
    return page.locator(".msg.assistant .bubble").last


# ---- tests ---------------------------------------------------------------------------------


def test_answer_streams_token_by_token_as_escaped_markdown(
    page: Any, upstream: Upstream, console: Console
) -> None:
    upstream.stub.set_scenario(
        {
            "IntentResult": [intent("conversation")],
            "text": [{"content": ANSWER, "chunk_delay_ms": 60}],
        }
    )
    send(page, "Tell me something")
    page.locator(".msg.user", has_text="Tell me something").wait_for()
    # Seen part-way: some of the answer is on screen while the rest is still coming.
    page.wait_for_function(
        """() => {
            const b = document.querySelector('.msg.assistant .bubble');
            return b && b.textContent.length > 0 && !b.textContent.includes('second point');
        }"""
    )
    answer = last_answer(page)
    answer.locator("li", has_text="second point").wait_for()
    page.locator("#send").wait_for(state="visible")
    assert answer.locator("strong").inner_text() == "the answer"
    assert answer.locator("code", has_text="inline code").count() == 1
    assert answer.locator(".code pre code").inner_text() == "print('hello')"
    answer.locator(".code").get_by_role("button", name="Copy").click()
    answer.locator(".code").get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "print('hello')"
    # Model text is shown, never run or parsed as markup.
    assert "<b>not bold</b>" in answer.inner_text()
    assert answer.locator("b, script").count() == 0
    assert page.evaluate("window.pwned") is None
    console.assert_clean()


def test_clarification_is_answered_in_place(
    page: Any, upstream: Upstream, console: Console
) -> None:
    upstream.stub.set_scenario(CLARIFY_SCENARIO)
    send(page, "summarise it")
    card = page.locator(".card.clarification")
    card.get_by_text("Which file should I summarise?").wait_for()
    answer_box = card.get_by_label("Your answer")
    answer_box.fill("notes.txt")
    answer_box.press("Enter")
    last_answer(page).get_by_text("Summary: it holds the launch code.").wait_for()
    tools = page.locator("details.tools").last
    tools.locator("summary").click()
    shown = tools.inner_text()
    assert "read_file notes.txt" in shown and "ok" in shown, shown
    # The API withholds raw tool output; the page says so instead of showing nothing.
    assert "PINEAPPLE-42" not in shown
    assert "Output not shown over HTTP." in shown
    console.assert_clean()


def test_progress_names_each_step_of_a_tool_turn(
    page: Any, upstream: Upstream, console: Console
) -> None:
    upstream.stub.set_scenario(
        {
            "IntentResult": [intent("file_operation", entities=("notes.txt",))],
            "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
            "Validation": [COMPLETE],
            "text": ["It holds a launch code."],
        }
    )
    page.evaluate(
        """() => {
            window.steps = [];
            new MutationObserver(() => window.steps.push(
                document.getElementById('status-text').textContent
            )).observe(document.getElementById('status-text'), {childList: true});
        }"""
    )
    send(page, "what is in notes.txt?")
    last_answer(page).get_by_text("It holds a launch code.").wait_for()
    page.locator("#send").wait_for(state="visible")
    steps = page.evaluate("window.steps")
    expected = ["Planning", "Running read_file notes.txt", "Checking the results"]
    seen = [s for i, s in enumerate(steps) if s in expected and (i == 0 or steps[i - 1] != s)]
    assert seen == expected, steps
    assert page.locator("#status").is_hidden()
    console.assert_clean()


def test_approving_a_tool_call_runs_exactly_the_call_shown(
    page: Any, upstream: Upstream, server: ServerProcess, console: Console
) -> None:
    upstream.stub.set_scenario(write_scenario("approved.txt", "Wrote approved.txt."))
    send(page, "write approved.txt")
    card = page.locator(".card.approval")
    call = card.locator("pre.call")
    call.wait_for()
    assert "write_file" in call.inner_text()
    assert '"path": "approved.txt"' in call.inner_text()
    # The question outlives a reload: the card comes back from the thread's state.
    page.reload()
    card.locator("pre.call", has_text="approved.txt").wait_for()
    assert not (server.workspace / "approved.txt").exists()  # type: ignore[attr-defined]
    card.get_by_role("button", name="Approve", exact=True).click()
    last_answer(page).get_by_text("Wrote approved.txt.").wait_for()
    workspace: Path = server.workspace  # type: ignore[attr-defined]
    assert (workspace / "approved.txt").read_text(encoding="utf-8") == "hello"
    console.assert_clean()


def test_rejecting_a_tool_call_with_a_reason_keeps_it_from_running(
    page: Any, upstream: Upstream, server: ServerProcess, console: Console
) -> None:
    upstream.stub.set_scenario(write_scenario("rejected.txt", "I left rejected.txt alone."))
    send(page, "write rejected.txt")
    card = page.locator(".card.approval")
    card.get_by_role("button", name="Reject", exact=True).click()
    reason = card.get_by_label("Why (optional, told to the assistant)")
    reason.fill("wrong folder")
    reason.press("Enter")
    last_answer(page).get_by_text("I left rejected.txt alone.").wait_for()
    workspace: Path = server.workspace  # type: ignore[attr-defined]
    assert not (workspace / "rejected.txt").exists()
    prompts = str([b["messages"] for b in upstream.stub.chat_requests()])
    assert "wrong folder" in prompts
    console.assert_clean()


def test_editing_the_arguments_runs_the_edited_call(
    page: Any, upstream: Upstream, server: ServerProcess, console: Console
) -> None:
    upstream.stub.set_scenario(write_scenario("planned.txt", "Wrote the edited file."))
    send(page, "write planned.txt")
    card = page.locator(".card.approval")
    card.get_by_role("button", name="Edit arguments").click()
    card.get_by_label("Arguments (JSON)").fill('{"path": "edited.txt", "content": "from the page"}')
    card.get_by_role("button", name="Run with these arguments").click()
    last_answer(page).get_by_text("Wrote the edited file.").wait_for()
    workspace: Path = server.workspace  # type: ignore[attr-defined]
    assert not (workspace / "planned.txt").exists()
    assert (workspace / "edited.txt").read_text(encoding="utf-8") == "from the page"
    console.assert_clean()


def test_reload_finds_the_thread_and_its_conversation(
    page: Any, upstream: Upstream, console: Console
) -> None:
    upstream.stub.set_scenario({"IntentResult": [intent("conversation")], "echo": True})
    send(page, "remember the word AUBERGINE")
    last_answer(page).get_by_text("AUBERGINE").wait_for()
    page.locator("#send").wait_for(state="visible")
    thread_id = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    assert thread_id

    page.reload()
    page.locator(".msg.user", has_text="remember the word AUBERGINE").wait_for()
    last_answer(page).get_by_text("AUBERGINE").wait_for()
    listed = page.locator(f'.thread[data-thread="{thread_id}"]')
    assert "AUBERGINE" in listed.inner_text()
    assert "active" in (listed.get_attribute("class") or "")

    # A new chat empties the page; the old thread stays listed and opens again.
    page.get_by_role("button", name="+ New chat").click()
    page.locator("#empty").wait_for()
    listed.locator(".thread-open").click()
    page.locator(".msg.user", has_text="remember the word AUBERGINE").wait_for()
    console.assert_clean()


def test_threads_are_renamed_and_deleted_from_the_list(
    page: Any, upstream: Upstream, server: ServerProcess, console: Console
) -> None:
    upstream.stub.set_scenario({"IntentResult": [intent("conversation")], "echo": True})
    send(page, "a thread to rename")
    last_answer(page).get_by_text("a thread to rename").wait_for()
    page.locator("#send").wait_for(state="visible")
    thread_id = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    listed = page.locator(f'.thread[data-thread="{thread_id}"]')
    listed.get_by_role("button", name="Rename a thread to rename").click()
    name = page.get_by_label("New name")
    name.fill("Renamed in the browser")
    name.press("Enter")
    listed.get_by_text("Renamed in the browser").wait_for()
    # Stored on the server (thread metadata), not only on the page.
    page.reload()
    listed.get_by_text("Renamed in the browser").wait_for()
    assert page.locator("#title").inner_text() == "Renamed in the browser"

    page.once("dialog", lambda dialog: dialog.accept())
    listed.get_by_role("button", name="Delete Renamed in the browser").click()
    listed.wait_for(state="detached")
    page.locator("#empty").wait_for()
    assert page.evaluate("location.hash") == ""
    page.reload()
    page.locator("#empty").wait_for()
    assert page.locator(f'.thread[data-thread="{thread_id}"]').count() == 0
    console.assert_clean()


def test_stop_aborts_the_turn_and_the_server_cancels_its_run(
    page: Any, upstream: Upstream, server: ServerProcess, console: Console
) -> None:
    upstream.stub.set_scenario(
        {"IntentResult": [intent("conversation")], "text": [{"content": "never", "hold": True}]}
    )
    send(page, "take your time")
    upstream.stub.wait_held(1)
    thread_id = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    try:
        page.get_by_role("button", name="Stop").click()
        page.locator(".msg.note", has_text="Stopped").wait_for()
        page.locator("#send").wait_for(state="visible")
        # The LLM call is still held, so only a cancelled run lets the thread go idle.
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        status = "busy"
        while status == "busy" and time.monotonic() < deadline:
            status = httpx.get(f"{server.url}/threads/{thread_id}").json()["status"]
            time.sleep(0.1)
        assert status == "idle", status
        upstream.stub.set_scenario({"IntentResult": [intent("conversation")], "echo": True})
        send(page, "still there?")
        last_answer(page).get_by_text("still there?").wait_for()
        assert "never" not in page.locator("#log").inner_text()
    finally:
        upstream.stub.release()
    console.assert_clean()


def test_a_second_turn_on_a_busy_thread_says_it_is_busy(
    page: Any, browser: Any, server: ServerProcess, upstream: Upstream, console: Console
) -> None:
    upstream.stub.set_scenario(
        {"IntentResult": [intent("conversation")], "text": [{"content": "done", "hold": True}]}
    )
    send(page, "a slow one")
    upstream.stub.wait_held(1)
    thread_id = page.evaluate("decodeURIComponent(location.hash.slice(1))")
    other_context = browser.new_context()
    other_context.set_default_timeout(TIMEOUT_MS)
    other = other_context.new_page()
    try:
        other.goto(f"{server.url}/#{thread_id}")
        other.locator(".msg.user", has_text="a slow one").wait_for()
        send(other, "me too")
        other.locator("#alert").wait_for()
        assert "Busy thread" in other.locator("#alert").inner_text()
        assert other.locator("#alert-hint").inner_text()
    finally:
        other_context.close()
        upstream.stub.release()
    last_answer(page).get_by_text("done").wait_for()
    console.assert_clean()


def test_lm_studio_down_shows_the_servers_message_and_what_to_do(
    page: Any, upstream: Upstream, console: Console
) -> None:
    upstream.stub.stop()
    try:
        send(page, "are you there?")
        alert = page.locator("#alert")
        alert.wait_for()
        text = alert.inner_text()
        assert "LM Studio" in text, text
        assert "send your message again" in page.locator("#alert-hint").inner_text()
        page.locator("#send").wait_for(state="visible")
    finally:
        upstream.stub = LMStudioStub(scenario={}, port=upstream.port).start()
    # A server that answers 503 before streaming makes the browser log the failed request.
    console.assert_clean(allowed=r"Failed to load resource.*\b503\b")
