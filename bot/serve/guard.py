"""Who may talk to the bot through a bridge, how often, and the order its replies go out in.

A bridge asks ``Guard.check(sender)`` before the bot reads a message: ``None`` lets it through, otherwise the
reason it is refused ("not allowed", "rate limited"). A refused message is acknowledged to the platform and gets
no reply at all (a reply, even a fixed notice, would be sent in the person's name to someone not chosen).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

NOT_ALLOWED = "not allowed"
RATE_LIMITED = "rate limited"
WINDOW = 60.0  # seconds: the rate is counted over the last minute
MAX_SENDERS = 10_000  # senders whose recent messages are remembered; the least recently seen are forgotten

Replier = Callable[[str, str], Awaitable[list[str]]]  # (conversation key, text) -> the bot's burst (bot.serve.core)


class Guard:
    """An allowlist (``None``: anyone) and a sliding-window rate limit of ``rate_per_minute`` per sender.

    Memory is bounded: at most ``max_senders`` senders are tracked (the least recently seen are evicted), each
    with at most ``rate_per_minute`` times. ``clock``: seconds, monotonic (injectable for tests)."""

    def __init__(self, allow: Iterable[str] | None, rate_per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_senders: int = MAX_SENDERS):
        self.allow = None if allow is None else frozenset(allow)
        self.rate = max(1, int(rate_per_minute))
        self.clock = clock
        self.max_senders = max_senders
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._refused: OrderedDict[str, None] = OrderedDict()  # not-allowed senders already logged once

    def check(self, sender: str) -> str | None:
        """``None`` when ``sender`` may send this message now (it is counted), else the reason it is refused."""
        if self.allow is not None and sender not in self.allow:
            return NOT_ALLOWED
        now = self.clock()
        times = self._seen.pop(sender, None)
        if times is None:
            times = deque()
        while times and now - times[0] >= WINDOW:
            times.popleft()
        self._seen[sender] = times  # most recently seen last
        while len(self._seen) > self.max_senders:
            self._seen.popitem(last=False)
        if len(times) >= self.rate:
            return RATE_LIMITED
        times.append(now)
        return None

    def first_refusal(self, sender: str) -> bool:
        """Whether ``sender``'s refusal is the first one seen lately (so that it is logged once, with the id a
        person needs for the allowlist, and not once per message)."""
        if sender in self._refused:
            self._refused.move_to_end(sender)
            return False
        self._refused[sender] = None
        while len(self._refused) > self.max_senders:
            self._refused.popitem(last=False)
        return True


@dataclass
class Stats:
    """What a bridge did, counted (never what was said): shown by the server, read by the tests."""

    received: int = 0  # messages with text that the bot may read
    replied: int = 0  # messages the bot answered (at least one message sent)
    sent: int = 0  # messages sent through the platform's API
    send_errors: int = 0  # platform API calls that failed
    skipped: Counter = field(default_factory=Counter)  # events not for the bot, by kind (echo, delivery, ...)
    refused: Counter = field(default_factory=Counter)  # messages refused, by reason (not allowed, rate limited)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at a space or a line break where there is one."""
    pieces = []
    text = text.strip()
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit + 1), text.rfind(" ", 0, limit + 1))
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


class Outbox:
    """Runs each message's work (the bot's reply, then the platform calls that send it) after the message is
    acknowledged: one sender's messages in the order they came, different senders side by side, at most
    ``max_pending`` messages waiting (more are dropped and counted). Work that fails is logged by its type only.

    A webhook calls ``admit()`` and hands ``run(key, work)`` to the response's background tasks; the Telegram
    poller calls ``submit(key, work)``, which does both on a task of its own."""

    def __init__(self, log: logging.Logger, *, max_pending: int = 256):
        self.log = log
        self.max_pending = max_pending
        self.pending = 0
        self.dropped = 0
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()

    def admit(self) -> bool:
        """Whether there is room for one more message; when not, it is dropped (counted and logged)."""
        if self.pending >= self.max_pending:
            self.dropped += 1
            self.log.warning("too many messages waiting for the bot: one was dropped")
            return False
        return True

    async def run(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        """Runs ``work()`` after the earlier work for ``key`` (the lock is first come, first served). What
        it holds is taken here and given back when it ends, so work that never starts (a response that could
        not be sent, a cancelled task) leaves nothing behind."""
        self.pending += 1
        self._users[key] = self._users.get(key, 0) + 1
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failing message must not stop the others, nor the server
            self.log.warning("a reply failed (%s)", type(exc).__name__)
        finally:
            self.pending -= 1
            self._users[key] -= 1
            if not self._users[key]:  # nobody waits on this key's lock: forget it (bounded memory)
                del self._users[key], self._locks[key]

    def submit(self, key: str, work: Callable[[], Awaitable[None]]) -> bool:
        """``admit`` and ``run`` on a task of its own; False (nothing scheduled) when too many wait."""
        if not self.admit():
            return False
        task = asyncio.get_running_loop().create_task(self.run(key, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def close(self, grace: float = 5.0) -> None:
        """Lets the work submitted finish for up to ``grace`` seconds, then cancels the rest (the poller,
        stopping: a reply being sent is not cut in the middle of its burst)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()

    async def drain(self) -> None:
        """Waits for the work submitted so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
