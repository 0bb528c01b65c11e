"""Chatting with a trained bot: interactively, or one reply per input line for scripts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from bot import interrupts
from bot.store import Bot, bot_folder, load_bot
from ingest.people import ME, resolve_person
from ingest.workspace import Workspace

CONTEXT_TURNS = 3  # turns before a message the bot reads in a conversation
_SURROGATE = re.compile("[\ud800-\udfff]")


def readable(text: str) -> str:
    """``text`` with what is not Unicode made U+FFFD: bytes that were not UTF-8 (read by Python as lone
    surrogates, "surrogateescape"), and lone surrogates. The tokenizers refuse both."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that no byte made
        return _SURROGATE.sub("\ufffd", text)


def load_person(workspace: Workspace, name: str) -> Bot:
    """The bot of ``me`` or of the friend ``name`` designates (resolved against the workspace's people)."""
    if name.strip().lower() == ME:
        folder = bot_folder(workspace, ME)
        if not folder.exists():
            workspace.messages()  # an empty workspace says "ingest first" rather than "train first"
        return load_bot(folder, ME)
    person = resolve_person(workspace.messages(), name)
    return load_bot(bot_folder(workspace, person), person)  # (a folder holding someone else's bot is refused)


def chat_lines(bot: Bot, lines: Iterable[str], *, strategy: str | None = None, **options) -> Iterator[str]:
    """One reply per line; an empty line gets an empty reply, and a reply of several messages is joined by
    " / ", so outputs stay aligned with inputs."""
    interrupts.check()  # before waiting for a line: an interrupt swallowed while the bot loaded
    for line in lines:
        interrupts.check()
        text = readable(line.rstrip("\n"))
        yield " / ".join(bot.reply(text, strategy, **options).splitlines()) if text.strip() else ""


def interactive(bot: Bot, *, strategy: str | None = None, **options) -> None:
    """A conversation: the bot reads the last turns before your message (its replies included), and a reply
    of several messages is printed as several lines. Ctrl-D or "quit" leaves; Ctrl-C interrupts, as anywhere
    ("interrupted", exit 130)."""
    from rich.console import Console
    from rich.prompt import Prompt

    console = Console(highlight=False)
    who = "you (as yourself)" if bot.person == ME else bot.person
    console.print(f"Chatting with the bot of [bold]{who}[/bold]. Ctrl-D or 'quit' to leave.")
    history: list[str] = []
    while True:
        interrupts.check()
        try:
            text = Prompt.ask("[cyan]you[/cyan]", console=console)
        except EOFError:
            console.print()
            return
        except KeyboardInterrupt:
            console.print()  # "interrupted" on a line of its own
            raise
        text = readable(text)
        if text.strip().lower() in {"quit", "exit", ":q"}:
            return
        if text.strip():
            reply = bot.reply(text, strategy, context=history[-CONTEXT_TURNS:], **options)
            history += [text, reply]
            for line in reply.splitlines() or [""]:
                console.print(f"[green]{bot.person}[/green] › ", end="")
                console.print(line, markup=False, highlight=False)
