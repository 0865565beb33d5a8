"""The web chat page's weight and first render, measured in headless Chromium on loopback.

    python benchmarks/web_page.py [--loads 10] [--screenshots docs/screenshots]

Starts the LM Studio stub and ``lmsa serve`` (in-memory checkpointer), then loads ``/`` in a
fresh browser context (empty cache) ``--loads`` times and reports:

  page weight   bytes of the page's own files as served (HTML, script, stylesheet), without
                compression; the API calls the page makes on start are counted apart
  first render  first-contentful-paint from the Performance API, and DOMContentLoaded

With ``--screenshots DIR`` it also drives a short conversation (a Markdown answer with its tool
results, then a write waiting for approval) and saves ``web-light.png`` and ``web-dark.png``
at 1200x800. Needs Debian's chromium at /usr/bin/chromium and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.load import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def intent(kind: str) -> dict[str, Any]:
    return {
        "reasoning": "The user wants something.",
        "intent": kind,
        "confidence": 0.95,
        "entities": ["notes.txt"],
        "language": "en",
        "needs_clarification": False,
        "clarifying_question": "",
    }


def plan(tool: str, **args: Any) -> dict[str, Any]:
    step = {"id": "s1", "tool": tool, "args": args, "purpose": "", "depends_on": []}
    return {"reasoning": "Use the tools.", "answer_directly": False, "steps": [step]}


ANSWER = (
    "The file **notes.txt** holds one line, a launch code:\n\n"
    "```text\nThe launch code is PINEAPPLE-42.\n```\n\n"
    "- It is the only line in the file.\n"
    "- Nothing else in the workspace mentions it."
)
SCENARIO = {
    "IntentResult": [intent("file_operation")],
    "Plan": [
        plan("read_file", path="notes.txt"),
        plan("write_file", path="summary.md", content="# Notes\n\nOne launch code.\n"),
    ],
    "Validation": [{"complete": True, "missing": "", "retry_with": ""}],
    "text": [{"content": ANSWER, "chunk_delay_ms": 5}],
}


def load_once(browser: Browser, url: str) -> tuple[int, int, float, float]:
    """(page bytes, API bytes, first-contentful-paint ms, DOMContentLoaded ms) of one cold load,
    all as the browser's Performance API reports them (bodies decoded, so uncompressed)."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    measured = page.evaluate(
        """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const fcp = performance.getEntriesByName('first-contentful-paint')[0];
            let files = nav.decodedBodySize, api = 0;
            for (const r of performance.getEntriesByType('resource')) {
                if (r.initiatorType === 'fetch') api += r.decodedBodySize;
                else files += r.decodedBodySize;
            }
            return [files, api, fcp ? fcp.startTime : -1, nav.domContentLoadedEventEnd];
        }"""
    )
    context.close()
    return int(measured[0]), int(measured[1]), float(measured[2]), float(measured[3])


def screenshots(browser: Browser, url: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 800}, color_scheme="light")
    page = context.new_page()
    page.goto(url)
    send(page, "What is in notes.txt?")
    page.locator(".msg.assistant .bubble", has_text="Nothing else").wait_for()
    page.locator("#send").wait_for(state="visible")
    page.locator("details.tools summary").last.click()
    send(page, "Write a short summary to summary.md")
    page.locator(".card.approval").wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "web-light.png"))
    page.locator("#theme").click()
    page.mouse.move(600, 300)  # no hover highlight on the toggle in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "web-dark.png"))
    context.close()


def send(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--screenshots", type=Path, help="save web-light.png / web-dark.png here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lmsa-web-"))
    (tmp / "workspace").mkdir()
    (tmp / "workspace" / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n")
    scenario = tmp / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    stub_port, api_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LMSA_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        PYTHONUNBUFFERED="1",
        LANGSMITH_TRACING="false",
        LMSA_BASE_URL=f"http://127.0.0.1:{stub_port}/v1",
        LMSA_CHECKPOINTER="memory",
        LMSA_DATA_DIR=str(tmp / "data"),
        LMSA_WORKSPACE=str(tmp / "workspace"),
        LMSA_REDIS_KEY_PREFIX=f"lmsa-web-{uuid.uuid4().hex[:8]}",
        LMSA_RATE_LIMIT="",
        LMSA_LOCAL_FALLBACK="off",
        LMSA_LOG_LEVEL="WARNING",
    )
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.stubs.lmstudio",
            "--port",
            str(stub_port),
            "--scenario",
            str(scenario),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "lmsa.cli.main", "serve", "--port", str(api_port)],
        cwd=tmp,
        env=env,
        stderr=(tmp / "server.log").open("w"),
    )
    try:
        url = f"http://127.0.0.1:{api_port}/"
        wait_until(f"http://127.0.0.1:{stub_port}/v1/models", stub)
        wait_until(f"{url}health", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            load_once(browser, url)  # warm-up: the server's first requests import lazily
            runs = [load_once(browser, url) for _ in range(args.loads)]
            if args.screenshots:
                screenshots(browser, url, args.screenshots)
            browser.close()
    finally:
        for proc in (server, stub):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    page_bytes = {r[0] for r in runs}
    fcp = [r[2] for r in runs]
    dcl = [r[3] for r in runs]
    print(f"page weight: {max(page_bytes)} bytes ({max(page_bytes) / 1024:.1f} KiB) uncompressed")
    print(f"API responses on start: {max(r[1] for r in runs)} bytes")
    print(
        f"first-contentful-paint over {len(runs)} cold loads: median {statistics.median(fcp):.0f} "
        f"ms, max {max(fcp):.0f} ms; DOMContentLoaded median {statistics.median(dcl):.0f} ms"
    )
    if args.screenshots:
        print(f"screenshots: {args.screenshots}/web-light.png, {args.screenshots}/web-dark.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
