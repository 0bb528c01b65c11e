"""The conversation object (bot.chat): context, strategy, quotes, and replies of concurrent conversations with one
bot computed together in batches."""

from __future__ import annotations

import threading
import time

import pytest

from bot.chat import CONTEXT_TURNS, Conversation
from ingest.errors import OptionError


class FakeBot:
    """Records each batch it is asked for; the first one waits until the others have lined up."""

    person = "Kim"

    def __init__(self, first_waits_for: int = 0):
        self.batches: list[list[tuple[str, list[str], dict]]] = []
        self.first_waits_for = first_waits_for
        self.lined_up = threading.Event()
        self.busy = threading.Lock()

    def replies(self, prompts, strategy=None, *, contexts=None, **options):
        assert self.busy.acquire(blocking=False), "two batches at once"
        try:
            if not self.batches and self.first_waits_for:
                self.lined_up.wait(10)
            self.batches.append([(p, list(c), dict(options, strategy=strategy))
                                 for p, c in zip(prompts, contexts, strict=True)])
            if any(p == "boom" for p in prompts):
                raise OptionError("the bot cannot", hint="try another")
            return [f"re: {p}\nand more" for p in prompts]
        finally:
            self.busy.release()


def test_a_conversation_passes_the_turns_before_and_remembers_both_sides():
    bot = FakeBot()
    talk = Conversation(bot)
    assert talk.reply("hi") == ["re: hi", "and more"]
    assert talk.reply("how are you?") == ["re: how are you?", "and more"]
    (_, context, _), = bot.batches[-1]
    assert context == ["hi", "re: hi\nand more"]
    for i in range(5):
        talk.reply(f"m{i}")
    assert len(bot.batches[-1][0][1]) == CONTEXT_TURNS
    talk.reset()
    talk.reply("again")
    assert bot.batches[-1][0][1] == []


def test_quotes_off_and_the_strategy_reach_the_bot_and_a_bad_strategy_is_refused():
    bot = FakeBot()
    talk = Conversation(bot, strategy="greedy", quotes=False)
    talk.reply("hi")
    assert bot.batches[-1][0][2] == {"quotes": False, "strategy": "greedy"}
    with pytest.raises(OptionError):
        talk.set_strategy("nope")
    with pytest.raises(OptionError):
        Conversation(bot, strategy="nope")


def test_concurrent_conversations_go_together_in_batches_one_batch_at_a_time():
    n = 12
    bot = FakeBot(first_waits_for=n)
    talks = [Conversation(bot) for _ in range(n)]
    results: dict[int, list[str]] = {}

    def run(i: int) -> None:
        results[i] = talks[i].reply(f"message {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    threads[0].start()
    while not bot.busy.locked():
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    time.sleep(0.5)  # the others line up behind the first batch
    bot.lined_up.set()
    for t in threads:
        t.join(10)
    assert results == {i: [f"re: message {i}", "and more"] for i in range(n)}  # each its own reply
    sizes = [len(b) for b in bot.batches]
    assert sizes[0] == 1 and sum(sizes) == n and len(sizes) < n  # the waiting ones went together


def test_a_seeded_reply_is_computed_alone_and_an_error_reaches_only_its_batch():
    bot = FakeBot(first_waits_for=3)
    out: dict[str, object] = {}

    def run(name: str, text: str, **options) -> None:
        try:
            out[name] = Conversation(bot, options=options).reply(text)
        except OptionError as exc:
            out[name] = exc

    first = threading.Thread(target=run, args=("first", "hello"))
    first.start()
    while not bot.busy.locked():
        time.sleep(0.01)
    others = [threading.Thread(target=run, args=("seeded", "x"), kwargs={"seed": 1}),
              threading.Thread(target=run, args=("bad", "boom"), kwargs={"temperature": 0.5})]
    for t in others:
        t.start()
    time.sleep(0.5)
    bot.lined_up.set()
    for t in [first, *others]:
        t.join(10)
    assert out["first"] == ["re: hello", "and more"] and out["seeded"] == ["re: x", "and more"]
    assert isinstance(out["bad"], OptionError)
    assert all(len(b) == 1 for b in bot.batches)  # a seed, and other options, never share a batch
