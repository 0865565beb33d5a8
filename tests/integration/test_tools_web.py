"""fetch_url and web_search against real HTTP servers on loopback.

Loopback is exactly what the SSRF guard refuses by default, so these tests both configure the
allowance (``allow_hosts``) to reach their own server and prove the refusal without it. No test
here connects anywhere but 127.0.0.1 / ::1; private-range refusals are checked on the address
policy alone, without sending a packet.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from langchain_core.tools import ToolException

from lmsa.tools import SearxngProvider, make_fetch_url_tool, make_web_search_tool
from lmsa.tools.web import AddressPolicy
from tests.deps import missing

pytestmark = pytest.mark.integration

PAGE = b"""<!doctype html><html><head><title>Test Page</title>
<style>body { color: red }</style><script>alert('x')</script></head>
<body><nav>Menu</nav><h1>Hello from loopback</h1><p>First paragraph.</p>
<p>Second <b>bold</b> paragraph.</p></body></html>"""


HITS: list[str] = []  # paths the loopback server was asked for, in order


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        HITS.append(self.path)
        url = urlsplit(self.path)
        if url.path == "/page":
            self._send(200, "text/html; charset=utf-8", PAGE)
        elif url.path == "/redirect":
            target = parse_qs(url.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
        elif url.path == "/big":
            self._send(200, "text/plain", b"a" * 50_000)
        elif url.path == "/slow":
            time.sleep(2)
            self._send(200, "text/plain", b"late")
        elif url.path == "/binary":
            self._send(200, "application/octet-stream", b"\x00\x01")
        elif url.path == "/missing":
            self._send(404, "text/plain", b"nope")
        elif url.path == "/search":
            query = parse_qs(url.query)
            assert query["format"] == ["json"]
            body = {
                "results": [
                    {
                        "title": f"Result {i} for {query['q'][0]}",
                        "url": f"https://r{i}.example/",
                        "content": f"snippet {i}",
                    }
                    for i in range(1, 8)
                ]
            }
            self._send(200, "application/json", json.dumps(body).encode())
        else:
            self._send(404, "text/plain", b"unknown")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    HITS.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_fetch_html_as_text_with_allowance(server: str) -> None:
    tool = make_fetch_url_tool(allow_hosts=["127.0.0.1"])
    out = await tool.ainvoke({"url": f"{server}/page"})
    lines = out.splitlines()
    assert lines[0] == f"{server}/page"
    assert lines[1] == "Title: Test Page"
    assert lines[3:] == [
        "Menu",
        "Hello from loopback",
        "First paragraph.",
        "Second bold paragraph.",
    ]
    assert "alert" not in out and "color: red" not in out


async def test_loopback_is_refused_without_allowance(server: str) -> None:
    tool = make_fetch_url_tool()
    with pytest.raises(ToolException, match="LMSA_FETCH_ALLOW_HOSTS"):
        await tool.ainvoke({"url": f"{server}/page"})


def _loopback_alias() -> str | None:
    """A host name other than ``localhost`` that resolves, offline, only to loopback: an
    /etc/hosts alias (``127.0.0.1 vm``, Debian's ``127.0.1.1 <hostname>``) or the host name."""
    candidates: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/etc/hosts").read_text(encoding="utf-8").splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) > 1 and fields[0].startswith(("127.", "::1")):
                candidates += fields[1:]
    candidates.append(socket.gethostname())
    for name in candidates:
        if name.lower() in ("localhost", "localhost.localdomain"):
            continue
        try:
            infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        except OSError:
            continue
        if infos and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos):
            return name
    return None


REFUSED_NAME = "{!r} resolves to a private, loopback or reserved address"


async def test_localhost_by_name_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ToolException, match=re.escape(REFUSED_NAME.format("localhost"))):
        await make_fetch_url_tool().ainvoke({"url": f"http://localhost:{port}/page"})
    assert HITS == [], "a refused fetch must not reach the server"
    # The same name, allowed by name, does reach it: the refusal above was the policy's.
    allowed = make_fetch_url_tool(allow_hosts=["localhost"])
    out = await allowed.ainvoke({"url": f"http://localhost:{port}/page"})
    assert "Hello from loopback" in out and HITS == ["/page"]


async def test_another_name_for_loopback_is_refused(server: str) -> None:
    alias = _loopback_alias()
    if alias is None:
        missing("no host name other than localhost resolves to loopback on this machine")
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ToolException, match=re.escape(REFUSED_NAME.format(alias))):
        await make_fetch_url_tool().ainvoke({"url": f"http://{alias}:{port}/page"})
    assert HITS == []


async def test_redirect_to_a_refused_address_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    tool = make_fetch_url_tool(allow_hosts=["127.0.0.1"])
    target = f"http://[::1]:{port}/page"
    with pytest.raises(ToolException, match=r"Refused http://\[::1\]"):
        await tool.ainvoke({"url": f"{server}/redirect?to={target}"})
    # An allowed redirect is followed.
    out = await tool.ainvoke({"url": f"{server}/redirect?to=/page"})
    assert out.startswith(f"{server}/page")


async def test_scheme_size_type_status_and_time_limits(server: str) -> None:
    tool = make_fetch_url_tool(allow_hosts=["127.0.0.0/8"], max_bytes=10_000, timeout=0.5)
    with pytest.raises(ToolException, match="Only http"):
        await tool.ainvoke({"url": "file:///etc/passwd"})
    big = await tool.ainvoke({"url": f"{server}/big", "max_chars": 200_000})
    assert big.count("a") == 10_000
    with pytest.raises(ToolException, match="not text"):
        await tool.ainvoke({"url": f"{server}/binary"})
    with pytest.raises(ToolException, match="HTTP 404"):
        await tool.ainvoke({"url": f"{server}/missing"})
    with pytest.raises(ToolException, match="did not answer"):
        await tool.ainvoke({"url": f"{server}/slow"})


def test_address_policy_without_connecting() -> None:
    policy = AddressPolicy()
    for private in (
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.169.254",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fd00::1",
    ):
        assert not policy.allows("host", private), private
    assert policy.allows("host", "93.184.216.34")
    allowed = AddressPolicy(["127.0.0.0/8", "intranet.local"])
    assert allowed.allows("x", "127.0.0.5") and allowed.allows("intranet.local", "10.1.2.3")
    assert not allowed.allows("x", "10.1.2.3")


async def test_web_search_through_a_searxng_api(server: str) -> None:
    tool = make_web_search_tool(SearxngProvider(server))
    out = await tool.ainvoke({"query": "langgraph", "max_results": 3})
    lines = out.splitlines()
    assert lines[0] == "Results for 'langgraph' (searxng):"
    assert lines[1] == "1. Result 1 for langgraph"
    assert "https://r3.example/" in out and "r4.example" not in out


async def test_web_search_engine_failure_is_a_tool_error(server: str) -> None:
    tool = make_web_search_tool(SearxngProvider(f"{server}/missing"))
    with pytest.raises(ToolException, match="search engine"):
        await tool.ainvoke({"query": "x"})
