"""The terminal chat of ``talklike chat``: a line editor with history, slash commands, and the bot's bursts.

It drives one ``bot.chat.Conversation`` (the object the server and Python users share), so the bot reads the
turns before each message. The line editor is prompt_toolkit's, with its history in memory only: what you
type is never written to a file. Where prompt_toolkit cannot drive the terminal (stdin or stdout is not one,
TERM=dumb), lines are read with plain ``input()``.

Ctrl-D or ``/quit`` leaves (exit 0); Ctrl-C is "interrupted" and 130, as in every command: prompt_toolkit
turns the key into ``KeyboardInterrupt`` while it reads a line, the SIGINT handler of ``bot.interrupts`` does
while the bot answers, and ``handle_errors`` says the line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console

from bot import interrupts
from ingest.errors import TalklikeError

if TYPE_CHECKING:
    from bot.chat import Conversation

PROMPT = "you › "
COMMANDS = {  # name: (arguments, what it does), in the order /help lists them
    "/help": ("", "this list"),
    "/reset": ("", "forget the conversation so far (the bot reads the turns before each message)"),
    "/strategy": ("[NAME]", "switch the decoding strategy; alone: the current one and the choices"),
    "/who": ("", "whose bot this is: its folder, when it was trained, on how many pairs"),
    "/quit": ("", "leave (or Ctrl-D)"),
}


def display_name(who: str) -> str:
    """How the bot is called on the screen: "your bot" for your own, else the friend's name."""
    from ingest.people import ME

    return "your bot" if who == ME else who


@contextlib.contextmanager
def loading(what: str = "loading the bot") -> Iterator[None]:
    """A spinner on the terminal's stderr while the bot loads (nothing when stderr is not a terminal).

    It writes to a copy of file descriptor 2, taken before: ``quiet_import_keras`` points descriptor 2 at a
    temporary file while TensorFlow is imported, and the spinner must stay on the screen meanwhile."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # no real stderr (an embedding program): no spinner
        yield
        return
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as stream:
        screen = Console(file=stream, highlight=False)
        if not screen.is_terminal:
            yield
            return
        with screen.status(what):
            yield


def line_reader() -> Callable[[str], str]:
    """``read(prompt) -> line``: prompt_toolkit where it can drive the terminal, else ``input()``. Both raise
    ``EOFError`` at Ctrl-D / the end of input, and ``KeyboardInterrupt`` at Ctrl-C."""
    term = os.environ.get("TERM", "")
    if not (sys.stdin.isatty() and sys.stdout.isatty()) or term in ("", "dumb", "unknown"):
        return input
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    session: PromptSession[str] = PromptSession(history=InMemoryHistory(), enable_history_search=False)
    return lambda prompt: session.prompt(prompt)


class Repl:
    """What each line does: a slash command, or a message to the bot whose burst is printed line by line."""

    def __init__(self, conversation: Conversation, console: Console) -> None:
        self.conversation = conversation
        self.console = console
        self.name = display_name(conversation.who)  # who is typing
        self.owner = "you" if self.name == "your bot" else self.name  # whose bot it is

    def say(self, text: str, style: str = "dim") -> None:
        self.console.print(text, style=style, markup=False, highlight=False)

    def handle(self, line: str) -> bool:
        """Act on one line; False when it asks to leave."""
        text = line.strip()
        if text.startswith("/") and not text.startswith("//"):
            word, _, arg = text.partition(" ")
            return self.command(word.lower(), arg.strip())
        if text.startswith("//"):
            line = line.lstrip()[1:]  # "//text" sends "/text"
        if line.strip():
            self.send(line)
        return True

    def command(self, word: str, arg: str) -> bool:
        if word in ("/quit", "/exit"):
            return False
        if word == "/help":
            width = max(len(f"{c} {a}".strip()) for c, (a, _) in COMMANDS.items())
            for c, (a, what) in COMMANDS.items():
                self.say(f"  {f'{c} {a}'.strip():<{width}}  {what}", style="")
            self.say("  Any other line goes to the bot; start it with // to send a line that begins with /.")
        elif word == "/reset":
            self.conversation.reset()
            self.say("(the conversation is forgotten: the next message starts a new one)")
        elif word == "/strategy":
            self.strategy(arg)
        elif word == "/who":
            self.who()
        else:
            self.say(f"unknown command {word}: /help lists the commands (// sends a line starting with /)",
                     style="yellow")
        return True

    def strategy(self, name: str) -> None:
        from bot.decoding import STRATEGIES

        talk = self.conversation
        if not name:
            current = talk.strategy or f"{talk.bot.default_strategy} (the bot's default)"
            self.say(f"strategy: {current}; choices: {', '.join(STRATEGIES)}", style="")
            return
        try:
            talk.set_strategy(name)
        except TalklikeError as exc:
            self.say(f"error: {exc.one_line()}", style="red")
            return
        self.say(f"(strategy: {name})")

    def who(self) -> None:
        meta = self.conversation.bot.meta
        pairs = int(meta.get("pairs_train") or 0) + int(meta.get("pairs_validation") or 0)
        rows = [("bot of", self.owner), ("folder", str(self.conversation.bot.folder)),
                ("trained", str(meta.get("trained_at") or "unknown")),
                ("pairs", f"{pairs:,} ({int(meta.get('pairs_train') or 0):,} to train on)")]
        for key, value in rows:
            self.say(f"  {key:<8} {value}", style="")

    def send(self, text: str) -> None:
        try:
            with self.console.status(f"{self.name} is typing…"):  # transient: erased once the reply is there
                burst = self.conversation.reply(text)
        except TalklikeError as exc:  # e.g. a strategy this bot cannot use: the conversation goes on
            self.say(f"error: {exc.one_line()}", style="red")
            return
        for message in burst or [""]:
            self.console.print(f"[green]{self.conversation.who}[/green] › ", end="", highlight=False)
            self.console.print(message, markup=False, highlight=False)


def run(conversation: Conversation, console: Console, read: Callable[[str], str] | None = None) -> None:
    """Chat on the terminal until Ctrl-D or /quit; Ctrl-C raises ``KeyboardInterrupt`` for the CLI to report."""
    repl = Repl(conversation, console)
    read = read or line_reader()
    console.print(f"Chatting with the bot of [bold]{repl.owner}[/bold]. /help for the commands, Ctrl-D to leave.",
                  highlight=False)
    while True:
        interrupts.check()  # one swallowed while the bot loaded
        try:
            line = read(PROMPT)
        except EOFError:
            console.print()
            return
        except KeyboardInterrupt:
            console.print()  # "interrupted" on a line of its own
            raise
        from bot.chat import readable

        if not repl.handle(readable(line)):
            return
