"""The interactive API docs work without internet access: ``/docs`` (Swagger UI) and
``/redoc`` load their JavaScript and CSS from ``lmsa serve`` itself, never from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.helpers import server_env, start_server

pytestmark = pytest.mark.integration

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp_path: Path = tmp_path_factory.mktemp("docs")
    # No LLM endpoint at all: the docs must not need one either.
    running = start_server(server_env(None, tmp_path), tmp_path)
    try:
        with httpx.Client(base_url=running.url, timeout=30.0) as http:
            yield http
    finally:
        running.stop()


@pytest.mark.parametrize(("page", "needs"), [("/docs", {".js", ".css"}), ("/redoc", {".js"})])
def test_docs_pages_load_only_same_origin_assets(
    client: httpx.Client, page: str, needs: set[str]
) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assets = ASSET.findall(html.text)
    assert assets, html.text
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
    assert "http://" not in html.text and "https://" not in html.text, html.text
    suffixes = {Path(url).suffix for url in assets}
    assert needs <= suffixes, assets
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert CONTENT_TYPES[Path(url).suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url
    assert client.get("/openapi.json").status_code == 200
