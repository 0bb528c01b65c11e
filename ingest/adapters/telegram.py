"""Telegram Desktop export, JSON format (``result.json``).

Where it comes from: Telegram Desktop > Settings > Advanced > Export Telegram
data (the full export), or a chat's menu > Export chat history (one chat), with
format **Machine-readable JSON**. Either way the folder holds ``result.json``
(beside ``photos/``, ``files/``, ... when media were included)::

    {"name": "Ana", "type": "personal_chat", "id": 4242, "messages": [...]}       (one chat)
    {"personal_information": {"user_id": 1001, ...},                              (full export)
     "chats": {"list": [<chat>, ...]}, "left_chats": {"list": [<chat>, ...]}, ...}

A raw record::

    {"id": 17, "type": "message", "date": "2021-09-01T10:00:05", "date_unixtime": "1630490405",
     "from": "Ana Lima", "from_id": "user4242", "reply_to_message_id": 16,
     "text": ["see ", {"type": "link", "text": "https://t.me"}],
     "text_entities": [{"type": "plain", "text": "see "}, {"type": "link", "text": "https://t.me"}]}

Quirks handled here:
- the time is ``date_unixtime`` (epoch seconds, written as a string, UTC) wherever the file has
  it (Telegram Desktop writes it on every message since 4.0, June 2022); there a message
  without it is a bad record. A file from before has only ``date`` ("2019-04-12T21:05:33"),
  the exporting machine's wall-clock time with no offset: it is read in ``source.tz``
  (``--tz``) and turned into UTC, while the message_id is computed from the wall-clock time as
  written (ids do not change with ``--tz``; files with ``date_unixtime`` keep their ids). A
  message with neither a readable ``date_unixtime`` nor a readable ``date`` is a bad record;
  ``edited`` is never a message's time;
- ``text`` is a string, or a list mixing strings and ``{"type", "text"}`` parts;
  ``text_entities`` (always a list of parts) is joined when present;
- every key may be missing (empty values are omitted by the writer);
- ``type: "service"`` (joins, pins, calls, title changes, topic creation) is a system notice,
  ``type: "unsupported"`` has nothing to read (empty);
- media without a caption are kept as ``attachment`` (photo, file, voice, video,
  contact, location, poll, ...) or ``sticker``, with empty text; when media were
  not downloaded the file fields hold placeholders such as ``"(File not
  included. Change data exporting settings to download.)"``, which only say that
  there was a file and never become text; a caption is kept as the text;
- ``reply_to_message_id`` becomes ``reply_to``: the message_id of the answered
  message in the same chat (when that message was kept; replies to another
  chat, ``reply_to_peer_id``, are not linked);
- forum supergroups (topics): a topic starts with a service message ``"action":
  "topic_created"`` (its ``title``; ``topic_edit`` may give a ``new_title``), and a message
  posted in a topic has ``reply_to_message_id`` = that service message's id, or the id of
  the message it answers in the topic. A chat with such messages becomes one thread per
  topic: thread_id ``"telegram:<chat id>:<topic id>"`` (the id of its ``topic_created``
  message), title ``"<chat name> / <topic title>"`` (its latest title); messages outside any
  topic, or answering a message the export does not hold, are in General
  (``"telegram:<chat id>:1"``, ``"<chat name> / General"``). A topic field written by other
  writers (``topic_id``, ``message_thread_id``, ``reply_to_top_id``) wins when present;
- forwarded messages (``forwarded_from``) are kept as text of the person who
  forwarded them; edits (``edited``) keep the final text;
- ``from`` is null for deleted accounts: the sender becomes ``"Deleted Account
  (<from_id>)"``; sender_id is ``from_id`` (``user123``, ``channel456``). Before Telegram
  Desktop 2.7 (April 2021) ``from_id`` was the user's bare number (``4242``): it becomes
  ``user4242``, and a channel's posts had no ``from`` at all: they are the channel's own
  (sender the channel's name, sender_id ``channel<chat id>``);
- the owner is ``personal_information.user_id`` of a full export (sender_id
  ``user<id>``; its first and last name when it has no id); a one-chat export does not say who
  the owner is. In a full export, a personal chat's participants are the owner (by name) and
  the chat's name;
- a chat with an empty ``messages`` list is reported in ``empty_files``: the file for a
  one-chat export, ``"result.json#<chat name>"`` (the id added when two share a name) for a
  chat of a full export;
- in a ``bot_chat`` the bot's own messages (``from_id`` = ``user<chat id>``) are
  skipped as bot; the same message seen twice (a chat in two files) is a duplicate;
- thread_id is ``"telegram:<chat id>"`` (the chat's name, else the file's stem,
  when the id is missing); the title is the chat's name ("Saved Messages" and
  "Replies" for the chats that have none, "Deleted Account" for a personal chat
  without a name); group-ness comes from the chat type (channels and "Replies"
  count as groups).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source, json_nesting
from ingest.times import wall_ms_to_utc_ms

PLATFORM = "telegram"

_GROUP_TYPES = {"private_group", "private_supergroup", "public_supergroup", "private_channel",
                "public_channel", "replies"}
_CHANNEL_TYPES = {"private_channel", "public_channel"}
_ONE_TO_ONE_TYPES = {"personal_chat", "bot_chat", "saved_messages"}
_TITLES = {"saved_messages": "Saved Messages", "replies": "Replies"}
# Keys that mean the message carried media or another non-text payload.
_MEDIA_KEYS = ("photo", "file", "media_type", "contact_information", "contact_vcard", "location_information",
               "poll", "place_name", "game_title", "invoice_information", "live_location_period_seconds")
# Keys some writers (forks, newer versions, other exporters) use for the forum topic a message is in.
_TOPIC_KEYS = ("topic_id", "message_thread_id", "reply_to_top_id", "reply_to_top_message_id")
_GENERAL = 1  # the id of a forum's General topic: messages outside any other topic
_CHAT_TYPE = re.compile(r'"type"\s*:\s*"(?:personal_chat|bot_chat|saved_messages|replies|private_group|'
                        r'private_supergroup|public_supergroup|private_channel|public_channel)"')
_HINT = "export again from Telegram Desktop (Settings > Advanced > Export Telegram data) in JSON format"
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


def _is_export(source: Source, rel: str) -> bool:
    if not rel.lower().endswith(".json"):
        return False
    with source.open(rel) as fh:
        head = fh.read(65536).decode("utf-8", errors="replace")
    if '"date_unixtime"' in head:
        return True
    if PurePosixPath(rel).name == "result.json":
        return any(k in head for k in ('"personal_information"', '"chats"', '"messages"'))
    # a renamed export from before date_unixtime (2022): its chat type says what it is
    return '"messages"' in head and _CHAT_TYPE.search(head) is not None


def detect(source: Source) -> bool:
    return any(_is_export(source, rel) for rel in source.files())


def _text(msg: dict) -> str | None:
    """The message text, or None when its fields have the wrong types."""
    entities = msg.get("text_entities")
    if isinstance(entities, list) and all(isinstance(e, dict) for e in entities) and entities:
        parts = [e.get("text", "") for e in entities]
    else:
        raw = msg.get("text", "")
        if isinstance(raw, str):
            return raw
        if not isinstance(raw, list):
            return None
        parts = [p if isinstance(p, str) else p.get("text", "") if isinstance(p, dict) else None for p in raw]
    if not all(isinstance(p, str) for p in parts):
        return None
    return "".join(parts)


def _wall_ms(value) -> tuple[int, int | None] | None:
    """``date`` ("2019-04-12T21:05:33", the exporting machine's clock) -> (wall-clock ms as if it were
    UTC, true UTC ms when the value carries its own offset, else None); None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    wall = (when.replace(tzinfo=None) - _EPOCH) // _MS
    return wall, (int(when.timestamp() * 1000) if when.tzinfo is not None else None)


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _chats(doc: dict, label: str) -> list[tuple[str, dict]]:
    """(place, chat) for every chat of a one-chat or a full export."""
    chats = []
    if "messages" in doc:
        chats.append(("", doc))
    for section in ("chats", "left_chats"):
        if section not in doc:
            continue
        listed = doc[section].get("list") if isinstance(doc[section], dict) else None
        if not isinstance(listed, list):
            raise IngestError(label, f"key {section}.list", "is missing or not a list", hint=_HINT)
        chats.extend((f"{section}.list[{i}]", chat) for i, chat in enumerate(listed))
    for place, chat in chats:
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            raise IngestError(label, f"key {place}.messages" if place else "key messages",
                              "is missing or not a list", hint=_HINT)
    return chats


