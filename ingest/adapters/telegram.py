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
- the time is ``date_unixtime`` (epoch seconds, written as a string); ``date`` is
  the exporting machine's local time with no offset and is never used. A message
  without ``date_unixtime`` is a bad record (Telegram Desktop before 2021 did not
  write it; a file with none at all is refused with a hint to export again);
- ``text`` is a string, or a list mixing strings and ``{"type", "text"}`` parts;
  ``text_entities`` (always a list of parts) is joined when present;
- every key may be missing (empty values are omitted by the writer);
- ``type: "service"`` (joins, pins, calls, title changes) is a system notice,
  ``type: "unsupported"`` has nothing to read (empty);
- media without a caption are kept as ``attachment`` (photo, file, voice, video,
  contact, location, poll, ...) or ``sticker``, with empty text; when media were
  not downloaded the file fields hold placeholders such as ``"(File not
  included. Change data exporting settings to download.)"``, which only say that
  there was a file and never become text; a caption is kept as the text;
- ``reply_to_message_id`` becomes ``reply_to``: the message_id of the answered
  message in the same chat (when that message was kept; replies to another
  chat, ``reply_to_peer_id``, are not linked);
- forwarded messages (``forwarded_from``) are kept as text of the person who
  forwarded them; edits (``edited``) keep the final text;
- ``from`` is null for deleted accounts: the sender becomes ``"Deleted Account
  (<from_id>)"``; sender_id is ``from_id`` (``user123``, ``channel456``);
- the owner is ``personal_information.user_id`` of a full export (sender_id
  ``user<id>``); a one-chat export does not say who the owner is;
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
from collections import Counter
from pathlib import PurePosixPath

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source

PLATFORM = "telegram"

_GROUP_TYPES = {"private_group", "private_supergroup", "public_supergroup", "private_channel",
                "public_channel", "replies"}
_ONE_TO_ONE_TYPES = {"personal_chat", "bot_chat", "saved_messages"}
_TITLES = {"saved_messages": "Saved Messages", "replies": "Replies"}
# Keys that mean the message carried media or another non-text payload.
_MEDIA_KEYS = ("photo", "file", "media_type", "contact_information", "contact_vcard", "location_information",
               "poll", "place_name", "game_title", "invoice_information", "live_location_period_seconds")
_HINT = "export again from Telegram Desktop (Settings > Advanced > Export Telegram data) in JSON format"


def _is_export(source: Source, rel: str) -> bool:
    if not rel.lower().endswith(".json"):
        return False
    with source.open(rel) as fh:
        head = fh.read(65536).decode("utf-8", errors="replace")
    if '"date_unixtime"' in head:
        return True
    keys = ('"personal_information"', '"chats"', '"messages"')
    return PurePosixPath(rel).name == "result.json" and any(k in head for k in keys)


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


def read(source: Source) -> pd.DataFrame:
    files = [rel for rel in source.files() if _is_export(source, rel)]
    if not files:
        raise IngestError(source.name, None, "holds no Telegram result.json", hint=_HINT)
    rows: list[dict] = []
    skipped: Counter = Counter()
    owners: set[str] = set()
    seen: set[tuple[str, object]] = set()
    for rel in files:
        label = source.label(rel)
        try:
            doc = json.loads(source.read_text(rel))
        except json.JSONDecodeError as exc:
            raise IngestError(label, f"line {exc.lineno} column {exc.colno}", f"is not valid JSON ({exc.msg})",
                              hint="the file is damaged or cut short; " + _HINT) from None
        if not isinstance(doc, dict):
            raise IngestError(label, None, "is not a Telegram export (no top-level object)", hint=_HINT)
        info = doc.get("personal_information")
        owner = None
        if isinstance(info, dict) and isinstance(info.get("user_id"), int | str) and str(info["user_id"]):
            owner = f"user{info['user_id']}"
            owners.add(owner)
        chats = _chats(doc, label)
        if not chats:
            raise IngestError(label, None, "holds no chats",
                              hint="tick 'Personal chats' (and groups) when exporting; " + _HINT)
        timed = 0
        for _place, chat in chats:
            chat_rows, chat_timed = _chat_rows(chat, rel, owner, skipped, seen)
            rows.extend(chat_rows)
            timed += chat_timed
        if not timed and any(chat["messages"] for _, chat in chats):
            raise IngestError(label, None, "has no date_unixtime on any message (an old Telegram Desktop)",
                              hint="update Telegram Desktop and export again")
    for r in rows:
        r["platform"] = PLATFORM
        r["is_me"] = r["sender_id"] in owners
    return schema.conform(rows, skipped=skipped, me=owners)


def _chat_rows(chat: dict, rel: str, owner: str | None, skipped: Counter,
               seen: set) -> tuple[list[dict], int]:
    """The kept rows of one chat, and how many of its messages had a readable date_unixtime."""
    ctype, cid, name = chat.get("type"), chat.get("id"), chat.get("name")
    ctype = ctype if isinstance(ctype, str) else None  # a damaged file may hold anything
    name = name if isinstance(name, str) and name else None
    key = cid if isinstance(cid, int | str) and str(cid) else (name or PurePosixPath(rel).stem)
    thread_id = f"{PLATFORM}:{key}"
    title = _TITLES.get(ctype) or name or ("Deleted Account" if ctype == "personal_chat" else None)
    is_group = True if ctype in _GROUP_TYPES else False if ctype in _ONE_TO_ONE_TYPES else None
    bot_id = f"user{cid}" if ctype == "bot_chat" and cid is not None else None
    rows, ids, replies, timed = [], {}, [], 0
    for msg in chat["messages"]:
        if not isinstance(msg, dict):
            skipped["bad_record"] += 1
            continue
        try:
            seconds = int(str(msg.get("date_unixtime")))
            timed += 1
        except ValueError:
            skipped["bad_record"] += 1
            continue
        tg_id = msg.get("id") if isinstance(msg.get("id"), int | str) else None
        if tg_id is not None and (thread_id, tg_id) in seen:
            skipped["duplicate"] += 1
            continue
        seen.add((thread_id, tg_id))
        mtype = msg.get("type", "message")
        if mtype == "service":
            skipped["system"] += 1
            continue
        if mtype != "message":
            skipped["empty"] += 1
            continue
        from_id, sender = msg.get("from_id"), msg.get("from")
        from_id = str(from_id) if isinstance(from_id, str | int) and str(from_id) else None
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
        ts_ms = seconds * 1000
        mid = schema.message_id(PLATFORM, thread_id, sender_id, ts_ms, text)
        if tg_id is not None:
            ids[tg_id] = mid
        reply = msg.get("reply_to_message_id")
        linked = isinstance(reply, int | str) and msg.get("reply_to_peer_id") is None
        replies.append(reply if linked else None)
        rows.append({"source": rel, "thread_id": thread_id, "thread_title": title, "is_group": is_group,
                     "sender": sender.strip(), "sender_id": sender_id, "timestamp": ts_ms, "text": text,
                     "kind": kind, "message_id": mid})
    for row, reply in zip(rows, replies, strict=True):
        row["reply_to"] = ids.get(reply) if reply is not None else None
    return rows, timed
