"""Chatting with a trained bot: the conversation object that the terminal, the server and Python users share.

    >>> from bot import load_bot
    >>> bot = load_bot("Kim", data="data")        # or "me"; data: the workspace folder (default ./data)
    >>> talk = bot.conversation()                 # one conversation: it remembers its turns
    >>> talk.reply("are you coming tonight?")     # the messages the bot sends in a row (a burst)
    ['yeah!!', 'what time']
    >>> talk.reply("8ish")                        # read with the turns before as context
    >>> talk.reset()                              # forget them

A conversation holds its turns in memory only; nothing is written anywhere.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot import interrupts
from bot.decoding import STRATEGIES
from bot.store import Bot, bot_folder
from bot.store import load_bot as load_bot_folder
from ingest.people import ME, resolve_person
from ingest.workspace import Workspace

CONTEXT_TURNS = 3  # turns before a message the bot reads in a conversation
MAX_TURNS = 40  # turns a conversation keeps (older ones are forgotten: the bot reads only the last few)
MAX_MESSAGE_CHARS = 2000  # a longer message is cut to this before the bot reads it
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
        return load_bot_folder(folder, ME)
    person = resolve_person(workspace.messages(), name)
    return load_bot_folder(bot_folder(workspace, person), person)  # (a folder holding someone else's bot is refused)


def load_bot(who: str = ME, data: str | Path | None = None) -> Bot:
    """The trained bot of ``who`` ("me", or a friend's name as ``talklike people`` shows it; a unique prefix is
    enough) in the workspace ``data`` (default: ``$TALKLIKE_DATA`` or ./data). Raises the library's typed
    errors (``NoBotError``, ``UnknownPersonError``, ...) with a one-line message and a hint."""
    return load_person(Workspace(Path(data) if data is not None else None), who)


def check_strategy(name: str) -> str:
    """``name`` if it is a decoding strategy, else the library's one-line error listing them."""
    from ingest.errors import OptionError

    if name not in STRATEGIES:
        raise OptionError(f"unknown decoding strategy {name!r}", hint=f"choose one of: {', '.join(STRATEGIES)}")
    return name


@dataclass
class Conversation:
    """One conversation with a bot: it passes the turns before each message to the bot as context.

    ``strategy``: a name of ``bot.decoding.STRATEGIES`` (None: the bot's default). ``quotes``: whether the
    hybrid strategy may answer with one of the person's past messages verbatim; off where the bot talks to
    other people (bridges, a server open beyond this machine). ``options``: decoding options
    (``bot.decoding.decoding_options``). Safe to share between threads: one reply at a time per bot.
    """

    bot: Bot
    strategy: str | None = None
    quotes: bool = True
    options: dict = field(default_factory=dict)
    turns: list[tuple[str, str]] = field(default_factory=list)  # (who, text): "user" or "bot", oldest first

    def __post_init__(self) -> None:
        if self.strategy is not None:
            check_strategy(self.strategy)

    @property
    def who(self) -> str:
        """Whose bot this is: "me" or the friend's name."""
        return self.bot.person

    def reply(self, text: str) -> list[str]:
        """The bot's reply to ``text``, as the messages it sends in a row (at least one, possibly ``""`` when the
        model has nothing to say); both turns are remembered."""
        text = readable(text)[:MAX_MESSAGE_CHARS]
        context = [t for _, t in self.turns[-CONTEXT_TURNS:]]
        options = dict(self.options)
        if not self.quotes:
            options["quotes"] = False
        with _lock(self.bot):
            reply = self.bot.reply(text, self.strategy, context=context, **options)
        messages = [m for m in reply.splitlines() if m.strip()] or [reply.strip()]
        self.turns += [("user", text), ("bot", "\n".join(messages))]
        del self.turns[:-MAX_TURNS]
        return messages

    def set_strategy(self, name: str | None) -> None:
        self.strategy = None if name is None else check_strategy(name)

    def reset(self) -> None:
        """Forget the turns so far."""
        self.turns.clear()


_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(bot: Bot) -> threading.Lock:
    """One reply at a time per bot: the model and its decoders are not made for concurrent calls."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(bot), threading.Lock())


def chat_lines(bot: Bot, lines: Iterable[str], *, strategy: str | None = None, **options) -> Iterator[str]:
    """One reply per line; an empty line gets an empty reply, and a reply of several messages is joined by
    " / ", so outputs stay aligned with inputs."""
    interrupts.check()  # before waiting for a line: an interrupt swallowed while the bot loaded
    for line in lines:
        interrupts.check()
        text = readable(line.rstrip("\n"))
        yield " / ".join(bot.reply(text, strategy, **options).splitlines()) if text.strip() else ""

