"""The web chat page against ``lmsa serve`` with API keys and a rate limit, in headless Chromium.

The page itself is public; the API answers 401 without a key, so the page asks for one, keeps
it in the browser and sends it as ``X-Api-Key``. The rate limit counts per key, so the second
test spends its own key's budget until the page says it is rate limited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deps import missing, require_module
from tests.integration.helpers import ServerProcess, intent, server_env, start_server
from tests.stubs.lmstudio import LMStudioStub

sync_api = require_module("playwright.sync_api", "needs playwright (the dev extra)")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    missing(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")

pytestmark = pytest.mark.integration

TIMEOUT_MS = 30_000
KEY_ONE = "FIG-KEY-ONE-4410"
KEY_TWO = "FIG-KEY-TWO-7781"
LIMIT = 20
REFUSED = re.compile(r"Failed to load resource.*\b(401|429)\b")


@pytest.fixture(scope="module")
def upstream() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario={"IntentResult": [intent("conversation")], "echo": True}) as stub:
        yield stub


@pytest.fixture(scope="module")
def server(
    upstream: LMStudioStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("web-keys")
    env = server_env(
        upstream,
        tmp_path,
        LMSA_API_KEYS=f"{KEY_ONE},{KEY_TWO}",
        LMSA_RATE_LIMIT=f"{LIMIT}/minute",
    )
    running = start_server(env, tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: ServerProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    opened.goto(server.url + "/")
    yield opened
    context.close()
    unexpected = [e for e in errors if not REFUSED.search(e)]
    assert not unexpected, f"the browser logged errors: {unexpected}"


def enter_key(page: Any, key: str) -> None:
    dialog = page.locator("#key-dialog")
    dialog.wait_for()
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_label("API key").press("Enter")


def send(page: Any, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def test_the_page_asks_for_a_key_keeps_it_and_sends_it(page: Any) -> None:
    enter_key(page, "not-a-key")
    # A wrong key is refused too, so the page asks again.
    page.locator("#key-dialog").wait_for()
    enter_key(page, KEY_ONE)
    page.locator("#key-dialog").wait_for(state="hidden")
    send(page, "hello from a phone")
    page.locator(".msg.assistant .bubble", has_text="hello from a phone").wait_for()
    assert page.evaluate("localStorage.getItem('lmsa.apiKey')") == KEY_ONE
    # At 375 px nothing is cut off or needs sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("#sidebar").is_hidden()
    page.get_by_role("button", name="Show conversations").click()
    page.locator(".thread", has_text="hello from a phone").wait_for()

    page.reload()
    page.locator(".msg.user", has_text="hello from a phone").wait_for()
    assert not page.locator("#key-dialog").is_visible()


def test_the_rate_limit_is_reported_with_what_to_do(page: Any) -> None:
    enter_key(page, KEY_TWO)
    page.locator("#key-dialog").wait_for(state="hidden")
    alert = page.locator("#alert")
    for turn in range(LIMIT):
        if alert.is_visible():
            break
        send(page, f"message {turn}")
        # Refused, or answered and finished (the page takes no message while a turn runs).
        page.wait_for_function(
            "() => !document.getElementById('alert').hidden"
            f" || (document.querySelectorAll('.msg.assistant').length > {turn}"
            " && document.getElementById('stop').hidden)"
        )
    assert "Rate limited" in alert.inner_text()
    assert "wait" in page.locator("#alert-hint").inner_text()
