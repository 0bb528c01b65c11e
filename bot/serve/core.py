"""What the server is made of, apart from HTTP: its settings, the workspace's bots (loaded when first asked
for), the conversations it keeps (in memory only, a bounded number, forgotten when idle), and the
``replier`` that the web page, the API and the messenger bridges all reply through.

    service = Service(Settings(data=Path("data"), person="me"))
    service.load_default()                       # the --as bot, before the port is bound: errors come first
    burst = await service.replier("telegram:42", "are you coming tonight?")   # ['yeah!!', 'what time']

A reply runs in a worker thread (the model is not async), so the event loop stays free for other clients
while one waits; the bot's own lock (``bot.chat``) lets one reply at a time through per bot.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.errors import EXIT_WORKSPACE, TalklikeError

if TYPE_CHECKING:
    from bot.chat import Conversation
    from bot.store import Bot
    from ingest.workspace import Workspace

# ``await replier(conversation_key, text)``: the burst of the bot being served. The key names the conversation
# ("web:<id>", "messenger:<psid>", "telegram:<chat_id>"); bridges' conversations never quote (bridge_quotes).
Replier = Callable[[str, str], Awaitable[list[str]]]

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address (or name) of this machine only: 127.0.0.0/8, ::1, localhost."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Settings:
    """How the server runs; every limit has a default that suits a person's own machine."""

    data: Path | None = None  # the workspace (None: $TALKLIKE_DATA or ./data)
    person: str = "me"  # the bot served by default (--as): "me" or a friend's name
    host: str = "127.0.0.1"
    port: int = 8000  # 0: a free port
    token: str | None = None  # bearer token asked of every client (but /health, the page's files, webhooks)
    strategy: str | None = None  # decoding strategy (None: each bot's default)
    options: dict = field(default_factory=dict)  # decoding options (bot.decoding.decoding_options)
    quotes: bool | None = None  # verbatim quotes on the page and the API (None: on for a loopback bind only)
    bridge_quotes: bool = False  # verbatim quotes in conversations of the messenger bridges
    cors: tuple[str, ...] = ()  # origins allowed to call the API from a browser (none: CORS off)
    max_body_bytes: int = 64 * 1024  # a request body longer than this is refused (413) while it is read
    body_timeout: float = 10.0  # seconds a client has to send its whole body (408 after)
    max_message_chars: int = 2000  # a longer message is refused (422): bot.chat.MAX_MESSAGE_CHARS
    max_turns: int = 100  # messages in one OpenAI-style request
    max_conversations: int = 1000  # conversations kept in memory; the least recently used goes first
    idle_seconds: float = 3600.0  # a conversation untouched this long is forgotten
    keep_alive: float = 5.0  # seconds an idle keep-alive connection stays open (uvicorn)
    limit_concurrency: int = 200  # connections at once; more get 503 (uvicorn)
    reply_threads: int = 32  # worker threads for replies: those waiting for a busy bot go together in its next batch
    graceful_seconds: float = 5.0  # seconds in-flight requests get at shutdown
    access_log: bool = True  # "METHOD /path status" per request on stderr: no query string, no body

    @property
    def local(self) -> bool:
        return is_loopback(self.host)

    @property
    def web_quotes(self) -> bool:
        """Quotes on the page and the API: as asked, else on for a server only this machine reaches."""
        return self.local if self.quotes is None else self.quotes


class ServeError(TalklikeError):
    """The server cannot start as asked (an address in use, a host it cannot bind)."""

    exit_code = 2


class UnknownBotError(TalklikeError):
    """A request names a bot the workspace does not have (HTTP 404)."""

    exit_code = EXIT_WORKSPACE


# ---------------------------------------------------------------------------------------------------- bots
@dataclass(frozen=True)
class BotEntry:
    """A bot of the workspace, as its folder says: loaded only when asked for."""

    name: str  # "me" or the friend's exact name (meta.json "person")
    folder: Path
    created: int  # seconds since the epoch (the folder's meta.json)
    quotes_index: bool  # whether it has a reply index (the hybrid strategy)

    @property
    def default_strategy(self) -> str:
        from bot.decoding import DEFAULT_STRATEGY

        return DEFAULT_STRATEGY if DEFAULT_STRATEGY != "hybrid" or self.quotes_index else "sample"


