"""(friend message, your response) pairs from the message table.

The rules, in order:

1. **Conversations.** Messages are grouped by thread. A Slack-style thread reply
   (``reply_to`` pointing at a message of the same thread) belongs to the
   sub-conversation of its parent, whose first message is the parent itself; the
   channel's main flow is its own conversation.
2. **Sessions.** Within a conversation a new session starts after a silence longer
   than ``session_gap`` (default 3 hours). Nothing is paired across sessions.
3. **Turns.** Consecutive messages of one sender within a session are one turn,
   their texts joined by newlines.
4. **Pairs.** A pair is (the turn before, the target's turn): every turn written by
   the target person whose previous turn in the same session was written by
   someone else. ``--as me`` targets me, so prompts are my friends' turns;
   ``--as NAME`` targets that friend, so prompts are mostly mine. In a group, the
   prompt is the previous turn of whoever spoke before (the message the reply
   most plausibly answers); in a Slack thread, it is the previous turn of that
   thread.
5. **Context.** Optionally the ``context_turns`` turns before the prompt, in the
   same session, oldest first.

Everything is deterministic: the same table and options give the same pairs in
the same order.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ingest.errors import UnknownPersonError
from ingest.people import ME, resolve_person

PLACEHOLDERS = {"attachment": "<attachment>", "sticker": "<sticker>", "link": "<link>"}
_URL = re.compile(r"https?://\S+")

PAIR_COLUMNS = [
    "conversation", "thread_id", "platform", "prompt_sender", "reply_sender",
    "prompt_time", "reply_time", "context", "context_senders", "prompt", "reply",
]


@dataclass(frozen=True)
class PairOptions:
    """How pairs are cut. Every command that builds pairs takes these as options."""

    session_gap: timedelta = timedelta(hours=3)  # a longer silence starts a new session
    context_turns: int = 0  # how many turns before the prompt to keep as context
    min_words: int = 1  # shortest prompt and reply kept, in words
    max_words: int | None = None  # longest prompt and reply kept, in words (None: no limit)
    attachments: str = "drop"  # "drop" attachment/sticker messages, or render a "placeholder"
    links: str = "keep"  # URLs: "keep" them, replace by a "placeholder", or "drop" link-only messages
    with_people: tuple[str, ...] = ()  # only threads with these friends (display names); () for all
    since: datetime | None = None  # only replies at or after this time (UTC)
    until: datetime | None = None  # only replies before this time (UTC)
    extra: dict = field(default_factory=dict, compare=False)


def _prepare(messages: pd.DataFrame, opts: PairOptions) -> pd.DataFrame:
    m = messages.sort_values(["thread_id", "timestamp", "seq"], kind="stable")
    m = m[["platform", "thread_id", "sender", "sender_id", "is_me", "timestamp", "text", "kind",
           "message_id", "reply_to"]].copy()
    m["text"] = m["text"].astype(str)
    nontext = m["kind"].isin(["attachment", "sticker"])
    if opts.attachments == "drop":
        m = m[~nontext]
    else:
        caption = m["text"].str.strip()
        ph = m["kind"].map(PLACEHOLDERS).fillna("")
        m.loc[nontext, "text"] = (caption + " " + ph).str.strip()[nontext]
    if opts.links == "drop":
        m = m[m["kind"] != "link"]
    elif opts.links == "placeholder":
        m["text"] = m["text"].str.replace(_URL, PLACEHOLDERS["link"], regex=True)
    m = m[m["text"].str.strip() != ""]
    if opts.with_people:
        wanted = {n.casefold() for n in opts.with_people}
        senders = m.loc[~m["is_me"], ["thread_id", "sender"]]
        threads = senders.loc[senders["sender"].str.casefold().isin(wanted), "thread_id"].unique()
        m = m[m["thread_id"].isin(threads)]

    # Slack-style threads: replies form their own conversation headed by their parent.
    m["conversation"] = m["thread_id"]
    has_parent = m["reply_to"].notna() & m["reply_to"].isin(m["message_id"])
    if has_parent.any():
        m.loc[has_parent, "conversation"] = m.loc[has_parent, "thread_id"] + "|" + m.loc[has_parent, "reply_to"]
        parents = m[m["message_id"].isin(m.loc[has_parent, "reply_to"])].copy()
        parents["conversation"] = parents["thread_id"] + "|" + parents["message_id"]
        m = pd.concat([m, parents], ignore_index=True)
    m = m.sort_values(["conversation", "timestamp"], kind="stable").reset_index(drop=True)
    return m


def turns(messages: pd.DataFrame, opts: PairOptions = PairOptions()) -> pd.DataFrame:
    """The table of turns: one row per run of one sender's messages within a session."""
    m = _prepare(messages, opts)
    if m.empty:
        return pd.DataFrame(columns=["conversation", "session", "thread_id", "platform", "sender", "sender_id",
                                     "is_me", "time", "text"])
    conv = m["conversation"].to_numpy(dtype=object)
    sender = m["sender_id"].to_numpy(dtype=object)
    ts = m["timestamp"].to_numpy(dtype="datetime64[ns]")
    new_conv = np.r_[True, conv[1:] != conv[:-1]]
    gap = np.r_[False, np.diff(ts) > np.timedelta64(opts.session_gap)]
    new_session = new_conv | gap
    m["session"] = np.cumsum(new_session)
    m["turn"] = np.cumsum(new_session | np.r_[True, sender[1:] != sender[:-1]])
    grouped = m.groupby("turn", sort=True)
    t = grouped.agg(conversation=("conversation", "first"), session=("session", "first"),
                    thread_id=("thread_id", "first"), platform=("platform", "first"), sender=("sender", "first"),
                    sender_id=("sender_id", "first"), is_me=("is_me", "first"), time=("timestamp", "first"))
    t["text"] = grouped["text"].agg("\n".join)
    return t.reset_index(drop=True)


