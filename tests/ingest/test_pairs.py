"""Pair rules: turn merging, session gaps, both directions, groups, Slack threads, context."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from ingest import schema
from ingest.pairs import PairOptions, build_pairs, keep_context, turns

MIN = 60_000


def table(rows, *, group=False):
    """rows: (thread, sender, minute, text[, reply_to_index]). Me is "Me"."""
    recs = []
    for i, r in enumerate(rows):
        thread, sender, minute, text = r[:4]
        recs.append({"platform": "test", "source": "f", "thread_id": thread, "sender": sender,
                     "is_me": sender == "Me", "timestamp": minute * MIN, "text": text,
                     "message_id": f"m{i}", "reply_to": f"m{r[4]}" if len(r) > 4 else None, "is_group": group})
    return schema.conform(recs)


def test_consecutive_messages_of_one_sender_are_one_turn():
    t = table([("a", "Kim", 0, "hey"), ("a", "Kim", 1, "you there?"), ("a", "Me", 2, "yes"), ("a", "Me", 3, "what's up")])
    p = build_pairs(t, "me")
    assert p[["prompt", "reply"]].values.tolist() == [["hey\nyou there?", "yes\nwhat's up"]]
    assert len(turns(t)) == 2


def test_session_gap_splits_pairs():
    rows = [("a", "Kim", 0, "hey"), ("a", "Me", 5 * 60, "sorry, just saw this")]  # 5 hours later
    assert build_pairs(table(rows), "me").empty
    assert len(build_pairs(table(rows), "me", PairOptions(session_gap=timedelta(hours=6)))) == 1


def test_both_directions():
    t = table([("a", "Me", 0, "lunch?"), ("a", "Kim", 1, "sure"), ("a", "Me", 2, "great"), ("a", "Kim", 3, "see you")])
    mine = build_pairs(t, "me")
    theirs = build_pairs(t, "Kim")
    assert mine[["prompt", "reply"]].values.tolist() == [["sure", "great"]]
    assert theirs[["prompt", "reply"]].values.tolist() == [["lunch?", "sure"], ["great", "see you"]]
    assert set(theirs["reply_sender"]) == {"Kim"} and set(theirs["prompt_sender"]) == {"Me"}


def test_pairs_never_cross_threads():
    t = table([("a", "Kim", 0, "hey"), ("b", "Me", 1, "hello")])
    assert build_pairs(t, "me").empty


def test_group_reply_answers_the_previous_turn_of_another_person():
    t = table([("g", "Kim", 0, "climbing saturday?"), ("g", "Ana", 1, "count me in"), ("g", "Me", 2, "me too")],
              group=True)
    p = build_pairs(t, "me")
    assert p[["prompt_sender", "prompt", "reply"]].values.tolist() == [["Ana", "count me in", "me too"]]


def test_slack_thread_reply_pairs_with_its_thread_not_the_channel():
    rows = [("c", "Kim", 0, "deploy done?"),  # m0: thread parent
            ("c", "Ana", 1, "lunch anyone?"),  # m1: main channel
            ("c", "Me", 2, "yes, deployed", 0)]  # m2: reply in m0's thread
    p = build_pairs(table(rows, group=True), "me")
    assert p[["prompt", "reply"]].values.tolist() == [["deploy done?", "yes, deployed"]]


def test_context_turns_precede_the_prompt_in_order():
    t = table([("a", "Kim", 0, "one"), ("a", "Me", 1, "two"), ("a", "Kim", 2, "three"), ("a", "Me", 3, "four")])
    p = build_pairs(t, "me", PairOptions(context_turns=5))
    last = p.iloc[-1]
    assert last["context"] == ["one", "two"] and last["context_senders"] == ["Kim", "Me"]
    assert (last["prompt"], last["reply"]) == ("three", "four")
    one = keep_context(p, 1).iloc[-1]  # what a reader of one turn sees: the last one
    assert one["context"] == ["two"] and one["context_senders"] == ["Me"]
    assert keep_context(p, 0)["context"].map(len).sum() == 0
    assert p.iloc[-1]["context"] == ["one", "two"]  # the original is left alone


def test_attachments_dropped_or_placeholder():
    recs = table([("a", "Kim", 0, "look"), ("a", "Me", 1, "")])
    recs.loc[1, "kind"] = "attachment"
    assert build_pairs(recs, "me").empty
    p = build_pairs(recs, "me", PairOptions(attachments="placeholder"))
    assert p["reply"].tolist() == ["<attachment>"]


def test_deterministic():
    rows = [("a", "Kim" if i % 3 else "Me", i, f"m{i}") for i in range(40)]
    pd.testing.assert_frame_equal(build_pairs(table(rows), "me"), build_pairs(table(rows), "me"))
