"""Which programs can reach the network, for the approval gate's egress rule (a way out for
data once the turn has read untrusted content). Separate from the risk class: ``curl URL``
only downloads (``write``, asked from the default level up), but a URL can carry data out, so
after untrusted input it is asked about whatever ``LMSA_AUTO_APPROVE`` says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lmsa.tools.command_policy.tables import DEV_TOOLS, INTERPRETERS, NETWORK, SYSTEM_PACKAGES

# Programs whose job is talking to the network.
CLIENTS = NETWORK | frozenset(
    [
        "curl",
        "wget",
        "http",
        "https",
        "httpie",
        "xh",
        "aria2c",
        "axel",
        "lynx",
        "links",
        "w3m",
        "elinks",
        "rsync",
        "ping",
        "ping6",
        "dig",
        "nslookup",
        "host",
        "traceroute",
        "tracepath",
        "mtr",
        "whois",
        "openssl",
        "gh",
        "glab",
        "aws",
        "gcloud",
        "az",
        "gsutil",
        "rclone",
        "s3cmd",
        "kubectl",
        "helm",
    ]
)
# Subcommands that fetch or publish.
GIT_NETWORK = frozenset(
    ["clone", "fetch", "pull", "push", "submodule", "ls-remote", "remote", "archive"]
)
DEV_NETWORK = frozenset(
    [
        "install",
        "i",
        "add",
        "get",
        "update",
        "upgrade",
        "download",
        "sync",
        "fetch",
        "publish",
        "upload",
        "login",
        "lock",
        "ci",
        "exec",
        "dlx",
        "x",
        "run-script",
        "create",
    ]
)
CONTAINER_NETWORK = frozenset(["pull", "push", "login", "build", "run", "search"])
# Code handed to an interpreter on the command line that imports a network library.
NETWORK_CODE = re.compile(
    r"\b(?:import|from)\s+(?:socket|urllib\d?|http\.client|http\b|requests|httpx|aiohttp|"
    r"ftplib|smtplib|telnetlib|paramiko|websocket\w*|urllib3|pycurl)\b"
    r"|\brequire\(\s*['\"](?:https?|net|axios|node-fetch)['\"]|\bfetch\(|\bnet::http\b|"
    r"\bLWP::|\bIO::Socket\b|\bsocket\("
)


def reaches_network(name: str, args: Sequence[str]) -> bool:
    """Whether running ``name args`` can open a network connection."""
    if name in CLIENTS:
        return True
    words = [a for a in args if not a.startswith("-")]
    first = words[0] if words else ""
    if name == "git":
        return bool(set(words[:2]) & GIT_NETWORK)
    if name in ("docker", "podman", "nerdctl"):
        return first in CONTAINER_NETWORK
    if name in DEV_TOOLS or name in SYSTEM_PACKAGES:
        return first in DEV_NETWORK
    if name in INTERPRETERS:
        if "-m" in args:
            module = args[args.index("-m") + 1] if args.index("-m") + 1 < len(args) else ""
            if module.split(".")[0] in ("pip", "http", "urllib", "ensurepip", "venv", "uv"):
                return module != "venv" or "--upgrade-deps" in args
        return any(NETWORK_CODE.search(a) for a in args)
    return False
