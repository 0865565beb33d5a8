"""Turns the request into tool steps, chosen by the tools' capability descriptions.

Grounding first: when the request names files that exist in the workspace, the first "plan" of
the turn is made without the model: read those files (``read_file``, through the executor, so
approval, output screening and caching apply as to any step). The model then plans with their
contents in view: a question about a named file is answered from what it says (no steps left),
an edit copies the exact text to replace, a merge copies the parts. A small model otherwise
guesses a file's contents or plans to read a file and then has nothing to act on.

A plan is checked before anything runs (known tool, arguments valid for its schema, dependencies
that exist and do not loop); a rejected plan goes back to the planner with the reasons, a bounded
number of times, because small models often fix a plan once they see the schema error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, Union

from annotated_types import MaxLen
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model, model_validator

from lmsa.context import Services
from lmsa.llm.structured import StructuredOutputError, ainvoke_structured, dumps
from lmsa.nodes._common import last_user_text, recent_history, render_results, user_requests
from lmsa.nodes.intent import (
    ANSWERED_NOT_QUESTIONED,
    SHORT_TEXT,
    asks_a_question,
    workspace_info,
)
from lmsa.nodes.plan_checks import (
    GUESSED_FILE_QUESTION,
    appends_without_repeats,
    call_key,
    confirmation_question,
    edits_as_creations,
    missing_creations,
    missing_edit_targets,
    scoped_searches,
    unchanged_edits_as_appends,
    unnamed_changes,
    unnamed_creations,
    without_changes_to,
    without_scaffolding,
)
from lmsa.prompts import (
    PLAN_EXAMPLES,
    PLAN_FEEDBACK,
    PLAN_GROUNDED,
    PLAN_RETRY,
    PLAN_SYSTEM,
)
from lmsa.state import AssistantState, WorkspaceInfo
from lmsa.tools import ToolCallRejected, ToolRegistry

MAX_STEPS = 12
MAX_GRAMMAR_STEPS = 6  # what the grammar admits; larger plans come from re-planning
MAX_GRAMMAR_STRING = 1000  # llama.cpp refuses a plan grammar with 2000 (too many repetitions)
MAX_GROUNDING_FILES = 4
GROUNDING_CHARS = 6000  # of file contents in the planner's prompt, all files together
MIN_GROUNDING_CHARS = 1000
GROUNDING_READER = "read_file"


class PlanStep(BaseModel):
    id: str = Field(description="Short unique id, e.g. 's1'.", max_length=40)
    tool: str = Field(description="Name of one of the listed tools.", max_length=80)
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments for the tool.")
    purpose: str = Field(default="", max_length=SHORT_TEXT)
    depends_on: list[str] = Field(default_factory=list, max_length=MAX_STEPS)


class Plan(BaseModel):
    reasoning: str = Field(
        default="",
        description="One short sentence on how to fulfil the request.",
        max_length=SHORT_TEXT,
    )
    answer_directly: bool = Field(description="True when no tool is needed.")
    steps: list[PlanStep] = Field(default_factory=list, max_length=MAX_STEPS)

    @model_validator(mode="before")
    @classmethod
    def _direct_when_no_steps(cls, data: Any) -> Any:
        # The grammar-constrained form has only ``steps``: none means "answer directly".
        if isinstance(data, dict) and "answer_directly" not in data:
            return {**data, "answer_directly": not data.get("steps")}
        return data


def tool_name_dependencies(plan: Plan, tools: ToolRegistry) -> Plan:
    """``depends_on`` entries that name a tool instead of a step, read as the steps that use
    that tool (none, if no other step does), and entries that name nothing in the plan
    dropped: small models write ``"depends_on": ["read_file"]`` for "after the read", or
    ``["s2"]`` copied from an example into a one-step plan, and rejecting either costs a whole
    planning round without changing what runs."""
    ids = {step.id for step in plan.steps}
    changed = False
    steps = []
    for step in plan.steps:
        depends: list[str] = []
        for dependency in step.depends_on:
            if dependency in ids:
                depends.append(dependency)
                continue
            changed = True
            if dependency in tools:
                depends += [s.id for s in plan.steps if s.tool == dependency and s.id != step.id]
        steps.append(step.model_copy(update={"depends_on": list(dict.fromkeys(depends))}))
    return plan.model_copy(update={"steps": steps}) if changed else plan


def check_plan(plan: Plan, tools: ToolRegistry) -> tuple[list[dict[str, Any]], list[str]]:
    """Validated steps, or the reasons the plan cannot run as it stands."""
    errors: list[str] = []
    steps: list[dict[str, Any]] = []
    ids = [step.id for step in plan.steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        errors.append(f"Step ids must be unique; repeated: {', '.join(duplicates)}.")
    for step in plan.steps:
        try:
            args = tools.validate_call(step.tool, step.args)
        except ToolCallRejected as rejection:
            errors.append(f"Step {step.id}: {rejection}")
            continue
        unknown = [d for d in step.depends_on if d not in ids]
        if unknown:
            errors.append(f"Step {step.id} depends on unknown step(s): {', '.join(unknown)}.")
        steps.append({**step.model_dump(), "args": args})
    if not errors and _has_cycle(plan.steps):
        errors.append(
            "The steps' depends_on form a cycle; order them so each runs after its inputs."
        )
    if plan.answer_directly and plan.steps:
        errors.append(
            "answer_directly is true but steps are given; set answer_directly to false to run "
            "the steps, or give no steps."
        )
    if not plan.answer_directly and not plan.steps:
        errors.append("The plan has no steps; give steps or set answer_directly to true.")
    return steps, errors


def grounding_plan(
    workspace: WorkspaceInfo | None, results: Sequence[dict[str, Any]], tools: ToolRegistry
) -> dict[str, Any] | None:
    """The turn's first plan when the request names existing files: read them (at most
    :data:`MAX_GROUNDING_FILES`), before the model plans anything. ``None`` when there is
    nothing to read, the registry has no reader, or steps already ran this turn."""
    if workspace is None or results or GROUNDING_READER not in tools:
        return None
    steps = []
    for number, path in enumerate(workspace["named_files"][:MAX_GROUNDING_FILES], 1):
        try:
            args = tools.validate_call(GROUNDING_READER, {"path": path})
        except ToolCallRejected:
            continue
        steps.append(
            {
                "id": f"read{number}",
                "tool": GROUNDING_READER,
                "args": args,
                "purpose": "Read a file the request names before planning.",
                "depends_on": [],
                "grounding": True,
            }
        )
    if not steps:
        return None
    return {
        "reasoning": "Read the files the request names first.",
        "answer_directly": False,
        "steps": steps,
        "grounding": True,
    }


def without_repeats(plan: Plan, results: Sequence[dict[str, Any]], tools: ToolRegistry) -> Plan:
    """The plan without reads that already succeeded this turn (same tool, same arguments once
    defaults are filled in) and whose answer nothing has changed since: after grounding, a
    small model often plans the read it was just shown, and running it again would add
    nothing. Likewise without file changes that already succeeded this turn exactly as
    planned: re-planning after a self-check, a small model plans its append or edit again,
    which would apply it twice. Nor calls that failed this turn exactly as planned, unless
    something changed since: they would fail the same way. Commands, other changes and reads
    after a write run."""

    def call(tool: str, args: Any) -> str:
        return call_key(tools, tool, args)

    def read_only(tool: str) -> bool:
        return tool in tools and tools.risk(tool) == "read"

    def file_change(tool: str) -> bool:
        return tool in tools and bool((tools.get(tool).metadata or {}).get("workspace_root"))

    done: set[str] = set()
    changed: set[str] = set()
    failed: set[str] = set()
    for result in results:
        calls = {
            call(result["tool"], args)
            for args in (result.get("args"), result.get("planned_args"))
            if args is not None
        }
        if not result.get("ok"):
            failed |= calls
            continue
        if not read_only(result["tool"]):
            done.clear()  # whatever was read before may have changed
            failed.clear()
            if file_change(result["tool"]):
                changed |= calls
        else:
            done.add(call(result["tool"], result.get("args")))
    dropped = {
        step.id
        for step in plan.steps
        if call(step.tool, step.args) in (done if read_only(step.tool) else changed) | failed
    }
    if not dropped:
        return plan
    steps = [
        step.model_copy(update={"depends_on": [d for d in step.depends_on if d not in dropped]})
        for step in plan.steps
        if step.id not in dropped
    ]
    return plan.model_copy(update={"steps": steps, "answer_directly": not steps})


def plan_examples(tools: ToolRegistry) -> str:
    """The prompt's worked examples whose tools this registry has."""
    shown = [
        f'Request: "{request}"\nReply: {reply}'
        for needed, request, reply in PLAN_EXAMPLES
        if all(name in tools for name in needed)
    ]
    return "\n\nExamples:\n" + "\n".join(shown) if shown else ""


