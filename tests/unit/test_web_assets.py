"""The chat page's files as the app serves them (in-process ASGI calls, no sockets; the browser
tests are tests/integration/test_web_page.py)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from lmsa.config import Settings
from lmsa.server.app import create_app
from lmsa.server.web import STATIC

REPO = Path(__file__).resolve().parents[2]


class Tags(HTMLParser):
    """Every start tag with its attributes, and whether any <script> has a body."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: the page needs neither the graph nor the store.
    app = create_app(Settings(api_keys=[]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


async def test_the_page_is_served_at_the_root_under_the_security_headers(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


async def test_every_file_the_page_loads_is_served_from_the_app_itself(
    client: httpx.AsyncClient,
) -> None:
    tags = Tags()
    tags.feed((await client.get("/")).text)
    refs = [a.get("src") or a.get("href") for t, a in tags.tags if t in ("script", "link")]
    assert "web/app.js" in refs and "web/app.css" in refs
    expected_types = {".js": "text/javascript", ".css": "text/css"}
    for ref in refs:
        assert ref and not re.match(r"^(https?:)?//", ref), f"{ref} is not same-origin"
        if ref.startswith("data:"):
            continue
        asset = await client.get("/" + ref)
        assert asset.status_code == 200, ref
        assert asset.headers["content-type"].startswith(expected_types[Path(ref).suffix])


def test_the_page_needs_no_inline_script_or_handler() -> None:
    """Scripts and styles stay in files, so a stricter CSP (no 'unsafe-inline') keeps it working."""
    tags = Tags()
    tags.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert not tags.inline_script
    for tag, attrs in tags.tags:
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"<{tag}> has inline handlers {handlers}"
        assert "style" not in attrs, f"<{tag}> has an inline style"
        if tag == "script":
            assert attrs.get("src"), "a <script> without src"


def test_the_pages_files_are_package_data() -> None:
    """A non-editable install must ship every file under static/."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["lmsa.server.web"]
    package = STATIC.parent
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    assert shipped == {p for p in STATIC.rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "app.css"} <= {p.name for p in shipped}
