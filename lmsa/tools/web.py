"""Web tools: ``fetch_url`` (HTTP GET, HTML to text) and ``web_search`` (a pluggable provider).

SSRF: a URL from the model must not reach the user's router, cloud metadata endpoint or local
services. Every address a host name resolves to must be public (``ipaddress.is_global``) unless
the operator allowed it (``LMSA_FETCH_ALLOW_HOSTS``: host names, addresses or CIDR ranges). The
check is made inside the connection itself, by a network backend that resolves the name, checks
the addresses and connects to the checked address, so a redirect or a DNS answer that changes
between check and connect (rebinding) cannot slip past it. Proxies from the environment are
ignored for the same reason.

``web_search`` only exists when a provider is configured (``LMSA_SEARCH_URL`` for SearxNG, or a
host application's own :class:`SearchProvider`); without one the tool is not registered, so the
planner never sees it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpcore
import httpx
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from lmsa.tools.factory import make_tool

USER_AGENT = "lmsa/0.1 (+local assistant)"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")


class Blocked(httpx.TransportError):
    """A destination the SSRF policy refuses."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries and routes to (mapped, IPv4-compatible, NAT64,
    6to4), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        # ``::`` and ``::1`` are IPv6's own unspecified and loopback addresses.
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class AddressPolicy:
    """Which destinations ``fetch_url`` may connect to."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry)

    def allows(self, host: str, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        embedded = _embedded_ipv4(ip)
        if host.lower() in self._names or any(
            candidate in net for candidate in (ip, embedded) if candidate for net in self._networks
        ):
            return True
        if embedded is not None:
            # The packet ends up at the IPv4 address, so that is the one to judge.
            ip = embedded
        return ip.is_global and not ip.is_multicast

    async def resolve(self, host: str, port: int) -> str:
        """The first address of ``host`` this policy allows; refuses if any is not allowed, so
        a name that mixes public and private answers cannot be used to reach the private one."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as error:
            raise httpx.ConnectError(f"cannot resolve {host!r}: {error.strerror}") from None
        addresses = [str(info[4][0]) for info in infos]
        refused = [a for a in addresses if not self.allows(host, a)]
        if refused or not addresses:
            shown = refused[0] if refused else "no address"
            raise Blocked(
                f"{host!r} resolves to a private, loopback or reserved address ({shown}); "
                "such addresses are refused unless allowed in LMSA_FETCH_ALLOW_HOSTS"
            )
        return addresses[0]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, to exactly the address it checked."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._policy.resolve(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise Blocked("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(policy: AddressPolicy, *, timeout: float) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; its transport keeps the httpcore pool
    # in ``_pool``. If that ever changes, fail closed rather than fetch unguarded.
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool):
        raise RuntimeError("httpx transport layout changed; cannot install the SSRF guard")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=pool._ssl_context, network_backend=_GuardedBackend(policy)
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


_BLOCKS = (
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "table",
    "ul",
    "ol",
    "dt",
    "dd",
    "hr",
    "main",
    "nav",
    "aside",
    "form",
    "figcaption",
)