def constrained_plan_schema(tools: ToolRegistry) -> type[BaseModel]:
    """:class:`Plan` with each step narrowed to a real call: one alternative per tool, its name
    a constant and its ``args`` that tool's own schema. Sent as the response format, the
    server's grammar then cannot produce an unknown tool or a malformed argument, which is
    most of what goes wrong in a small model's plans. Replies are still read as :class:`Plan`
    and checked by :func:`check_plan`."""
    alternatives: list[Any] = []
    for name in tools.names():
        args_model: Any = _planner_args(tools.args_model(name))
        constant: Any = Literal[name]  # type: ignore[valid-type]
        alternatives.append(
            create_model(
                f"{''.join(part.title() for part in name.split('_'))}Step",
                id=(str, Field(description="Short unique id, e.g. 's1'.", max_length=40)),
                tool=(constant, ...),
                args=(args_model, ...),
                purpose=(str, Field(default="", max_length=SHORT_TEXT)),
                depends_on=(list[str], Field(default_factory=list, max_length=MAX_STEPS)),
            )
        )
    if not alternatives:
        return Plan
    step: Any = alternatives[0] if len(alternatives) == 1 else Union[tuple(alternatives)]  # noqa: UP007
    # Only the steps: a small model that first writes a reasoning sentence and an
    # ``answer_directly`` flag talks itself into answering without tools; an empty list says
    # the same thing (see ``Plan._direct_when_no_steps``).
    return create_model("Plan", steps=(list[step], Field(max_length=MAX_GRAMMAR_STEPS)))


