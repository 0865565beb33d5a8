"""run_python's child does not inherit the parent's secrets: with or without a network
namespace, environment variables are visible to the snippet, so only a minimal set is passed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmsa.tools import Workspace, make_run_python_tool

SECRETS = {
    "LMSA_API_KEYS": "server-key-1,server-key-2",
    "LMSA_API_KEY": "lm-studio-secret",
    "LANGSMITH_API_KEY": "ls-secret",
    "OPENAI_API_KEY": "sk-secret",
}


async def test_snippet_sees_none_of_the_parents_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    out = await make_run_python_tool(Workspace(tmp_path)).ainvoke({"code": code})
    seen = json.loads(str(out).splitlines()[0])
    assert not set(SECRETS) & set(seen)
    assert not any(value in str(out) for value in SECRETS.values())
    assert "PATH" in seen  # still a usable environment


async def test_without_a_network_namespace_snippets_run_only_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.tools import ToolException

    async def no_namespace() -> None:
        return None

    monkeypatch.setattr("lmsa.tools.python_exec._network_namespace_prefix", no_namespace)
    code = "print(6 * 7)"
    with pytest.raises(ToolException, match="LMSA_PYTHON_UNISOLATED"):
        await make_run_python_tool(Workspace(tmp_path)).ainvoke({"code": code})
    allowed = make_run_python_tool(Workspace(tmp_path), allow_unisolated=True)
    out = str(await allowed.ainvoke({"code": code}))
    assert out.startswith("42") and "[no network (socket guard)]" in out