def html_to_text(html: str) -> tuple[str, str]:
    """The page's title and readable text: scripts and styles dropped, one line per block,
    inline markup joined into its sentence. BeautifulSoup because real pages are rarely valid
    HTML."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "svg", "iframe", "head"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return title, "\n".join(line for line in lines if line)


class FetchUrlArgs(BaseModel):
    url: str = Field(description="An http:// or https:// URL.")
    max_chars: int = Field(
        default=20_000, ge=100, le=200_000, description="Return at most this many characters."
    )


async def fetch(
    url: str, *, policy: AddressPolicy, timeout: float, max_bytes: int, max_redirects: int = 5
) -> tuple[str, str, str]:
    """(final URL, content type, decoded body) or a ToolException saying why not."""
    async with guarded_client(policy, timeout=timeout) as client:
        current = url
        for _ in range(max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ToolException(f"Only http(s) URLs can be fetched, not {current!r}.")
            try:
                async with client.stream("GET", current) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and not kind.startswith(_TEXT_TYPES):
                        raise ToolException(f"{current} is {kind}, not text; it was not fetched.")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            del body[max_bytes:]
                            break
                    if response.status_code >= 400:
                        raise ToolException(f"{current} answered HTTP {response.status_code}.")
                    encoding = response.encoding or "utf-8"
                    return current, kind, bytes(body).decode(encoding, errors="replace")
            except Blocked as error:
                raise ToolException(f"Refused {current}: {error}.") from None
            except httpx.TimeoutException:
                raise ToolException(f"{current} did not answer within {timeout:g} s.") from None
            except httpx.HTTPError as error:
                raise ToolException(f"Could not fetch {current}: {error}.") from None
        raise ToolException(f"{url} redirected more than {max_redirects} times.")


def make_fetch_url_tool(
    *, allow_hosts: Sequence[str] = (), timeout: float = 15.0, max_bytes: int = 2_000_000
) -> BaseTool:
    policy = AddressPolicy(allow_hosts)

    async def run(args: FetchUrlArgs) -> str:
        final, kind, body = await fetch(
            args.url, policy=policy, timeout=timeout, max_bytes=max_bytes
        )
        title = ""
        if "html" in kind or (not kind and "<html" in body[:1000].lower()):
            title, body = html_to_text(body)
        header = f"{final}" + (f"\nTitle: {title}" if title else "")
        if len(body) > args.max_chars:
            body = body[: args.max_chars] + f"\n[... {len(body) - args.max_chars} more characters]"
        return f"{header}\n\n{body}"

    return make_tool(
        name="fetch_url",
        description=(
            "Download a web page (HTTP GET) and return its text (HTML converted to plain text). "
            "Public http(s) addresses only; size and time are limited."
        ),
        schema=FetchUrlArgs,
        capability="Read the text of a web page or document at a URL.",
        risk="read",
        arun=run,
        max_seconds=timeout * 6,
        egress=True,  # a URL can carry data out: gated after untrusted input (nodes/_approval)
    )


# --- search -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str = ""


@runtime_checkable
class SearchProvider(Protocol):
    """What ``web_search`` needs from a search engine; host apps may bring their own."""

    name: str

    async def search(self, query: str, max_results: int) -> list[SearchHit]: ...


class SearxngProvider:
    """A SearxNG instance's JSON API (``/search?format=json``; enable the json format in its
    settings). The URL is the operator's, so it is not subject to the SSRF policy."""

    name = "searxng"

    def __init__(self, base_url: str, *, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            response = await client.get(
                f"{self.base_url}/search",
                params={"q": query, "format": "json"},
                headers={"User-Agent": USER_AGENT},
            )
            response.raise_for_status()
            data = response.json()
        hits = []
        for item in data.get("results", [])[:max_results]:
            hits.append(
                SearchHit(
                    title=str(item.get("title", "")).strip(),
                    url=str(item.get("url", "")),
                    snippet=str(item.get("content", "")).strip(),
                )
            )
        return hits


class WebSearchArgs(BaseModel):
    query: str = Field(min_length=1, description="What to search for.")
    max_results: int = Field(default=5, ge=1, le=20, description="How many results.")


def make_web_search_tool(provider: SearchProvider) -> BaseTool:
    async def run(args: WebSearchArgs) -> str:
        try:
            hits = await provider.search(args.query, args.max_results)
        except httpx.HTTPError as error:
            raise ToolException(f"The search engine ({provider.name}) failed: {error}.") from None
        except ValueError as error:
            raise ToolException(f"The search engine returned unreadable data: {error}.") from None
        if not hits:
            return f"No results for {args.query!r}."
        lines = [f"Results for {args.query!r} ({provider.name}):"]
        for number, hit in enumerate(hits, 1):
            lines.append(f"{number}. {hit.title}\n   {hit.url}")
            if hit.snippet:
                lines.append(f"   {hit.snippet[:300]}")
        return "\n".join(lines)

    return make_tool(
        name="web_search",
        description="Search the web; returns titles, URLs and snippets of the top results.",
        schema=WebSearchArgs,
        capability="Find web pages about a topic.",
        risk="read",
        arun=run,
        egress=True,  # the query leaves the machine
    )