def _planner_args(model: type[BaseModel] | None) -> Any:
    """A tool's arguments as the grammar offers them: every required one, and the optional
    ones that are not numbers. Optional numbers are limits and paging (``max_lines``,
    ``start_line``) whose defaults are right for a first look; a small model fills them with
    nonsense such as a start line of 10**15."""
    if model is None:
        return dict[str, Any]
    kept: dict[str, Any] = {}
    changed = False
    for name, info in model.model_fields.items():
        numeric = info.annotation in (int, float)
        annotation: Any = info.annotation
        if annotation is str and not any(isinstance(m, MaxLen) for m in info.metadata):
            # A grammar-bound string must end: without a cap a small model can stay inside
            # one (a file's "content") until the token limit cuts the whole plan off.
            annotation = Annotated[str, MaxLen(MAX_GRAMMAR_STRING)]
            changed = True
        if info.is_required() or not numeric:
            kept[name] = (annotation, info)
    if not changed and len(kept) == len(model.model_fields):
        return model
    return create_model(model.__name__, **kept)


def unique_steps(plan: Plan) -> Plan:
    """The plan without repeated calls (same tool, same arguments): a small model under a
    grammar sometimes writes one call until the list is full."""
    seen: set[str] = set()
    steps = []
    for step in plan.steps:
        key = dumps([step.tool, step.args])
        if key not in seen:
            seen.add(key)
            steps.append(step)
    return plan if len(steps) == len(plan.steps) else plan.model_copy(update={"steps": steps})


def _redacted(results: Sequence[dict[str, Any]], services: Services) -> list[dict[str, Any]]:
    """Results as the planner sees them: credentials replaced, whoever asked. A plan never
    needs a secret's value, and one it cannot see it cannot send anywhere."""
    shown = []
    for result in results:
        output = result.get("output")
        if result.get("ok") and isinstance(output, str):
            result = {**result, "output": services.security.redact_secrets(output)}
        shown.append(result)
    return shown


def _redaction_copies(plan: Plan, services: Services) -> list[str]:
    """Steps that would write a redaction marker: the planner was shown ``[REDACTED:...]`` in
    place of a credential, and copying it into a file would overwrite the real value."""
    return [
        f"Step {step.id} would write a [REDACTED:...] placeholder; that value was hidden from "
        "you. Leave the text around it unchanged, or tell the user to edit that value."
        for step in plan.steps
        if step.tool in services.tools
        and services.tools.risk(step.tool) != "read"
        and services.security.carries_redaction(dumps(step.args))
    ]


def _has_cycle(steps: Sequence[PlanStep]) -> bool:
    graph = {step.id: set(step.depends_on) for step in steps}
    done: set[str] = set()
    while graph:
        ready = [node for node, deps in graph.items() if deps <= done]
        if not ready:
            return True
        for node in ready:
            done.add(node)
            del graph[node]
    return False


