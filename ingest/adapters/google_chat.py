"""Google Chat, from Google Takeout (the successor of Hangouts, 2023 onward).

Where it comes from: takeout.google.com > Google Chat. The archive holds one folder
per conversation and one per account::

    Takeout/Google Chat/Groups/DM <id>/messages.json, group_info.json, File-....png
    Takeout/Google Chat/Groups/Space <id>/messages.json, group_info.json
    Takeout/Google Chat/Users/User <id>/user_info.json     # the owner

``group_info.json`` is ``{"name": "<space name, absent for DMs>", "members": [{"name",
"email", "user_type"}]}``, ``user_info.json`` is ``{"user": {"name", "email",
"user_type"}, "membership_info": [...]}`` and ``messages.json`` is ``{"messages": [...]}``
with records such as::

    {"creator": {"name": "Maria S Curie", "email": "mssc@science.example.org", "user_type": "Human"},
     "created_date": "Wednesday, April 15, 2015 at 12:51:41 AM UTC",
     "text": "I've heard of polymaths", "topic_id": "beJ6uN-Eb_A",
     "message_id": "1pRI-QAAAAE/beJ6uN-Eb_A/beJ6uN-Eb_A"}

Quirks handled here:
- ``created_date`` is an English string ("Monday, February 10, 2025 at 3:45:22 PM UTC");
  newer exports put U+202F (or U+00A0) before AM/PM. It is parsed here by hand, so the
  machine's locale does not matter;
- deleted messages (``message_state: DELETED``) have no creator and no text: ``unsent``;
- files without text (``attached_files``) are kept as ``attachment`` rows;
- edited messages carry ``updated_date`` and ``previous_message_versions``; ``text``
  already holds the final version, which is what is kept (at its creation time);
- the sender's identity is the e-mail address (lower-cased), the name only for show;
  ``user_type: Bot`` messages are skipped as ``bot``;
- the owner's e-mail comes from ``Users/User <id>/user_info.json`` and marks ``is_me``;
- a DM folder is one-to-one unless its members are more than two; a Space is a group.
  A DM is titled with the other member's name, a Space with its own name;
- in a Space, replies in a thread share the first message's ``topic_id``: they get the
  thread's first kept message as ``reply_to``;
- messages are sorted by time with a stable sort; the same ``message_id`` twice is kept once;
- a ``messages.json`` with an empty list (or none: ``{}``) is reported in ``empty_files``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source, json_nesting

PLATFORM = "google_chat"

_MESSAGES = re.compile(r"(?:^|/)Groups/(?P<folder>(?P<prefix>DM|Space) [^/]+)/messages\.json$")
_USER_INFO = re.compile(r"(?:^|/)Users/User [^/]+/user_info\.json$")
_ONE_URL = re.compile(r"^https?://\S+$")
_DAMAGED = "the file is damaged or cut short; download the Takeout again"

_MONTHS = {name: i for i, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), start=1)}
_MONTHS |= {name[:3]: i for name, i in _MONTHS.items()} | {"sept": 9}
# "Wednesday, April 15, 2015 at 12:51:41 AM UTC" (weekday, seconds, AM/PM and zone all optional)
_DATE = re.compile(
    r"^(?:[A-Za-z]+,\s*)?(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4})(?:\s+at|\s*,)?\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?\s*"
    r"(?:(?:UTC|GMT)(?P<offset>[+-]\d{1,2}(?::?\d{2})?)?)?$"
)


def detect(source: Source) -> bool:
    return any(_MESSAGES.search(f) for f in source.files())


def parse_date(value: object) -> int | None:
    """Epoch milliseconds of a Takeout ``created_date``, or None when it cannot be read."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(" ".join(value.replace("\u202f", " ").replace("\u00a0", " ").split()))
    if not m:
        return None
    month = _MONTHS.get(m["month"].lower())
    hour, minute, second = int(m["hour"]), int(m["minute"]), int(m["second"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    try:
        when = datetime(int(m["year"]), month or 0, int(m["day"]), hour, minute, second, tzinfo=UTC)
    except ValueError:  # no such month, day or hour
        return None
    if m["offset"]:  # "UTC+2", "GMT-05:00": local time ahead of UTC by the offset
        sign = -1 if m["offset"][0] == "-" else 1
        hours, _, minutes = m["offset"][1:].partition(":")
        if not minutes and len(hours) > 2:
            hours, minutes = hours[:-2], hours[-2:]
        when -= sign * timedelta(hours=int(hours), minutes=int(minutes or 0))
    return int(when.timestamp() * 1000)


def _object(source: Source, rel: str) -> dict:
    """A group_info.json."""
    info = _load(source, rel)
    if not isinstance(info, dict):
        raise IngestError(source.label(rel), None, "is not a JSON object",
                          hint="this is not a Google Chat group_info.json file")
    return info


def _messages(source: Source, rel: str) -> list:
    """The ``messages`` list of a messages.json (none when the key is absent)."""
    doc = _load(source, rel)
    messages = doc.get("messages", []) if isinstance(doc, dict) else None
    if not isinstance(messages, list):
        raise IngestError(source.label(rel), None, "has no 'messages' list",
                          hint="this is not a Google Chat messages.json file")
    return messages


def _load(source: Source, rel: str) -> object:
    text = source.read_text(rel)
    try:
        with json_nesting(source.label(rel)):
            return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
        problem = "ends early" if cut else f"is not valid JSON ({exc.msg})"
        raise IngestError(source.label(rel), f"line {exc.lineno} column {exc.colno}", problem,
                          hint=_DAMAGED) from None


def _email(person: object) -> str:
    email = person.get("email") if isinstance(person, dict) else None
    return email.strip().lower() if isinstance(email, str) else ""


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else ""


def read(source: Source) -> pd.DataFrame:
    groups = {}
    for rel in source.files():
        m = _MESSAGES.search(rel)
        if m:
            groups[rel] = m
    if not groups:
        raise IngestError(source.name, None, "holds no Google Chat/Groups/<DM or Space>/messages.json files",
                          hint="pass the Google Takeout folder or .zip that contains the 'Google Chat' folder")

    owners: set[str] = set()
    for rel in source.files():
        if _USER_INFO.search(rel):
            doc = _load(source, rel)
            if not isinstance(doc, dict):
                raise IngestError(source.label(rel), None, "is not a JSON object",
                                  hint="this is not a Google Chat user_info.json file")
            if _email(doc.get("user")):
                owners.add(_email(doc.get("user")))

    files = set(source.files())
    skipped: Counter = Counter()
    records: list[dict] = []
    empty: list[str] = []  # messages.json files with no message at all
    for rel in sorted(groups, key=lambda r: groups[r]["folder"]):
        folder, prefix = groups[rel]["folder"], groups[rel]["prefix"]
        info_rel = rel[: -len("messages.json")] + "group_info.json"
        info = source.attempt(_object, source, info_rel) if info_rel in files else {}
        doc = source.attempt(_messages, source, rel)
        if info is None or doc is None:  # damaged: set aside, the other groups read
            continue
        members = [m for m in info.get("members") or [] if isinstance(m, dict)] \
            if isinstance(info.get("members"), list) else []
        names = {_email(m): _text(m, "name") for m in members if _email(m) and _text(m, "name")}
        others = [_text(m, "name") or _email(m) for m in members if _email(m) not in owners]
        title = _text(info, "name") or ", ".join(n for n in others if n)

        messages = doc
        if not messages:
            empty.append(rel)
        rows, seen = [], set()
        for msg in messages:
            row = _message(msg, names, skipped)
            if row is None:
                continue
            if row["google_id"]:
                if row["google_id"] in seen:
                    skipped["duplicate"] += 1
                    continue
                seen.add(row["google_id"])
            rows.append(row)
        rows.sort(key=lambda r: r["timestamp"])  # stable: ties keep document order

        if not title:  # no group_info.json: the other people who wrote, else the folder's name
            title = ", ".join(dict.fromkeys(r["sender"] for r in rows if r["sender_id"] not in owners)) or folder
        is_group = prefix == "Space" or len(members) > 2 or len({r["sender_id"] for r in rows}) > 2
        thread_id = f"{PLATFORM}:{folder}"
        first_of_topic: dict[str, str] = {}
        for seq, r in enumerate(rows):
            mid = schema.message_id(PLATFORM, thread_id, r["sender_id"], r["timestamp"], r["text"])
            reply_to = None
            if prefix == "Space" and r["topic"]:
                reply_to = first_of_topic.setdefault(r["topic"], mid)
                reply_to = None if reply_to == mid else reply_to
            records.append({
                "platform": PLATFORM, "source": rel, "thread_id": thread_id, "thread_title": title,
                "is_group": is_group, "sender": r["sender"], "sender_id": r["sender_id"],
                "is_me": r["sender_id"] in owners, "timestamp": r["timestamp"], "text": r["text"],
                "kind": r["kind"], "message_id": mid, "reply_to": reply_to, "seq": seq,
            })
    return schema.conform(records, skipped=skipped, me=owners, empty_files=empty)


def _message(msg: object, names: dict[str, str], skipped: Counter) -> dict | None:
    """A kept message, or None after counting why it was skipped."""
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    if msg.get("message_state") == "DELETED" or ("deleted_date" in msg and not msg.get("creator")):
        skipped["unsent"] += 1
        return None
    creator = msg.get("creator")
    ts = parse_date(msg.get("created_date"))
    email = _email(creator)
    name = (_text(creator, "name") if isinstance(creator, dict) else "") or names.get(email, "") or email
    if not name or ts is None or (msg.get("text") is not None and not isinstance(msg.get("text"), str)):
        skipped["bad_record"] += 1
        return None
    if creator.get("user_type") == "Bot":
        skipped["bot"] += 1
        return None
    text = _text(msg, "text")
    if text:
        kind = "link" if _ONE_URL.match(text) else "text"
    elif msg.get("attached_files"):
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    google_id = msg.get("message_id") if isinstance(msg.get("message_id"), str) else None
    topic = msg.get("topic_id") if isinstance(msg.get("topic_id"), str) else None
    return {"sender": name, "sender_id": email or name, "timestamp": ts, "text": text, "kind": kind,
            "google_id": google_id, "topic": topic}
