"""``lmsa``: chat with a local model, ask one question, check the setup, manage threads.

Expected failures (no LM Studio, no model loaded, Redis down) end with exit code 2 and one
sentence saying what was tried and how to fix it; a traceback means a bug in lmsa.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from lmsa.cli.local import LocalOption, local_endpoint, local_server

if TYPE_CHECKING:  # the settings (pydantic-settings) load only when a command runs, not for --help
    from lmsa.config import Settings

app = typer.Typer(
    name="lmsa",
    help="A LangGraph assistant for models served by LM Studio.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
threads_app = typer.Typer(
    help="List, inspect, fork and delete conversation threads.", no_args_is_help=True
)
app.add_typer(threads_app, name="threads")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_UNAVAILABLE = 2

VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Print each tool step's full output.")
]
ThreadOption = Annotated[
    str | None, typer.Option("--thread", "-t", help="Thread id to continue (default: new thread).")
]


class ExpectedFailure(Exception):
    """A failure the user can fix; shown as one sentence, never a traceback."""


def run() -> None:
    app()


def _fail(message: str) -> NoReturn:
    # Escaped: messages name things like "[local]" that rich would swallow as markup.
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(EXIT_UNAVAILABLE)


def _settings(**overrides: object) -> Settings:
    from lmsa.config import ConfigError, load_settings

    try:
        return load_settings(**overrides)
    except ConfigError as error:
        _fail(str(error))


def _run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    try:
        return asyncio.run(coroutine)
    except ExpectedFailure as failure:
        _fail(str(failure))
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


@asynccontextmanager
async def _assistant(settings: Settings, *, need_llm: bool = True) -> AsyncIterator[Any]:
    """A compiled assistant with the configured checkpointer, after checking the LLM endpoint
    answers, so a turn never starts against a server that is not there."""
    if not settings.workspace.is_dir():
        raise ExpectedFailure(
            f"The workspace {settings.workspace} is not a folder; set LMSA_WORKSPACE to an "
            "existing folder."
        )
    from lmsa.cli.startup import collector_paused

    probe = None
    with collector_paused():
        if need_llm:
            from lmsa.cli.startup import probe_the_only_server, refusal

            probe = await probe_the_only_server(settings)
            refused = refusal(probe) if probe is not None else None
            if refused:
                raise ExpectedFailure(refused)
        from lmsa.checkpoint.factory import open_checkpointer
        from lmsa.graphs.builder import build_assistant, make_services

        services = make_services(settings, notify=_notice)
    try:
        if need_llm:
            if probe is not None:
                services.llm.core.adopt(probe, settings.api_key)
            try:
                await services.llm.model_name()
            except Exception as error:
                _raise_expected(error, settings)
        try:
            async with open_checkpointer(settings, prune=need_llm) as checkpointer:
                with collector_paused():
                    graph = build_assistant(services).compile(
                        checkpointer=checkpointer, name="lmsa"
                    )
                yield graph
        except ExpectedFailure:
            raise
        except Exception as error:
            _raise_expected(error, settings)
    finally:
        await services.llm.aclose()


def _notice(message: str) -> None:
    # A line of its own on stderr, even when an answer is streaming on stdout.
    sys.stdout.flush()
    err.print(f"note: {message}", markup=False)


def _raise_expected(error: BaseException, settings: Settings) -> NoReturn:
    from lmsa.turns import describe_failure

    message = describe_failure(error, settings)
    if message is None:
        raise error
    raise ExpectedFailure(message) from error


# -- ask ------------------------------------------------------------------------------------


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="What to ask (or the answer to a pending question).")],
    thread: ThreadOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final state as JSON.")] = False,
    local: LocalOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run one turn and print the answer (progress on stderr when it is a terminal)."""
    with local_endpoint(_settings(), local) as settings:
        _run_async(_ask(settings, text, thread, as_json, verbose))


