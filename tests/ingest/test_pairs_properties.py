"""Pair invariants, checked by hypothesis on generated chats.

Every reply is the target's; its prompt is another person's turn, earlier in the same
thread and session; context turns precede the prompt in that session; nothing crosses a
session gap; the options filter what they say; the result does not depend on row order.
A plain-Python model of the rules in ingest/pairs.py gives the exact expected pairs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import schema
from ingest.pairs import PairOptions, build_pairs

MIN_MS = 60_000
PEOPLE = ["Me", "Kim", "Ana", "Bo"]
WORDS = ["hi", "ok", "pizza", "lol", "see you", "what time", "sure thing", "no way at all"]
GAPS = [0, 1, 2, 30, 90, 200, 500]  # minutes between consecutive messages of a thread

message = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(GAPS), st.sampled_from(WORDS))
chats = st.dictionaries(st.sampled_from(["t1", "t2", "t3"]), st.lists(message, min_size=1, max_size=14),
                        min_size=1, max_size=3)
options = st.builds(
    PairOptions,
    session_gap=st.sampled_from([timedelta(minutes=60), timedelta(hours=3)]),
    context_turns=st.integers(0, 3),
    min_words=st.integers(1, 2),
    max_words=st.sampled_from([None, 2, 3]),
)
targets = st.sampled_from(["me", "Kim", "Ana"])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(SETTINGS, max_examples=20)  # for the filters, each checked against the full rules above


def to_rows(chat: dict) -> list[dict]:
    """Generated threads as message records; threads interleaved so row order is not thread order."""
    rows = []
    for thread, msgs in sorted(chat.items()):
        minute = 0
        for seq, (sender, gap, text) in enumerate(msgs):
            minute += gap
            rows.append({"thread": thread, "sender": sender, "minute": minute, "text": text, "seq": seq})
    return sorted(rows, key=lambda r: (r["minute"], r["thread"], r["seq"]))


def to_table(rows: list[dict]) -> pd.DataFrame:
    return schema.conform([{"platform": "test", "source": "f", "thread_id": r["thread"], "sender": r["sender"],
                            "is_me": r["sender"] == "Me", "timestamp": r["minute"] * MIN_MS, "text": r["text"],
                            "seq": r["seq"], "message_id": f"{r['thread']}-{r['seq']}"} for r in rows])


def model_pairs(rows: list[dict], target: str, opts: PairOptions) -> list[tuple]:
    """The rules of ingest/pairs.py written as a plain loop, for threads without Slack-style replies."""
    who = "Me" if target == "me" else target
    gap = opts.session_gap.total_seconds() / 60
    out = []
    for thread in sorted({r["thread"] for r in rows}):
        msgs = sorted((r for r in rows if r["thread"] == thread), key=lambda r: (r["minute"], r["seq"]))
        turns: list[dict] = []  # sender, session, minute, texts
        session, last = 0, None
        for r in msgs:
            if last is not None and r["minute"] - last > gap:
                session += 1
            last = r["minute"]
            if turns and turns[-1]["session"] == session and turns[-1]["sender"] == r["sender"]:
                turns[-1]["texts"].append(r["text"])
            else:
                turns.append({"sender": r["sender"], "session": session, "minute": r["minute"], "texts": [r["text"]]})
        for i in range(1, len(turns)):
            reply, prompt = turns[i], turns[i - 1]
            if reply["sender"] != who or prompt["sender"] == who or prompt["session"] != reply["session"]:
                continue
            earlier = [t for t in turns[:i - 1] if t["session"] == reply["session"]]
            context = earlier[max(0, len(earlier) - opts.context_turns):]
            p_text, r_text = "\n".join(prompt["texts"]), "\n".join(reply["texts"])
            words = (len(p_text.split()), len(r_text.split()))
            if min(words) < opts.min_words or (opts.max_words and max(words) > opts.max_words):
                continue
            out.append((thread, prompt["sender"], reply["sender"], prompt["minute"], reply["minute"],
                        ["\n".join(t["texts"]) for t in context], [t["sender"] for t in context], p_text, r_text))
    return out


def as_tuples(pairs: pd.DataFrame) -> list[tuple]:
    return [(r.thread_id, r.prompt_sender, r.reply_sender, int(r.prompt_time.value // 10**9 // 60),
             int(r.reply_time.value // 10**9 // 60), list(r.context), list(r.context_senders), r.prompt, r.reply)
            for r in pairs.itertuples()]


@SETTINGS
@given(chats, targets, options)
@example({"t1": [("Me", 0, "hi"), ("Kim", 0, "hi"), ("Ana", 0, "hi"), ("Me", 0, "hi")]}, "me",
         PairOptions(session_gap=timedelta(hours=1), context_turns=3))  # fewer earlier turns than asked for
def test_pairs_follow_the_rules(chat, target, opts):
    rows = to_rows(chat)
    pairs = build_pairs(to_table(rows), target, opts)
    who = "Me" if target == "me" else target
    # the invariants, stated directly
    assert (pairs["reply_sender"] == who).all()
    assert (pairs["prompt_sender"] != who).all()
    assert (pairs["prompt_time"] <= pairs["reply_time"]).all()
    for p in pairs.itertuples():
        assert len(p.context) == len(p.context_senders) <= opts.context_turns
        if p.context_senders:
            assert p.context_senders[-1] != p.prompt_sender  # the turn just before the prompt is someone else's
        # no silence longer than the session gap between the prompt's first message and the reply's
        thread = sorted(r["minute"] for r in rows if r["thread"] == p.thread_id)
        span = [m for m in thread if p.prompt_time.value // 10**9 // 60 <= m <= p.reply_time.value // 10**9 // 60]
        assert all(b - a <= opts.session_gap.total_seconds() / 60 for a, b in pairwise(span))
        words = (len(p.prompt.split()), len(p.reply.split()))
        assert min(words) >= opts.min_words and (opts.max_words is None or max(words) <= opts.max_words)
    # and exactly the pairs the rules give, in the same order
    assert as_tuples(pairs) == model_pairs(rows, target, opts)


@QUICK
@given(chats, targets, options, st.randoms(use_true_random=False))
def test_pairs_are_deterministic_and_independent_of_row_order(chat, target, opts, rnd):
    rows = to_rows(chat)
    first = build_pairs(to_table(rows), target, opts)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    pd.testing.assert_frame_equal(first, build_pairs(to_table(rows), target, opts))
    pd.testing.assert_frame_equal(first, build_pairs(to_table(shuffled), target, opts))


@QUICK
@given(chats, targets, st.integers(0, 1500), st.integers(0, 1500))
def test_date_range_keeps_exactly_the_replies_inside_it(chat, target, a, b):
    table = to_table(to_rows(chat))
    since, until = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=m) for m in sorted((a, b)))
    everything = build_pairs(table, target)
    inside = build_pairs(table, target, PairOptions(since=since, until=until))
    expected = everything[(everything["reply_time"] >= since) & (everything["reply_time"] < until)]
    pd.testing.assert_frame_equal(inside, expected.reset_index(drop=True))


@QUICK
@given(chats, st.sampled_from(["kim", "ANA", "Bo"]))
def test_with_keeps_only_the_threads_of_that_friend(chat, friend):
    rows = to_rows(chat)
    table = to_table(rows)
    name = {"kim": "Kim", "ANA": "Ana", "Bo": "Bo"}[friend]
    if name not in set(table["sender"]):
        return  # --with a name nobody has is an error, tested in test_export.py
    pairs = build_pairs(table, "me", PairOptions(with_people=(friend,)))
    theirs = {r["thread"] for r in rows if r["sender"] == name}
    assert set(pairs["thread_id"]) <= theirs
    everything = build_pairs(table, "me")
    assert len(pairs) == everything["thread_id"].isin(theirs).sum()