def make_plan(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    offers: dict[frozenset[str], tuple[str, str, type[BaseModel]]] = {}

    def offer(tools: ToolRegistry) -> tuple[str, str, type[BaseModel]]:
        """The catalogue, examples and grammar for the tools available this turn (built on
        first use, once per set: building a grammar schema costs milliseconds, and a set built
        ahead might never be offered, e.g. the git tools outside a repository)."""
        key = frozenset(tools.names())
        if key not in offers:
            offers[key] = (
                tools.describe_briefly(),
                plan_examples(tools),
                constrained_plan_schema(tools),
            )
        return offers[key]

    async def plan(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        workspace = await workspace_info(services, state)
        results = state.get("results") or []
        grounding = grounding_plan(workspace, results, services.tools)
        if grounding is not None:
            return {"plan": grounding, "workspace": workspace}
        attempts = state.get("plan_attempts", 0) + 1
        tool_catalogue, examples, grammar = offer(await asyncio.to_thread(services.tools.available))
        messages = _planner_messages(
            state,
            tool_catalogue,
            examples,
            workspace,
            context.history_turns,
            context.tool_output_chars,
            services,
        )
        try:
            proposal = await ainvoke_structured(
                services.llm,
                messages,
                Plan,
                style=context.structured_output,
                constrain_to=grammar,
            )
        except StructuredOutputError as error:
            return {"error": str(error), "plan_attempts": attempts}
        proposal = tool_name_dependencies(unique_steps(proposal), services.tools)
        proposal = without_repeats(proposal, results, services.tools)
        proposal = without_scaffolding(proposal, results, services.tools)
        requests = user_requests(state["messages"], context.history_turns)
        proposal = scoped_searches(proposal, services.tools, workspace, requests)
        proposal = edits_as_creations(proposal, services.tools, requests)
        proposal = unchanged_edits_as_appends(proposal, services.tools)
        proposal = appends_without_repeats(proposal, services.tools)
        intent = state.get("intent")
        if (intent or {}).get("intent") in ANSWERED_NOT_QUESTIONED:
            # Thanks or a question: the user asked for no change, so none is made or offered.
            unnamed = unnamed_changes(proposal, services.tools, requests)
            proposal = without_changes_to(proposal, services.tools, unnamed)
        if asks_a_question(intent, last_user_text(state["messages"])):
            # Nor is a file the user never named created to hold the answer.
            created = unnamed_creations(proposal, services.tools, requests)
            proposal = without_changes_to(proposal, services.tools, created)
        steps, errors = check_plan(proposal, services.tools)
        errors += _redaction_copies(proposal, services)
        guessed = missing_edit_targets(proposal, services.tools, requests)
        if not errors and attempts == 1:
            # Once: a model that cannot fix it should not lose the turn over it.
            errors += missing_creations(proposal, services.tools, workspace)
        if not errors:
            accepted = {**proposal.model_dump(), "steps": steps}
            unnamed = unnamed_changes(proposal, services.tools, requests)
            may_ask = state.get("clarification_rounds", 0) < context.max_clarify_rounds
            if guessed and may_ask:
                return {"plan": None, "plan_attempts": attempts, "question": GUESSED_FILE_QUESTION}
            if unnamed and may_ask:
                question = confirmation_question(proposal, unnamed)
                return {"plan": None, "plan_attempts": attempts, "question": question}
            return {"plan": accepted, "plan_attempts": attempts, "plan_feedback": []}
        feedback = [dumps(proposal.model_dump()), *errors]
        update: dict[str, Any] = {
            "plan": None,
            "plan_attempts": attempts,
            "plan_feedback": feedback,
        }
        if attempts >= context.max_plan_attempts:
            update["error"] = (
                f"The model could not produce a valid plan in {attempts} attempts; last problems: "
                + " ".join(errors)
            )
        return update

    return plan


def _planner_messages(
    state: AssistantState,
    tool_catalogue: str,
    examples: str,
    workspace: WorkspaceInfo | None,
    history_turns: int,
    output_cap: int,
    services: Services,
) -> list[AnyMessage]:
    """Everything but the conversation goes into the one system message: many local chat
    templates (Gemma's among them) reject two user messages in a row."""
    system = PLAN_SYSTEM.format(tools=tool_catalogue, examples=examples)
    if workspace is not None:
        system += "\n\n" + workspace["overview"]
    intent = state.get("intent")
    if intent:
        entities = ", ".join(intent.get("entities") or []) or "none"
        system += f"\n\nThe request was classified as {intent.get('intent')}; entities: {entities}."
    validation = state.get("validation")
    results = state.get("results") or []
    if validation and results:
        system += "\n\n" + PLAN_RETRY.format(
            missing=validation.get("missing") or "unspecified",
            retry_with=validation.get("retry_with") or "none",
            results=render_results(
                _redacted(results, services), output_cap, services.tools, raw_tables=True
            ),
        )
    elif results:
        # One budget for all the files read, however many the request names: a small model's
        # context is a few thousand tokens.
        cap = min(output_cap, max(MIN_GROUNDING_CHARS, GROUNDING_CHARS // len(results)))
        system += "\n\n" + PLAN_GROUNDED.format(
            results=render_results(
                _redacted(results, services), cap, services.tools, raw_tables=True
            ),
        )
    messages: list[AnyMessage] = [
        SystemMessage(content=system),
        *recent_history(state["messages"], history_turns),
    ]
    feedback = state.get("plan_feedback") or []
    if feedback:
        rejected, *errors = feedback
        messages += [
            AIMessage(content=rejected),
            HumanMessage(content=PLAN_FEEDBACK.format(errors="\n".join(f"- {e}" for e in errors))),
        ]
    return messages