class Bots:
    """The workspace's trained bots (``DATA/bots/<key>/meta.json``), each loaded on first use and kept."""

    def __init__(self, workspace: Workspace, default: str):
        self.workspace = workspace
        self.default = default  # the name of the default bot, once load_default has resolved it
        self._loaded: dict[str, Bot] = {}
        self._lock = threading.Lock()

    def load_default(self) -> Bot:
        """The --as bot, through the CLI's own resolution (a unique prefix is enough) and its typed errors."""
        from bot.chat import load_person

        bot = load_person(self.workspace, self.default)
        self.default = bot.person
        self._loaded[bot.person] = bot
        return bot

    def entries(self) -> list[BotEntry]:
        """Every trained bot of the workspace, the default first, then by name."""
        from ingest.workspace import read_json

        found: dict[str, BotEntry] = {}
        root = self.workspace.root / "bots"
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
        for folder in folders:
            try:
                meta = read_json(folder / "meta.json")
                created = int((folder / "meta.json").stat().st_mtime)
            except (TalklikeError, OSError):
                continue  # a folder being written, or not a bot
            person = meta.get("person") if isinstance(meta, dict) else None
            if isinstance(person, str) and person not in found:
                found[person] = BotEntry(person, folder, created, (folder / "index").is_dir())
        for name, bot in self._loaded.items():
            found.setdefault(name, BotEntry(name, bot.folder, int(time.time()), bot.index is not None))
        return sorted(found.values(), key=lambda e: (e.name != self.default, e.name.lower()))

    def display(self, name: str) -> str:
        """How the page names a bot: a friend's name, and for "me" the owner's name as the workspace has it."""
        if name != "me":
            return name
        try:
            names = self.workspace.meta().get("me") or []
        except (TalklikeError, OSError):
            names = []
        return names[0] if names and isinstance(names[0], str) else "me"

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def resolve(self, name: str | None) -> str:
        """The exact name of the bot ``name`` designates (None: the default), case-insensitively; else
        :class:`UnknownBotError` listing the bots."""
        if name is None or not name.strip():
            return self.default
        if name in self._loaded:
            return name
        names = self.names()
        wanted = name.strip().casefold()
        for candidate in names:
            if candidate.casefold() == wanted:
                return candidate
        shown = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
        raise UnknownBotError(f"no bot named {name[:80]!r}", hint=f"the bots here: {shown or 'none'}")

    def get(self, name: str) -> Bot:
        """The loaded bot ``name`` (an exact name from :meth:`resolve`); loads it the first time (seconds)."""
        from bot.store import bot_folder, load_bot

        with self._lock:  # one load per bot, even when two requests ask for it at once
            bot = self._loaded.get(name)
            if bot is None:
                bot = load_bot(bot_folder(self.workspace, name), name)
                self._loaded[name] = bot
            return bot


# ------------------------------------------------------------------------------------------- conversations
class Conversations:
    """The conversations kept in memory: at most ``limit`` (the least recently used is forgotten first), and
    none idle longer than ``idle_seconds``. Nothing is written anywhere."""

    def __init__(self, limit: int, idle_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._items: OrderedDict[str, tuple[Conversation, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Conversation]) -> Conversation:
        """The conversation ``key``, or a new one from ``make()``."""
        now = self.clock()
        with self._lock:
            self._forget_idle(now)
            item = self._items.pop(key, None)
            conversation = item[0] if item is not None else make()
            self._items[key] = (conversation, now)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
            return conversation

    def drop(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def __len__(self) -> int:
        with self._lock:
            self._forget_idle(self.clock())
            return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            self._forget_idle(self.clock())
            return key in self._items

    def _forget_idle(self, now: float) -> None:
        while self._items:
            key, (_, used) = next(iter(self._items.items()))
            if now - used <= self.idle_seconds:
                return
            del self._items[key]


# ------------------------------------------------------------------------------------------------ service
class Service:
    """The bots, the conversations and the replies, for every front of the server."""

    def __init__(self, settings: Settings, workspace: Workspace | None = None):
        from ingest.workspace import Workspace

        self.settings = settings
        self.bots = Bots(workspace or Workspace(settings.data), settings.person)
        self.conversations = Conversations(settings.max_conversations, settings.idle_seconds)
        self._limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def _in_thread(self, fn: Callable[[], list[str]]) -> list[str]:
        """``fn()`` in a worker thread of the replies' own pool: replies waiting for a busy model never take the
        threads that serve files."""
        import asyncio

        from anyio import CapacityLimiter, to_thread

        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.settings.reply_threads)
        return await to_thread.run_sync(fn, limiter=limiter)

    def load_default(self) -> Bot:
        return self.bots.load_default()

    def check_strategy(self, name: str | None) -> str | None:
        from bot.chat import check_strategy

        return None if name is None else check_strategy(name)

    async def reply(self, key: str, text: str, *, bot: str | None = None, strategy: str | None = None,
                    quotes: bool | None = None) -> tuple[str, list[str]]:
        """(the bot's exact name, its burst) for ``text`` in the conversation ``key`` of that bot."""
        name = self.bots.resolve(bot)
        strategy = self.check_strategy(strategy)
        quotes = self.settings.web_quotes if quotes is None else quotes

        def run() -> list[str]:
            model = self.bots.get(name)
            conversation = self.conversations.get(
                f"{name}\x00{key}", lambda: model.conversation(self.settings.strategy, quotes=quotes,
                                                                **self.settings.options))
            conversation.quotes = quotes
            conversation.set_strategy(strategy or self.settings.strategy)  # this request's, else the server's
            return conversation.reply(text)

        return name, await self._in_thread(run)

    async def reply_once(self, turns: list[tuple[str, str]], text: str, *, bot: str | None = None,
                         strategy: str | None = None) -> tuple[str, list[str]]:
        """A reply in a conversation the client holds (OpenAI style): ``turns`` ("user" or "bot", text) are
        the turns before; nothing is kept."""
        name = self.bots.resolve(bot)
        strategy = self.check_strategy(strategy)

        def run() -> list[str]:
            conversation = self.bots.get(name).conversation(strategy or self.settings.strategy,
                                                            quotes=self.settings.web_quotes, **self.settings.options)
            conversation.turns = list(turns)
            return conversation.reply(text)

        return name, await self._in_thread(run)

    def reset(self, key: str, *, bot: str | None = None) -> bool:
        return self.conversations.drop(f"{self.bots.resolve(bot)}\x00{key}")

    @property
    def replier(self) -> Replier:
        """``await replier(key, text)``: the default bot's burst in the conversation ``key``, without quotes
        unless ``bridge_quotes`` (what the messenger bridges call)."""

        async def replier(key: str, text: str) -> list[str]:
            return (await self.reply(key, text, quotes=self.settings.bridge_quotes))[1]

        return replier

