"""The tool set an assistant gets from its settings: files, arithmetic, commands, Python, git,
the web."""

from __future__ import annotations

from lmsa.config import Settings
from lmsa.tools.calculate import make_calculate_tool
from lmsa.tools.commands import make_run_command_tool
from lmsa.tools.files import make_file_tools
from lmsa.tools.git import make_git_tools
from lmsa.tools.python_exec import make_run_python_tool
from lmsa.tools.registry import ToolRegistry
from lmsa.tools.web import (
    SearchProvider,
    SearxngProvider,
    make_fetch_url_tool,
    make_web_search_tool,
)
from lmsa.tools.workspace import Workspace


def build_registry(
    settings: Settings, *, search_provider: SearchProvider | None = None
) -> ToolRegistry:
    """Every built-in tool bound to the settings' workspace and limits. ``web_search`` is only
    included with a provider (``search_provider`` or ``settings.search_url``), so a planner is
    never offered a tool that cannot work."""
    workspace = Workspace(settings.workspace)
    tools = [
        *make_file_tools(workspace),
        make_calculate_tool(),
        make_run_command_tool(
            workspace,
            timeout=settings.command_timeout,
            output_bytes=settings.command_output_bytes,
            allow_shell=settings.command_shell,
        ),
        make_run_python_tool(
            workspace,
            timeout=settings.python_timeout,
            memory_mb=settings.python_memory_mb,
            output_bytes=settings.command_output_bytes,
            allow_network=settings.python_network,
            allow_unisolated=settings.python_unisolated,
        ),
        *make_git_tools(
            workspace, timeout=settings.command_timeout, output_bytes=settings.command_output_bytes
        ),
        make_fetch_url_tool(
            allow_hosts=settings.fetch_allow_hosts,
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
        ),
    ]
    provider = search_provider
    if provider is None and settings.search_url:
        provider = SearxngProvider(settings.search_url, timeout=settings.fetch_timeout)
    if provider is not None:
        tools.append(make_web_search_tool(provider))
    return ToolRegistry(tools)