def resolve_people(messages: pd.DataFrame, names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The friends ``--with`` names designate, resolved like ``--as`` (case-insensitive, unique prefix)."""
    out: list[str] = []
    for name in names:
        person = resolve_person(messages, name, option="--with")
        if person == ME:
            raise UnknownPersonError("--with 'me' selects every conversation",
                                     hint="name friends with --with, or leave it out for all of them")
        if person not in out:
            out.append(person)
    return tuple(out)


def build_pairs(messages: pd.DataFrame, target: str = ME, opts: PairOptions = PairOptions()) -> pd.DataFrame:
    """Pairs whose reply is written by ``target`` (``"me"`` or a friend's display name).

    Names in ``opts.with_people`` are resolved first (see :func:`resolve_people`): a name
    that designates nobody raises :class:`~ingest.errors.UnknownPersonError`.
    """
    if opts.with_people:
        opts = replace(opts, with_people=resolve_people(messages, opts.with_people))
    t = turns(messages, opts)
    if t.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    is_me = t["is_me"].to_numpy(dtype=bool)
    is_target = is_me if target == ME else (t["sender"].to_numpy(dtype=object) == target) & ~is_me
    session = t["session"].to_numpy()
    same_session = np.r_[False, session[1:] == session[:-1]]
    keep = is_target & same_session & ~np.r_[False, is_target[:-1]]
    prev = t.shift()
    idx = t.index[keep]
    pairs = pd.DataFrame({
        "conversation": t.loc[idx, "conversation"].astype(str) + "#" + t.loc[idx, "session"].astype(str),
        "thread_id": t.loc[idx, "thread_id"],
        "platform": t.loc[idx, "platform"],
        "prompt_sender": prev.loc[idx, "sender"],
        "reply_sender": t.loc[idx, "sender"],
        "prompt_time": prev.loc[idx, "time"],
        "reply_time": t.loc[idx, "time"],
        "prompt": prev.loc[idx, "text"],
        "reply": t.loc[idx, "text"],
    })
    contexts, senders = [], []
    for i in idx:
        ctx, who = [], []
        j = i - 2
        while len(ctx) < opts.context_turns and j >= 0 and t.at[j, "session"] == t.at[i, "session"]:
            ctx.append(t.at[j, "text"])
            who.append(t.at[j, "sender"])
            j -= 1
        contexts.append(ctx[::-1])
        senders.append(who[::-1])
    pairs["context"] = contexts
    pairs["context_senders"] = senders

    words_p = pairs["prompt"].str.split().str.len()
    words_r = pairs["reply"].str.split().str.len()
    ok = (words_p >= opts.min_words) & (words_r >= opts.min_words)
    if opts.max_words:
        ok &= (words_p <= opts.max_words) & (words_r <= opts.max_words)
    if opts.since is not None:
        ok &= pairs["reply_time"] >= _utc(opts.since)
    if opts.until is not None:
        ok &= pairs["reply_time"] < _utc(opts.until)
    pairs = pairs[ok]
    return pairs[PAIR_COLUMNS].reset_index(drop=True)


def _utc(when: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(when)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def keep_context(pairs: pd.DataFrame, turns: int) -> pd.DataFrame:
    """``pairs`` with only the last ``turns`` context turns of each pair (none for 0): pairs built once
    with the longest context any reader needs, each reader keeping its own."""
    if "context" not in pairs:
        return pairs
    out = pairs.copy()
    for col in ("context", "context_senders"):
        if col in out:
            out[col] = [list(c)[-turns:] if turns and c is not None else [] for c in out[col]]
    return out


def pair_options_from_config(stored: dict):
    """``PairOptions`` back from a bot's ``config.json`` "pairs" (values may be stored as strings)."""
    kwargs = {}
    for f in fields(PairOptions):
        if f.name not in stored or f.name == "extra":
            continue
        v = stored[f.name]
        if isinstance(v, str):
            if f.name == "session_gap":
                v = _timedelta(v)
            elif f.name in ("since", "until"):
                v = None if v == "None" else datetime.fromisoformat(v)
            elif f.name in ("context_turns", "min_words", "max_words"):
                v = None if v == "None" else int(v)
            elif f.name == "with_people":
                v = tuple(ast.literal_eval(v))
        elif f.name == "session_gap" and isinstance(v, int | float):
            v = timedelta(seconds=v)
        elif f.name == "with_people":
            v = tuple(v)
        kwargs[f.name] = v
    return PairOptions(**kwargs)


def _timedelta(text: str) -> timedelta:
    """``str(timedelta)`` back: ``"3:00:00"``, ``"1 day, 2:30:00"``, ``"2 days, 0:00:00.5"``."""
    days = 0
    if "day" in text:
        d, text = text.split(",", 1)
        days = int(d.split()[0])
    h, m, s = text.strip().split(":")
    return timedelta(days=days, hours=int(h), minutes=int(m), seconds=float(s))
