"""The web chat page: ``GET /`` and its assets under ``/web``, a plain client of the LangGraph
Server API the same app serves (threads, runs streamed over SSE, interrupts resumed with a
command).

The page is three hand-written files (HTML, CSS, vanilla JavaScript) served as they are: no
framework and no build step, so the package ships what the browser runs, a change needs no
Node toolchain, and the whole page weighs tens of kilobytes (``benchmarks/web_page.py``) where
a framework bundle alone would weigh more. Everything loads from the app's own origin, so it
works offline and under the app's Content-Security-Policy (no inline script, no CDN). Model
text is escaped before the page's small Markdown renderer adds any tag.

The page and its assets are public, like ``/docs``: with API keys set, the page asks for one
when the API answers 401 and sends it as ``X-Api-Key``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/web"


def install_web(app: FastAPI) -> None:
    """Mount the chat page at ``/`` and its script and stylesheet at ``/web``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="web")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        # Revalidated on every load, so an upgraded server never pairs with a stale page.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
