"""Tools the planner can choose and the executor can run, and the registry that holds them."""

from lmsa.tools.files import default_registry, make_file_tools
from lmsa.tools.registry import RiskLevel, ToolCallRejected, ToolRegistry
from lmsa.tools.workspace import Workspace, WorkspaceEscape

__all__ = [
    "RiskLevel",
    "ToolCallRejected",
    "ToolRegistry",
    "Workspace",
    "WorkspaceEscape",
    "default_registry",
    "make_file_tools",
]