async def _ask(
    settings: Settings, text: str, given: str | None, as_json: bool, verbose: bool = False
) -> None:
    thread_id = given or str(uuid.uuid4())
    async with _assistant(settings) as graph:
        # Imported once the server answered (see lmsa/cli/startup.py).
        from lmsa.cli.progress import TurnProgress
        from lmsa.cli.render import jsonable
        from lmsa.cli.session import ChatSession

        if given:
            await _say_which_thread(graph, given)
        session = ChatSession(graph, thread_id, endpoint=settings.base_url)
        progress = TurnProgress(
            sys.stderr, live=sys.stderr.isatty(), verbose=verbose, answer_shown=False
        )
        try:
            async with progress:
                outcome = await session.send(text, on_event=progress.on_event)
        except ExpectedFailure:
            raise
        except Exception as error:
            _raise_expected(error, settings)
    if as_json:
        payload = {"thread_id": thread_id, "question": outcome.question, **outcome.values}
        sys.stdout.write(json.dumps(jsonable(payload), ensure_ascii=False, indent=2) + "\n")
        return
    if outcome.question:
        from lmsa.cli.session import describe_question, is_approval

        if outcome.notice:
            err.print(outcome.notice, markup=False)
        out.print(describe_question(outcome.question), markup=False)
        if is_approval(outcome.question):
            err.print(
                f"(answer with: lmsa ask --thread {thread_id} y | n [reason] | '<JSON args>')",
                markup=False,
            )
        else:
            err.print(f'(answer with: lmsa ask --thread {thread_id} "<your answer>")')
        return
    out.print(outcome.answer or "")
    if not given:
        err.print(f'(thread {thread_id}: continue with lmsa ask --thread {thread_id} "...")')


async def _say_which_thread(graph: Any, thread_id: str) -> None:
    """A mistyped --thread would otherwise start an empty thread without a word. Continuing
    a saved thread is the expected case and stays quiet (stderr keeps one line per failure)."""
    from lmsa.checkpoint.retention import thread_exists

    if not await thread_exists(graph.checkpointer, thread_id):
        err.print(
            f"new thread {thread_id} (no saved thread has this id; `lmsa threads list` shows them)",
            markup=False,
        )


# -- chat -----------------------------------------------------------------------------------

HELP = """Commands:
  /help       this help
  /new        start a new thread
  /threads    list saved threads
  /history    show this thread's messages
  /details    the last turn's tool steps with their full output
  /quit       leave (also Ctrl-D, or Ctrl-C at the prompt; Ctrl-C during a turn stops it)"""


@app.command()
def chat(
    thread: ThreadOption = None, local: LocalOption = False, verbose: VerboseOption = False
) -> None:
    """Chat with the assistant; answers stream as they are written, Ctrl-C stops a turn."""
    with local_endpoint(_settings(), local) as settings:
        _run_async(_chat(settings, thread, verbose))


async def _chat(settings: Settings, given: str | None, verbose: bool = False) -> None:
    thread_id = given or str(uuid.uuid4())
    async with _assistant(settings) as graph:
        from lmsa.cli.progress import Cancelled, chat_turn
        from lmsa.cli.session import ChatSession, describe_question, is_approval

        if given:
            await _say_which_thread(graph, given)
        session = ChatSession(graph, thread_id, endpoint=settings.base_url)
        out.print(f"lmsa - thread {thread_id} - /help for commands")
        question = await session.pending_question()
        if question:
            out.print(
                f"assistant (waiting for your answer)> {describe_question(question)}", markup=False
            )
        while True:
            approving = is_approval(question)
            try:
                text = _prompt("approve [y/n/e]> " if approving else "you> ")
                if approving and text.strip().lower() in ("e", "edit"):
                    text = _prompt("args (JSON)> ")
            except (EOFError, KeyboardInterrupt):
                out.print()
                break
            text = text.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not await _slash_command(text, session, graph):
                    break
                question = await session.pending_question()
                continue
            try:
                outcome = await chat_turn(session, text, verbose=verbose)
            except Exception as error:
                _raise_expected(error, settings)
            if isinstance(outcome, Cancelled):
                if outcome.leave:
                    break
                continue  # the thread stays at its last finished step
            question = outcome.question
    out.print(f"bye - resume with: lmsa chat --thread {session.thread_id}")


