"""Writes the turn's answer, streamed token by token to whoever is listening.

Streaming needs no code here: LangGraph's ``messages`` stream mode attaches a callback that makes
the chat model stream. Failures that ended the turn early are reported without an LLM call, so
the user hears about them even when the model is the thing that failed.

Output guard: credentials found in tool results are redacted before the model sees them (unless
the user named that file), so streamed tokens cannot carry them; the finished answer is then
checked for the system prompt's canary and any credential. The turn driver redacts the tokens
as they stream (:mod:`lmsa.security.stream`, armed here with this turn's secrets), and the
stored answer is the same redacted text (same message id). Calculations written out in the answer
(``a + b = c``) get their exact result the same way: small models copy numbers well and add
them badly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, SystemMessage
from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.nodes._common import last_user_text, message_text, recent_history, render_results
from lmsa.prompts import CANARY_LINE, QUARANTINE_NOTE, RESPOND_SYSTEM, RESULTS_BLOCK
from lmsa.state import AssistantState
from lmsa.tools.calculate import correct_arithmetic

if TYPE_CHECKING:
    from lmsa.security.layer import SecurityLayer


def _named_by_user(user_text: str, args: dict[str, Any]) -> bool:
    """Whether the user asked for this result's file explicitly (its name is in the request)."""
    lowered = user_text.lower()
    for value in args.values():
        if isinstance(value, str) and value.strip():
            name = value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
            if len(name) >= 3 and name in lowered:
                return True
    return False


def guard_results(
    results: list[dict[str, Any]],
    user_text: str,
    security: SecurityLayer,
    read_only: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], list[Any], list[str], list[str]]:
    """Results as the model may see them: credentials redacted unless the user named the file.
    Also returns the redacted secrets (the answer must not contain them), the values the user
    did ask for, and the sources that were quarantined upstream.

    A file read only because the request names it (the plan's grounding step) counts as asked
    for in a turn that only reads (a question about the file), not in one that changes
    something: "move config.ini to old/" names the file but does not ask what is in it.
    ``read_only`` names the tools that change nothing."""
    changing = any(result.get("tool") not in read_only for result in results)
    shown: list[dict[str, Any]] = []
    hidden: list[Any] = []
    allowed: list[str] = []
    quarantined: list[str] = []
    for result in results:
        output = result.get("output")
        if not result.get("ok") or not isinstance(output, str):
            shown.append(result)
            continue
        if security.is_quarantined(output):
            quarantined.append(f"{result['tool']} {result['step_id']}")
        secrets = security.secrets_in(output)
        if not secrets:
            shown.append(result)
        elif _named_by_user(user_text, result.get("args") or {}) and not (
            changing and result.get("grounding")
        ):
            allowed += [s.value for s in secrets]
            shown.append(result)
        else:
            hidden += secrets
            shown.append({**result, "output": security.redact(output, secrets)})
    return shown, hidden, allowed, quarantined


def make_respond(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    security = services.security
    read_only = frozenset(n for n in services.tools.names() if services.tools.risk(n) == "read")

    async def respond(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        error = state.get("error")
        results = state.get("results") or []
        if error and not results:
            return {"messages": [AIMessage(content=error)], "answer": error}
        notes = list(state.get("notes") or [])
        results, hidden, allowed, quarantined = guard_results(
            results, last_user_text(state["messages"]), security, read_only
        )
        if quarantined:
            notes.append(QUARANTINE_NOTE.format(sources=", ".join(quarantined)))
        if error:
            # Work already done is still worth reporting; the failure becomes part of the answer.
            notes.append(f"A later step failed: {error} Say so, and report what was done.")
        # No language code from the intent step: a small model mislabels languages, and the
        # user's own words are the better guide to which one to answer in.
        system = RESPOND_SYSTEM.format(
            canary=CANARY_LINE.format(canary=security.canary),
            notes=("\n\nNotes: " + " ".join(notes)) if notes else "",
            results=(
                RESULTS_BLOCK.format(
                    results=render_results(results, context.tool_output_chars, services.tools)
                )
                if results
                else ""
            ),
        )
        model = await services.llm.model()
        security.arm_stream(known_secrets=hidden, allow=allowed)
        reply = await model.ainvoke(
            [
                SystemMessage(content=system),
                *recent_history(state["messages"], context.history_turns),
            ]
        )
        written = message_text(reply)
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=written)
        answer = correct_arithmetic(written)
        verdict = security.check_output(answer, known_secrets=hidden, allow=allowed)
        if verdict.categories:
            await security.record("output", verdict, ids=security.run_ids())
        answer = verdict.redacted_text
        if answer != written:
            message = message.model_copy(update={"content": answer})
        return {"messages": [message], "answer": answer}

    return respond
