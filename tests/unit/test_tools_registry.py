"""The registry: lookup, risk/capability metadata, call validation and the planner's view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from lmsa.tools import ToolCallRejected, ToolRegistry, file_tools_registry

FILE_TOOLS = [
    "combine_files",
    "delete_file",
    "edit_file",
    "file_info",
    "find_files",
    "list_dir",
    "move_file",
    "read_file",
    "search_files",
    "write_file",
]


class EchoArgs(BaseModel):
    text: str = Field(description="What to echo back.")
    times: int = Field(default=1, ge=1, le=5, description="How often.")
    mode: str = Field(default="plain", pattern="^(plain|loud)$", description="Echo style.")


def _echo(text: str, times: int = 1, mode: str = "plain") -> str:
    return text * times


def make_tool(name: str = "echo", **metadata: object) -> StructuredTool:
    return StructuredTool.from_function(
        func=_echo,
        name=name,
        description=f"{name}: repeat text (description).",
        args_schema=EchoArgs,
        metadata=dict(metadata) or None,
    )


@pytest.fixture
def registry(tmp_path: Path) -> ToolRegistry:
    return file_tools_registry(tmp_path)


# --- lookup ----------------------------------------------------------------------------------


def test_file_tools_registry_holds_the_file_tools(registry: ToolRegistry) -> None:
    assert registry.names() == FILE_TOOLS
    assert len(registry) == len(FILE_TOOLS)
    assert "read_file" in registry
    assert "rm_rf" not in registry
    assert [t.name for t in registry.as_list()] == FILE_TOOLS


def test_get_returns_the_tool(registry: ToolRegistry) -> None:
    assert registry.get("read_file").name == "read_file"


def test_unknown_tool_message_lists_available_names(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected) as info:
        registry.get("delete_everything")
    assert str(info.value) == (
        "Unknown tool 'delete_everything'. Available: " + ", ".join(FILE_TOOLS)
    )
    with pytest.raises(ToolCallRejected, match="Unknown tool 'nope'"):
        registry.validate_call("nope", {})
    with pytest.raises(ToolCallRejected):
        registry.risk("nope")


def test_tool_call_rejected_is_a_value_error() -> None:
    assert issubclass(ToolCallRejected, ValueError)


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="Duplicate tool name 'echo'"):
        ToolRegistry([make_tool(), make_tool()])


def test_invalid_risk_is_refused() -> None:
    with pytest.raises(ValueError, match="risk 'catastrophic'"):
        ToolRegistry([make_tool(risk="catastrophic")])


def test_with_tools_returns_new_registry_and_overrides(registry: ToolRegistry) -> None:
    replacement = make_tool("read_file", risk="dangerous", capability="Replaced reader.")
    extended = registry.with_tools([make_tool("echo"), replacement])
    assert extended.names() == sorted([*FILE_TOOLS, "echo"])
    assert extended.get("read_file") is replacement
    assert extended.risk("read_file") == "dangerous"
    # The original is untouched.
    assert "echo" not in registry
    assert registry.risk("read_file") == "read"


# --- metadata --------------------------------------------------------------------------------


def test_risk_levels_of_file_tools(registry: ToolRegistry) -> None:
    risks = {name: registry.risk(name) for name in registry.names()}
    assert risks == {
        "combine_files": "write",
        "delete_file": "write",
        "file_info": "read",
        "move_file": "write",
        "edit_file": "write",
        "find_files": "read",
        "list_dir": "read",
        "read_file": "read",
        "search_files": "read",
        "write_file": "write",
    }


def test_risk_defaults_to_read() -> None:
    assert ToolRegistry([make_tool()]).risk("echo") == "read"


def test_capability_prefers_metadata_and_falls_back_to_description() -> None:
    reg = ToolRegistry([make_tool("a", capability="Say it again."), make_tool("b")])
    assert reg.capability("a") == "Say it again."
    assert reg.capability("b") == "b: repeat text (description)."


def test_every_file_tool_has_capability_async_and_described_fields(
    registry: ToolRegistry,
) -> None:
    for tool in registry.as_list():
        assert tool.metadata and tool.metadata["capability"].endswith(".")
        assert isinstance(tool, StructuredTool)
        assert tool.func is not None and tool.coroutine is not None
        assert tool.handle_tool_error is False
        schema = tool.args_schema
        assert isinstance(schema, type) and issubclass(schema, BaseModel)
        for field_name, info in schema.model_fields.items():
            assert info.description, f"{tool.name}.{field_name} lacks a description"


# --- validate_call ---------------------------------------------------------------------------


def test_validate_call_fills_defaults(registry: ToolRegistry) -> None:
    assert registry.validate_call("read_file", {"path": "a.txt"}) == {
        "path": "a.txt",
        "start_line": 1,
        "max_lines": 400,
    }
    assert registry.validate_call("list_dir", {}) == {
        "path": ".",
        "recursive": False,
        "max_entries": 200,
    }
    assert registry.validate_call("search_files", {"pattern": "x"}) == {
        "pattern": "x",
        "path": ".",
        "glob": "*",
        "regex": False,
        "case_sensitive": False,
        "max_results": 100,
    }


def test_validate_call_normalises_lax_values(registry: ToolRegistry) -> None:
    args = registry.validate_call("read_file", {"path": "a", "start_line": "3"})
    assert args["start_line"] == 3


def test_validate_call_result_is_json_serialisable(registry: ToolRegistry) -> None:
    args = registry.validate_call("write_file", {"path": "a", "content": "x"})
    assert json.loads(json.dumps(args)) == {
        "path": "a",
        "content": "x",
        "overwrite": True,
        "append": False,
    }


def test_missing_field_is_named_with_what_is_expected(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected) as info:
        registry.validate_call("write_file", {"path": "a.txt"})
    message = str(info.value)
    assert message.startswith("Invalid arguments for tool 'write_file':")
    assert "'content' is required" in message
    assert "string" in message
    assert "'path'" not in message


def test_bad_value_names_field_and_constraint(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected) as info:
        registry.validate_call("read_file", {"path": "a", "start_line": 0, "max_lines": "lots"})
    message = str(info.value)
    assert "'start_line'" in message
    assert "greater than or equal to 1" in message
    assert "got 0" in message
    assert "'max_lines'" in message
    assert "integer" in message
    assert "\n" not in message


def test_unknown_argument_is_rejected_with_valid_names(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected) as info:
        registry.validate_call("read_file", {"file_path": "a.txt"})
    message = str(info.value)
    assert "unexpected argument 'file_path'" in message
    assert "valid arguments: path, start_line, max_lines" in message
    assert "'path' is required" in message


def test_non_object_args_are_rejected(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected, match="must be a JSON object"):
        registry.validate_call("read_file", ["a.txt"])  # type: ignore[arg-type]


def test_long_bad_input_is_shortened(registry: ToolRegistry) -> None:
    with pytest.raises(ToolCallRejected) as info:
        registry.validate_call("read_file", {"path": "a", "max_lines": "x" * 500})
    assert len(str(info.value)) < 300


def test_custom_tool_schema_validation() -> None:
    reg = ToolRegistry([make_tool()])
    assert reg.validate_call("echo", {"text": "hi"}) == {"text": "hi", "times": 1, "mode": "plain"}
    with pytest.raises(ToolCallRejected, match=r"'times'.*less than or equal to 5"):
        reg.validate_call("echo", {"text": "hi", "times": 9})


def test_tool_with_raw_json_schema_gets_shallow_checks() -> None:
    raw = StructuredTool.from_function(
        func=lambda **kw: "ok",
        name="mcp_thing",
        description="A tool from elsewhere.",
        args_schema={
            "type": "object",
            "properties": {"q": {"type": "string", "description": "Query."}},
            "required": ["q"],
            "additionalProperties": False,
        },
    )
    reg = ToolRegistry([raw])
    assert reg.validate_call("mcp_thing", {"q": "x"}) == {"q": "x"}
    with pytest.raises(ToolCallRejected, match="'q' is required"):
        reg.validate_call("mcp_thing", {})
    with pytest.raises(ToolCallRejected, match="unexpected argument 'z'"):
        reg.validate_call("mcp_thing", {"q": "x", "z": 1})
    assert '"q":{"type":"string","description":"Query."}' in reg.describe_for_planner()


# --- describe_for_planner --------------------------------------------------------------------


def test_describe_contains_every_tool_and_risk(registry: ToolRegistry) -> None:
    text = registry.describe_for_planner()
    for name in registry.names():
        assert f"- {name} (risk: {registry.risk(name)})" in text
        assert registry.capability(name) in text


def test_describe_has_compact_schemas_without_titles(registry: ToolRegistry) -> None:
    text = registry.describe_for_planner()
    assert '"title"' not in text
    schemas = [
        json.loads(line.split("args: ", 1)[1]) for line in text.splitlines() if "args: " in line
    ]
    assert len(schemas) == len(registry)
    read_file = schemas[registry.names().index("read_file")]
    assert read_file["required"] == ["path"]
    assert read_file["properties"]["start_line"] == {
        "default": 1,
        "description": "First line to show (1-based).",
        "minimum": 1,
        "type": "integer",
    }
    first_args = text.split("args: ", 1)[1].splitlines()[0]
    assert first_args == json.dumps(json.loads(first_args), separators=(",", ":"))


def test_describe_is_deterministic_regardless_of_order(tmp_path: Path) -> None:
    tools = file_tools_registry(tmp_path).as_list()
    forward = ToolRegistry(tools).describe_for_planner()
    backward = ToolRegistry(reversed(tools)).describe_for_planner()
    assert forward == backward
    assert forward.index("- edit_file") < forward.index("- write_file")


def test_describe_keeps_a_field_named_title() -> None:
    class Args(BaseModel):
        title: str = Field(description="The document title.")

    tool = StructuredTool.from_function(
        func=lambda title: title, name="doc", description="Doc.", args_schema=Args
    )
    text = ToolRegistry([tool]).describe_for_planner()
    assert '"title":{"description":"The document title.","type":"string"}' in text


def test_explicit_args_leave_out_filled_in_defaults(registry: ToolRegistry) -> None:
    full = registry.validate_call("read_file", {"path": "a.txt"})
    assert full == {"path": "a.txt", "start_line": 1, "max_lines": 400}
    assert registry.explicit_args("read_file", full) == {"path": "a.txt"}
    given = registry.validate_call("read_file", {"path": "a.txt", "max_lines": 5})
    assert registry.explicit_args("read_file", given) == {"path": "a.txt", "max_lines": 5}
    assert registry.explicit_args("not_a_tool", {"x": 1}) == {"x": 1}
