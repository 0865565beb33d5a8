"""Tools the planner can choose and the executor can run, and the registry that holds them."""

from lmsa.tools.approval import ApprovalDecision, ApprovalRequest, needs_approval
from lmsa.tools.cache import ToolResultCache
from lmsa.tools.command_policy import CommandPolicy, CommandVerdict
from lmsa.tools.commands import make_run_command_tool
from lmsa.tools.defaults import build_registry
from lmsa.tools.files import file_tools_registry, make_file_tools
from lmsa.tools.git import make_git_tools
from lmsa.tools.python_exec import make_run_python_tool
from lmsa.tools.registry import RiskLevel, ToolCallRejected, ToolRegistry
from lmsa.tools.web import (
    SearchHit,
    SearchProvider,
    SearxngProvider,
    make_fetch_url_tool,
    make_web_search_tool,
)
from lmsa.tools.workspace import Workspace, WorkspaceEscape

__all__ = [
    "ApprovalDecision",
    "ApprovalRequest",
    "CommandPolicy",
    "CommandVerdict",
    "RiskLevel",
    "SearchHit",
    "SearchProvider",
    "SearxngProvider",
    "ToolCallRejected",
    "ToolRegistry",
    "ToolResultCache",
    "Workspace",
    "WorkspaceEscape",
    "build_registry",
    "file_tools_registry",
    "make_fetch_url_tool",
    "make_file_tools",
    "make_git_tools",
    "make_run_command_tool",
    "make_run_python_tool",
    "make_web_search_tool",
    "needs_approval",
]