def _owner(doc: dict) -> tuple[str | None, str | None]:
    """(sender_id, full name) of the owner a full export names in ``personal_information``."""
    info = doc.get("personal_information")
    if not isinstance(info, dict):
        return None, None
    uid = info.get("user_id")
    owner = f"user{uid}" if isinstance(uid, int | str) and not isinstance(uid, bool) and str(uid) else None
    parts = [info.get(k) for k in ("first_name", "last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None
    return owner, name


def read(source: Source) -> pd.DataFrame:
    files = [rel for rel in source.files() if _is_export(source, rel)]
    if not files:
        raise IngestError(source.name, None, "holds no Telegram result.json", hint=_HINT)
    rows: list[dict] = []
    skipped: Counter = Counter()
    owners: set[str] = set()
    empty: list[str] = []
    participants: dict[str, list[str]] = {}
    seen: set[tuple[str, object]] = set()
    for rel in files:
        label = source.label(rel)
        text = source.read_text(rel)
        # Telegram Desktop writes date_unixtime on every message since 2022: in such a file a message
        # without it is damaged; a file from before has only the local "date", read in source.tz
        modern = '"date_unixtime"' in text
        try:
            with json_nesting(label):
                doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IngestError(label, f"line {exc.lineno} column {exc.colno}", f"is not valid JSON ({exc.msg})",
                              hint="the file is damaged or cut short; " + _HINT) from None
        if not isinstance(doc, dict):
            raise IngestError(label, None, "is not a Telegram export (no top-level object)", hint=_HINT)
        owner, owner_name = _owner(doc)
        if owner or owner_name:
            owners.add(owner or owner_name)
        chats = _chats(doc, label)
        if not chats:
            raise IngestError(label, None, "holds no chats",
                              hint="tick 'Personal chats' (and groups) when exporting; " + _HINT)
        timed, named = 0, set()
        for place, chat in chats:
            if not chat["messages"]:
                name = _chat_title(chat) or str(_chat_key(chat, rel))
                if name in named:
                    name = f"{name} ({_chat_key(chat, rel)})"
                named.add(name)
                empty.append(f"{rel}#{name}" if place else rel)
                continue
            chat_rows, chat_timed = _chat_rows(chat, rel, owner, modern, skipped, seen)
            rows.extend(chat_rows)
            timed += chat_timed
            if owner_name and chat.get("type") in ("personal_chat", "saved_messages"):
                members = [owner_name] + ([chat["name"]] if isinstance(chat.get("name"), str) else [])
                for thread_id in dict.fromkeys(r["thread_id"] for r in chat_rows):
                    participants[thread_id] = members
        if not timed and any(chat["messages"] for _, chat in chats):
            raise IngestError(label, None, "has no readable date_unixtime or date on any message", hint=_HINT)
    wall = [i for i, r in enumerate(rows) if r.pop("wall")]
    if wall:  # one conversion for every wall-clock time of the export
        utc = wall_ms_to_utc_ms(np.fromiter((rows[i]["timestamp"] for i in wall), np.int64, len(wall)), source.tz)
        for i, ms in zip(wall, utc.tolist(), strict=True):
            rows[i]["timestamp"] = ms
    # message ids at once, from the time as written (so they do not change with --tz); replies are
    # linked within their thread (a forum's topic) only
    ids = schema.message_ids(PLATFORM, [r["thread_id"] for r in rows], [r["sender_id"] for r in rows],
                             [r.pop("id_ms") for r in rows], [r["text"] for r in rows])
    row_of = {r["key"]: i for i, r in enumerate(rows) if r["key"] is not None}
    for r, mid in zip(rows, ids, strict=True):
        target = row_of.get(r.pop("reply"))
        r["reply_to"] = ids[target] if target is not None and rows[target]["thread_id"] == r["thread_id"] else None
        r["message_id"] = mid
        r["platform"] = PLATFORM
        r["is_me"] = r["sender_id"] in owners
    for r in rows:
        del r["key"]
    return schema.conform(rows, skipped=skipped, me=owners, empty_files=empty, participants=participants)


def _chat_key(chat: dict, rel: str) -> object:
    cid, name = chat.get("id"), chat.get("name")
    if isinstance(cid, int | str) and not isinstance(cid, bool) and str(cid):
        return cid
    return name if isinstance(name, str) and name else PurePosixPath(rel).stem


def _chat_title(chat: dict) -> str | None:
    ctype, name = chat.get("type"), chat.get("name")
    ctype = ctype if isinstance(ctype, str) else None  # a damaged file may hold anything
    name = name if isinstance(name, str) and name else None
    return _TITLES.get(ctype) or name or ("Deleted Account" if ctype == "personal_chat" else None)


def _topics(messages: list) -> tuple[dict[object, int], dict[int, str]] | None:
    """(message id -> forum topic id, topic id -> its latest title), or None when the chat is not a
    forum. A topic's id is the id of its ``topic_created`` message; General's is 1. A message is in
    the topic its own topic field names, else in the topic of the message it replies to (a message
    posted in a topic replies to the topic's creation), else in General."""
    if not any(isinstance(m, dict) and (m.get("action") == "topic_created" or any(k in m for k in _TOPIC_KEYS))
               for m in messages):
        return None
    topic_of: dict[object, int] = {}
    titles = {_GENERAL: "General"}
    for msg in messages:
        if not isinstance(msg, dict) or not isinstance(msg.get("id"), int | str):
            continue
        action = msg.get("action")
        topic = _int(msg["id"]) if action == "topic_created" else None
        if topic is None:
            topic = next((t for t in (_int(msg.get(k)) for k in _TOPIC_KEYS) if t is not None), None)
        reply = msg.get("reply_to_message_id")
        if topic is None and msg.get("reply_to_peer_id") is None and isinstance(reply, int | str):
            topic = topic_of.get(reply)
        title = msg.get("title") if action == "topic_created" else msg.get("new_title") \
            if action == "topic_edit" else None
        # a topic_edit says which topic it renames only through a topic field (the export writes no
        # reply_to_message_id for service messages): one that does not say is not applied
        if topic and isinstance(title, str) and title.strip():
            titles[topic] = title.strip()
        topic_of[msg["id"]] = topic or _GENERAL
    return topic_of, titles


def _chat_rows(chat: dict, rel: str, owner: str | None, modern: bool, skipped: Counter,
               seen: set) -> tuple[list[dict], int]:
    """The kept rows of one chat, and how many of its messages had a readable time."""
    ctype, cid = chat.get("type"), chat.get("id")
    key = _chat_key(chat, rel)
    chat_thread = f"{PLATFORM}:{key}"
    title = _chat_title(chat)
    is_group = True if ctype in _GROUP_TYPES else False if ctype in _ONE_TO_ONE_TYPES else None
    bot_id = f"user{cid}" if ctype == "bot_chat" and cid is not None else None
    messages = chat["messages"]
    forum = _topics(messages)
    topic_of = forum[0] if forum else None
    rows, timed = [], 0
    for msg in messages:
        if not isinstance(msg, dict):
            skipped["bad_record"] += 1
            continue
        try:
            ts_ms = id_ms = int(str(msg.get("date_unixtime"))) * 1000
            wall = False
        except ValueError:  # Telegram Desktop before 4.0 (2022): only the local "date"
            local = None if modern else _wall_ms(msg.get("date"))
            if local is None:
                skipped["bad_record"] += 1
                continue
            id_ms, ts_ms = local[0], local[0] if local[1] is None else local[1]
            wall = local[1] is None
        timed += 1
        tg_id = msg.get("id") if isinstance(msg.get("id"), int | str) else None
        if tg_id is not None and (chat_thread, tg_id) in seen:
            skipped["duplicate"] += 1
            continue
        seen.add((chat_thread, tg_id))
        mtype = msg.get("type", "message")
        if mtype == "service":
            skipped["system"] += 1
            continue
        if mtype != "message":
            skipped["empty"] += 1
            continue
        from_id, sender = msg.get("from_id"), msg.get("from")
        if isinstance(from_id, int) and not isinstance(from_id, bool):
            from_id = f"user{from_id}"  # before 2.7 (2021) from_id was a user's bare number
        from_id = from_id if isinstance(from_id, str) and from_id else None
        if from_id is None and "from" not in msg and ctype in _CHANNEL_TYPES:
            sender, from_id = title, f"channel{key}"  # a post in a channel, before 2.7: no from at all
        if not (isinstance(sender, str) and sender.strip()):
            sender = f"Deleted Account ({from_id})" if from_id else None
        text = _text(msg)
        if sender is None or text is None:
            skipped["bad_record"] += 1
            continue
        sender_id = from_id or sender
        if bot_id and sender_id == bot_id and sender_id != owner:
            skipped["bot"] += 1
            continue
        text = text.strip()
        if text:
            kind = "link" if text.startswith(("http://", "https://")) and " " not in text else "text"
        elif msg.get("media_type") == "sticker" or "sticker_emoji" in msg:
            kind = "sticker"
        elif any(msg.get(k) for k in _MEDIA_KEYS):
            kind = "attachment"
        else:
            skipped["empty"] += 1
            continue
        thread_id = chat_thread if topic_of is None else f"{chat_thread}:{topic_of.get(tg_id, _GENERAL)}"
        reply = msg.get("reply_to_message_id")
        linked = isinstance(reply, int | str) and msg.get("reply_to_peer_id") is None
        # id_ms: the time as written (an old export's wall clock), from which the message_id is computed
        rows.append({"source": rel, "thread_id": thread_id, "thread_title": title, "is_group": is_group,
                     "sender": sender.strip(), "sender_id": sender_id, "timestamp": ts_ms, "wall": wall,
                     "text": text, "kind": kind, "id_ms": id_ms, "key": None if tg_id is None else (chat_thread, tg_id),
                     "reply": (chat_thread, reply) if linked else None})
        if topic_of is not None:
            rows[-1]["topic"] = topic_of.get(tg_id, _GENERAL)
    if forum:
        topics = forum[1]
        for row in rows:
            topic = row.pop("topic")
            row["thread_title"] = f"{title or key} / {topics.get(topic, f'Topic {topic}')}"
    return rows, timed
