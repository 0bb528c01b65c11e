"""Chatting with a trained bot: interactively, or one reply per input line for scripts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bot.decoding import DEFAULT_STRATEGY
from bot.store import Bot, bot_folder, load_bot
from ingest.pipeline import ME, resolve_person
from ingest.workspace import Workspace


def load_person(workspace: Workspace, name: str) -> Bot:
    """The bot of ``me`` or of the friend ``name`` designates (resolved against the workspace's people)."""
    if name.strip().lower() == ME:
        folder = bot_folder(workspace, ME)
        if not folder.exists():
            workspace.messages()  # an empty workspace says "ingest first" rather than "train first"
        return load_bot(folder)
    return load_bot(bot_folder(workspace, resolve_person(workspace.messages(), name)))


def chat_lines(bot: Bot, lines: Iterable[str], *, strategy: str = DEFAULT_STRATEGY, **options) -> Iterator[str]:
    """One reply per line; an empty line gets an empty reply, so outputs stay aligned with inputs."""
    for line in lines:
        text = line.rstrip("\n")
        yield bot.reply(text, strategy, **options) if text.strip() else ""


def interactive(bot: Bot, *, strategy: str = DEFAULT_STRATEGY, **options) -> None:
    from rich.console import Console
    from rich.prompt import Prompt

    console = Console(highlight=False)
    who = "you (as yourself)" if bot.person == ME else bot.person
    console.print(f"Chatting with the bot of [bold]{who}[/bold]. Ctrl-D or 'quit' to leave.")
    while True:
        try:
            text = Prompt.ask("[cyan]you[/cyan]", console=console)
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if text.strip().lower() in {"quit", "exit", ":q"}:
            return
        if text.strip():
            console.print(f"[green]{bot.person}[/green] › ", end="")
            console.print(bot.reply(text, strategy, **options), markup=False, highlight=False)
