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

from bot import decoding, interrupts
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
    decoding.get(name)
    return name


@dataclass
class Conversation:
    """One conversation with a bot: it passes the turns before each message to the bot as context.

    ``strategy``: a name of ``bot.decoding.STRATEGIES`` (None: the bot's default). ``quotes``: whether the
    hybrid strategy may answer with one of the person's past messages verbatim; off where the bot talks to
    other people (bridges, a server open beyond this machine). ``options``: decoding options
    (``bot.decoding.decoding_options``). Safe to share between threads: a bot computes one batch of replies at a time (``_Batcher``).
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
        reply = _batcher(self.bot).reply(text, context, self.strategy, options)
        messages = [m for m in reply.splitlines() if m.strip()] or [reply.strip()]
        self.turns += [("user", text), ("bot", "\n".join(messages))]
        del self.turns[:-MAX_TURNS]
        return messages

    def set_strategy(self, name: str | None) -> None:
        self.strategy = None if name is None else check_strategy(name)

    def reset(self) -> None:
        """Forget the turns so far."""
        self.turns.clear()


MAX_BATCH = 8  # replies computed together, at most


@dataclass
class _Request:
    text: str
    context: list[str]
    key: tuple  # requests with equal keys can be decoded in one call
    strategy: str | None
    options: dict
    wake: threading.Event = field(default_factory=threading.Event)  # set: done, or first in line
    done: bool = False
    result: str = ""
    error: BaseException | None = None


class _Batcher:
    """The replies of one bot, one batch at a time: the model and its decoders are not made for concurrent calls,
    and the conversations that wait while a batch is computed go together in the next one (``Bot.replies``
    decodes a batch in about the time of one reply). A thread whose request is first in line computes the batch
    that holds it, then hands the line to the next waiting request's thread. A lone caller (the terminal)
    computes its own reply at once, exactly as ``Bot.reply`` would. Requests with a ``seed`` go alone, so a
    seeded reply does not depend on what else was asked at the same time."""

    def __init__(self, bot: Bot):
        self.bot = bot
        self.lock = threading.Lock()
        self.queue: list[_Request] = []
        self.busy = False

    def reply(self, text: str, context: list[str], strategy: str | None, options: dict) -> str:
        alone = options.get("seed") is not None
        key = (strategy, tuple(sorted((k, repr(v)) for k, v in options.items())), object() if alone else None)
        req = _Request(text, context, key, strategy, options)
        with self.lock:
            self.queue.append(req)
            lead = not self.busy
            self.busy = True
        if not lead:
            req.wake.wait()
        if not req.done:  # first in line: compute the batch that holds this request
            with self.lock:
                batch = [r for r in self.queue if r.key == req.key][:MAX_BATCH]
                self.queue = [r for r in self.queue if not any(r is b for b in batch)]
            try:
                self._run(batch)
            finally:
                with self.lock:
                    if self.queue:
                        self.queue[0].wake.set()  # not done: it computes the next batch
                    else:
                        self.busy = False
        if req.error is not None:
            raise req.error
        return req.result

    def _run(self, batch: list[_Request]) -> None:
        first = batch[0]
        try:
            out = self.bot.replies([r.text for r in batch], first.strategy, contexts=[r.context for r in batch],
                                   **first.options)
        except BaseException as exc:  # every request of the batch gets the error (a typed one, or an interrupt)
            for r in batch:
                r.error, r.done = exc, True
        else:
            for r, text in zip(batch, out, strict=True):
                r.result, r.done = text, True
        for r in batch:
            r.wake.set()


_BATCHERS: dict[int, _Batcher] = {}
_BATCHERS_GUARD = threading.Lock()


def _batcher(bot: Bot) -> _Batcher:
    with _BATCHERS_GUARD:
        batcher = _BATCHERS.get(id(bot))
        if batcher is None or batcher.bot is not bot:  # (an id reused by a new bot after the old one was freed)
            batcher = _BATCHERS[id(bot)] = _Batcher(bot)
        return batcher


def chat_lines(bot: Bot, lines: Iterable[str], *, strategy: str | None = None, **options) -> Iterator[str]:
    """One reply per line; an empty line gets an empty reply, and a reply of several messages is joined by
    " / ", so outputs stay aligned with inputs."""
    interrupts.check()  # before waiting for a line: an interrupt swallowed while the bot loaded
    for line in lines:
        interrupts.check()
        text = readable(line.rstrip("\n"))
        yield " / ".join(bot.reply(text, strategy, **options).splitlines()) if text.strip() else ""

