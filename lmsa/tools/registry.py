"""The tool registry: what the planner may choose from and what the executor may run.

The planner is a local model that picks tools from text and writes their arguments as JSON, so it
gets things wrong. The registry is where such mistakes are caught *before* anything runs, and the
messages it produces are addressed to the model: short, naming the tool and the offending field,
so a re-plan can fix the call instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeGuard, get_args

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from lmsa.tools.grounding import WorkspaceView, view_workspace

RiskLevel = Literal["read", "write", "dangerous"]
RISK_LEVELS: tuple[RiskLevel, ...] = get_args(RiskLevel)

_MAX_SHOWN_INPUT = 60
_MAX_SHOWN_DESCRIPTION = 80


class ToolCallRejected(ValueError):
    """A planned tool call that cannot run as written; the message is shown to the planner."""


class ToolRegistry:
    """An immutable set of tools, keyed by name.

    Risk and capability live in ``tool.metadata`` rather than in a side table so that tools
    written elsewhere (MCP adapters, host applications) carry their own classification with them.
    """

    def __init__(self, tools: Iterable[BaseTool]) -> None:
        by_name: dict[str, BaseTool] = {}
        for tool in tools:
            if tool.name in by_name:
                # Two tools under one name would make a plan step ambiguous; with_tools() is the
                # way to replace one deliberately.
                raise ValueError(f"Duplicate tool name {tool.name!r} in registry.")
            risk = (tool.metadata or {}).get("risk", "read")
            if risk not in RISK_LEVELS:
                allowed = ", ".join(RISK_LEVELS)
                raise ValueError(
                    f"Tool {tool.name!r} has risk {risk!r}; expected one of {allowed}."
                )
            by_name[tool.name] = tool
        self._tools: dict[str, BaseTool] = {name: by_name[name] for name in sorted(by_name)}

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def as_list(self) -> list[BaseTool]:
        return list(self._tools.values())

    def with_tools(self, extra: Iterable[BaseTool]) -> ToolRegistry:
        """A new registry with ``extra`` added; an extra tool replaces one of the same name."""
        merged = dict(self._tools)
        merged.update({tool.name: tool for tool in extra})
        return ToolRegistry(merged.values())

    def available(self) -> ToolRegistry:
        """The tools that can work here and now: a tool may put a callable under
        ``metadata["available"]`` (the git tools: only inside a repository). A callable that
        fails counts as available; the tool then reports its own error."""
        kept = []
        for tool in self._tools.values():
            check = (tool.metadata or {}).get("available")
            try:
                usable = not callable(check) or bool(check())
            except Exception:
                usable = True
            if usable:
                kept.append(tool)
        return self if len(kept) == len(self._tools) else ToolRegistry(kept)

    def get(self, name: str) -> BaseTool:
        try:
            return self._tools[name]
        except (KeyError, TypeError):
            raise ToolCallRejected(
                f"Unknown tool {name!r}. Available: {', '.join(self._tools)}"
            ) from None

    def risk(self, name: str) -> RiskLevel:
        risk: RiskLevel = (self.get(name).metadata or {}).get("risk", "read")
        return risk

    def assess(self, name: str, args: Mapping[str, Any]) -> tuple[RiskLevel, str]:
        """The risk of one call and a one-line reason, for the approval gate.

        A tool whose risk depends on its arguments (``run_command``) puts a callable under
        ``metadata["assess"]``; others are judged by their declared level. A callable that fails
        or answers nonsense makes the call ``write``, so it is asked about rather than run.
        """
        tool = self.get(name)
        metadata = tool.metadata or {}
        judge = metadata.get("assess")
        if callable(judge):
            try:
                risk, reason = judge(dict(args))
            except Exception as error:  # a broken judge must not decide "safe"
                return "write", f"{name}: its risk could not be judged ({error})"
            if risk not in RISK_LEVELS:
                return "write", f"{name}: unknown risk {risk!r}"
            return risk, str(reason)
        return self.risk(name), f"{name}: {self.capability(name)}"

    def capability(self, name: str) -> str:
        tool = self.get(name)
        capability = (tool.metadata or {}).get("capability")
        return str(capability) if capability else tool.description

    def validate_call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Check a planned call and return its arguments with defaults filled in.

        Unknown argument names are rejected rather than dropped: a model that writes
        ``file_path`` for ``path`` should learn the right name, not see a confusing "path is
        required". The result is JSON-able (``mode="json"``) because plans are stored in the
        checkpointed graph state, and keyed by alias so it round-trips through ``tool.invoke``.
        """
        tool = self.get(name)
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise ToolCallRejected(
                f"Invalid arguments for tool {name!r}: args must be a JSON object, "
                f"got {type(args).__name__}."
            )
        model = _model_of(tool)
        if model is None:
            schema = tool.args_schema
            json_like = schema if isinstance(schema, dict) else {}
            return _validate_against_json_schema(name, json_like, dict(args))
        problems: list[str] = []
        unexpected = _unexpected_keys(model, args)
        errors: list[Any] = []
        try:
            validated = model.model_validate(dict(args))
        except ValidationError as exc:
            errors = list(exc.errors())
            validated = None
        if errors or unexpected:
            # The schema is only needed to word the complaint; building it costs more than
            # validating, so the happy path never pays for it.
            properties: dict[str, Any] = _clean_schema(model.model_json_schema()).get(
                "properties", {}
            )
            problems.extend(_describe_error(err, properties) for err in errors)
            if unexpected:
                problems.append(_unexpected_message(unexpected, properties))
        if problems or validated is None:
            raise ToolCallRejected(f"Invalid arguments for tool {name!r}: {'; '.join(problems)}.")
        dumped: dict[str, Any] = validated.model_dump(mode="json", by_alias=True)
        return dumped

    def explicit_args(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """``args`` without those equal to their schema default: what a model is shown of a
        call. A filled-in default such as ``max_lines: 400`` next to a file's contents is read
        by a small model as a fact about the file."""
        model = _model_of(self.get(name)) if name in self else None
        if model is None:
            return dict(args)
        fields = model.model_fields
        return {
            key: value
            for key, value in args.items()
            if key not in fields or fields[key].is_required() or fields[key].default != value
        }

    def args_model(self, name: str) -> type[BaseModel] | None:
        """The pydantic model a tool's arguments validate with (``None`` for a raw JSON
        schema)."""
        return _model_of(self.get(name))

    @property
    def workspace_root(self) -> Path | None:
        """The folder the file tools work in, if the registry has any."""
        for tool in self._tools.values():
            root = (tool.metadata or {}).get("workspace_root")
            if root:
                return Path(root)
        return None

    def view_workspace(self, request: str) -> WorkspaceView | None:
        """A bounded listing of the workspace and the existing paths ``request`` names, for
        the planner; ``None`` without file tools (or when the folder is gone)."""
        root = self.workspace_root
        if root is None:
            return None
        try:
            return view_workspace(root, request)
        except (OSError, ValueError):
            return None

    def describe_briefly(self) -> str:
        """One line per tool: ``- name(arg, optional_arg?): capability``. For a planner whose
        server enforces each tool's argument schema by grammar, the full schemas would only
        lengthen the prompt."""
        lines = []
        for name, tool in self._tools.items():
            schema = _args_json_schema(tool)
            required = set(schema.get("required", []))
            args = ", ".join(
                arg if arg in required else f"{arg}?" for arg in schema.get("properties", {})
            )
            lines.append(f"- {name}({args}): {self.capability(name)}")
        return "\n".join(lines)

    def describe_for_planner(self) -> str:
        """One block per tool, in name order so the prompt (and the model's cache) is stable."""
        blocks = []
        for name, tool in self._tools.items():
            schema = _args_json_schema(tool)
            blocks.append(
                f"- {name} (risk: {self.risk(name)})\n"
                f"  {self.capability(name)}\n"
                f"  args: {json.dumps(schema, separators=(',', ':'), ensure_ascii=False)}"
            )
        return "\n".join(blocks)


def _is_model(schema: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(schema, type) and issubclass(schema, BaseModel)


def _model_of(tool: BaseTool) -> type[BaseModel] | None:
    """The pydantic model a tool validates with; ``None`` for tools that bring a raw JSON schema."""
    schema = tool.args_schema
    if _is_model(schema):
        return schema
    if isinstance(schema, dict):
        return None
    fallback = tool.get_input_schema()
    return fallback if _is_model(fallback) else None


def _args_json_schema(tool: BaseTool) -> dict[str, Any]:
    """The part of a tool's schema a planner needs: properties, required, shared definitions."""
    model = _model_of(tool)
    if model is not None:
        raw = model.model_json_schema()
    else:
        raw = tool.args_schema if isinstance(tool.args_schema, dict) else {}
    cleaned = _clean_schema(raw)
    compact: dict[str, Any] = {"properties": cleaned.get("properties", {})}
    if cleaned.get("required"):
        compact["required"] = cleaned["required"]
    if cleaned.get("$defs"):
        compact["$defs"] = cleaned["$defs"]
    return compact


def _clean_schema(node: Any, *, in_properties: bool = False) -> Any:
    """Drop pydantic's ``title`` keys, which repeat field names and cost the model tokens.

    Inside a ``properties`` mapping the keys are field names, so a field called ``title``
    survives.
    """
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and not in_properties:
                continue
            out[key] = _clean_schema(value, in_properties=key in ("properties", "$defs"))
        return out
    if isinstance(node, list):
        return [_clean_schema(item) for item in node]
    return node


def _unexpected_keys(model: type[BaseModel], args: Mapping[str, Any]) -> list[str]:
    if model.model_config.get("extra") == "allow":
        return []
    accepted: set[str] = set()
    for field_name, info in model.model_fields.items():
        accepted.add(field_name)
        if isinstance(info.alias, str):
            accepted.add(info.alias)
        if isinstance(info.validation_alias, str):
            accepted.add(info.validation_alias)
    return [str(key) for key in args if key not in accepted]


def _unexpected_message(unexpected: list[str], properties: Mapping[str, Any]) -> str:
    noun = "argument" if len(unexpected) == 1 else "arguments"
    names = ", ".join(repr(key) for key in unexpected)
    valid = ", ".join(properties) or "none"
    return f"unexpected {noun} {names} (valid arguments: {valid})"


def _describe_error(err: Mapping[str, Any], properties: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    where = ".".join(str(part) for part in loc) or "args"
    prop = properties.get(str(loc[0])) if loc else None
    if err.get("type") == "missing":
        detail = f"'{where}' is required"
        if isinstance(prop, dict):
            detail += f" ({_expected(prop, with_description=True)})"
        return detail
    expected = _expected(prop) if isinstance(prop, dict) else None
    detail = f"'{where}': {err.get('msg', 'invalid value')}, got {_short(err.get('input'))}"
    if expected:
        detail += f" (expected {expected})"
    return detail


def _expected(prop: Mapping[str, Any], *, with_description: bool = False) -> str:
    """A few words on what a field takes, from its JSON schema.

    The description is only worth its tokens for a missing field, where the model may not know
    what the field is for; for a wrong value the type says enough.
    """
    if "enum" in prop:
        kind = "one of " + ", ".join(json.dumps(v) for v in prop["enum"])
    elif "type" in prop:
        kind = str(prop["type"])
    elif "anyOf" in prop:
        kind = " or ".join(str(option.get("type", "object")) for option in prop["anyOf"])
    else:
        kind = "a value"
    description = str(prop.get("description", "")).strip().rstrip(".")
    if with_description and description:
        if len(description) > _MAX_SHOWN_DESCRIPTION:
            description = description[: _MAX_SHOWN_DESCRIPTION - 1] + "…"
        kind += f": {description}"
    return kind


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _MAX_SHOWN_INPUT:
        text = text[: _MAX_SHOWN_INPUT - 1] + "…"
    return text


def _validate_against_json_schema(
    name: str, schema: Mapping[str, Any], args: dict[str, Any]
) -> dict[str, Any]:
    """A shallow check for tools that bring a raw JSON schema (e.g. MCP adapters).

    Only required and unknown names are checked; the tool validates its own values when run,
    and pulling in a JSON-schema validator for this would be a new dependency.
    """
    properties: dict[str, Any] = dict(schema.get("properties", {}))
    problems = [
        f"'{field}' is required"
        + (
            f" ({_expected(properties[field], with_description=True)})"
            if isinstance(properties.get(field), dict)
            else ""
        )
        for field in schema.get("required", [])
        if field not in args
    ]
    if schema.get("additionalProperties", True) is False:
        unexpected = [str(key) for key in args if key not in properties]
        if unexpected:
            problems.append(_unexpected_message(unexpected, properties))
    if problems:
        raise ToolCallRejected(f"Invalid arguments for tool {name!r}: {'; '.join(problems)}.")
    return args