def _prompt(text: str) -> str:
    """``input`` that Ctrl-C interrupts. Under asyncio.run, Ctrl-C only cancels the main task,
    which a blocking ``input`` never notices: the keypress would seem ignored, and the next line
    typed would be swallowed by the cancellation."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals cannot be routed here anyway
        return input(text)
    try:
        return _terminal_line(text)
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminal_line(text: str) -> str:
    """A line typed at the terminal, read the way ``input`` reads it (prompt on stderr, the
    terminal's own line editing; lmsa loads no readline) but waited for in Python, a quarter
    second at a time. ``input`` blocks in C until the read is interrupted, and a Ctrl-C whose
    signal the kernel hands to another of the process's threads (the checkpointer's, a worker's)
    interrupts nothing: the keypress was ignored. Here a pending Ctrl-C raises within 0.25 s,
    whichever thread took the signal. Not a terminal (a pipe, a test): plain ``input``."""
    try:
        fd = sys.stdin.fileno()
        terminal = os.name == "posix" and os.isatty(fd) and sys.stdout.isatty()
    except (AttributeError, OSError, ValueError):
        terminal = False
    if not terminal:
        return input(text)
    sys.stdout.flush()
    sys.stderr.write(text)
    sys.stderr.flush()
    line = bytearray()
    while True:
        if not select.select([fd], [], [], 0.25)[0]:
            continue
        byte = os.read(fd, 1)  # one byte: what follows the line stays for the next prompt
        if not byte and not line:
            raise EOFError  # Ctrl-D at the start of a line, or the terminal went away
        if byte in (b"", b"\n"):
            return line.decode(sys.stdin.encoding or "utf-8", errors="replace")
        line += byte


SPEAKERS = {"human": "you", "ai": "assistant"}  # /history uses the chat's own prompt names


async def _slash_command(command: str, session: Any, graph: Any) -> bool:
    """Handles a slash command; False means leave the chat."""
    name = command.split()[0].lower()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/help":
        out.print(HELP)
    elif name == "/new":
        session.thread_id = str(uuid.uuid4())
        out.print(f"new thread {session.thread_id}")
    elif name == "/threads":
        from lmsa.cli.threads import list_threads

        for row in await list_threads(graph):
            marker = "*" if row.thread_id == session.thread_id else " "
            out.print(f"{marker} {row.thread_id}  {row.updated}  {row.preview}")
    elif name == "/details":
        from lmsa.cli.progress import details_text

        out.print(details_text(session.last_steps), markup=False)
    elif name == "/history":
        messages = await session.history()
        # A heading line, so the prompt printed before it never runs into the first message.
        count = f"{len(messages)} message{'' if len(messages) == 1 else 's'}"
        out.print(f"history of thread {session.thread_id} ({count}):", markup=False)
        for message in messages:
            content = message.content if isinstance(message.content, str) else str(message.content)
            out.print(f"{SPEAKERS.get(message.type, message.type)}> {content}", markup=False)
    else:
        out.print(f"unknown command {name}; /help lists the commands")
    return True


# -- serve ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (LMSA_SERVER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LMSA_SERVER_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (LMSA_SERVER_WORKERS).")
    ] = None,
) -> None:
    """Serve the HTTP API: OpenAI-compatible chat, threads and runs, /metrics (docs at /docs)."""
    from lmsa.cli.serve import ServeError
    from lmsa.cli.serve import serve as run_server

    overrides = {"server_host": host, "server_port": port, "server_workers": workers}
    settings = _settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        run_server(settings)
    except (ExpectedFailure, ServeError) as failure:
        _fail(str(failure))


# -- doctor ---------------------------------------------------------------------------------


@app.command()
def doctor() -> None:
    """Check the LLM endpoint(s), the model and the conversation store; print fixes."""
    from lmsa.cli.doctor import Check, run_checks, show
    from lmsa.config import ConfigError, load_settings

    try:
        checks = asyncio.run(run_checks(load_settings()))
    except ConfigError as error:
        checks = [Check("Settings", "FAIL", str(error), "Fix or unset the variable named.")]
    show(checks, out)
    if any(check.status == "FAIL" for check in checks):
        raise typer.Exit(EXIT_UNAVAILABLE)


# -- local-server (logic in lmsa/cli/local.py) ---------------------------------------------

app.command("local-server")(local_server)


# -- threads --------------------------------------------------------------------------------


@threads_app.command("list")
def threads_list() -> None:
    """Saved threads, most recent first."""
    settings = _settings()
    _run_async(_threads_list(settings))


async def _threads_list(settings: Settings) -> None:
    from lmsa.cli.threads import list_threads

    async with _assistant(settings, need_llm=False) as graph:
        rows = await list_threads(graph)
    if not rows:
        out.print("no threads yet")
    for row in rows:
        out.print(f"{row.thread_id}  {row.updated}  {row.preview}")


@threads_app.command("history")
def threads_history(thread_id: Annotated[str, typer.Argument(help="Thread id.")]) -> None:
    """The thread's checkpoints, newest first (ids usable with `threads fork`)."""
    settings = _settings()
    _run_async(_threads_history(settings, thread_id))


async def _threads_history(settings: Settings, thread_id: str) -> None:
    from lmsa.cli.threads import checkpoint_history

    async with _assistant(settings, need_llm=False) as graph:
        rows = await checkpoint_history(graph, thread_id)
    if not rows:
        raise ExpectedFailure(f"No thread {thread_id} in {_store(settings)}.")
    for row in rows:
        out.print(
            f"{row.checkpoint_id}  step {row.step:>3}  {row.created_at}  "
            f"next={','.join(row.next) or '-'}  messages={row.messages}  {row.preview}"
        )


@threads_app.command("fork")
def threads_fork(
    thread_id: Annotated[str, typer.Argument(help="Thread to fork.")],
    checkpoint: Annotated[str, typer.Option("--checkpoint", "-c", help="Checkpoint id.")],
) -> None:
    """Start a new thread from an earlier checkpoint of THREAD_ID."""
    settings = _settings()
    _run_async(_threads_fork(settings, thread_id, checkpoint))


async def _threads_fork(settings: Settings, thread_id: str, checkpoint_id: str) -> None:
    from lmsa.cli.threads import ForkError, fork_thread

    async with _assistant(settings, need_llm=False) as graph:
        try:
            new_thread = await fork_thread(graph, thread_id, checkpoint_id)
        except ForkError as error:
            raise ExpectedFailure(str(error)) from error
    out.print(new_thread)
    err.print(f"continue with: lmsa chat --thread {new_thread}")


@threads_app.command("delete")
def threads_delete(thread_id: Annotated[str, typer.Argument(help="Thread to delete.")]) -> None:
    """Delete a thread and all its checkpoints."""
    settings = _settings()
    _run_async(_threads_delete(settings, thread_id))


async def _threads_delete(settings: Settings, thread_id: str) -> None:
    from lmsa.checkpoint.retention import thread_exists

    async with _assistant(settings, need_llm=False) as graph:
        if not await thread_exists(graph.checkpointer, thread_id):
            raise ExpectedFailure(f"No thread {thread_id} in {_store(settings)}.")
        await graph.checkpointer.adelete_thread(thread_id)
    out.print(f"deleted thread {thread_id}")


@threads_app.command("prune")
def threads_prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Delete threads not updated for this long: 7d, 12h, 30m, 45s."
        ),
    ],
) -> None:
    """Delete every thread not updated within a duration."""
    from lmsa.config import parse_duration

    try:
        age = parse_duration(older_than)
    except ValueError as error:
        _fail(f"--older-than {error}.")
    settings = _settings()
    _run_async(_threads_prune(settings, age))


async def _threads_prune(settings: Settings, age: Any) -> None:
    from lmsa.checkpoint.retention import prune_threads

    async with _assistant(settings, need_llm=False) as graph:
        deleted = await prune_threads(graph.checkpointer, age)
    for thread_id in deleted:
        out.print(f"deleted thread {thread_id}")
    err.print(f"{len(deleted)} thread(s) deleted from {_store(settings)}", markup=False)


def _store(settings: Settings) -> str:
    from lmsa.checkpoint.factory import describe_checkpointer

    return describe_checkpointer(settings)


if __name__ == "__main__":
    run()
