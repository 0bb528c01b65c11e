"""Facebook / Messenger "Download Your Information" export, JSON format.

Where it comes from: facebook.com > Settings > Your information > Download your
information > Messages, format **JSON** (HTML exports are read by
``facebook_html``). The archive holds one folder per thread::

    messages/inbox/<slug>_<id>/message_1.json              (before 2024)
    your_activity_across_facebook/messages/inbox/...       (2024)
    your_facebook_activity/messages/inbox/...              (2025 onward)

with sections ``inbox``, ``archived_threads``, ``filtered_threads``,
``message_requests``, ``e2ee_cutover`` (any folder name is accepted). A raw record::

    {"sender_name": "Araaish Paul", "timestamp_ms": 1578255103885,
     "content": "haha I know of him", "type": "Generic",
     "reactions": [{"reaction": "\\u00f0\\u009f\\u0098\\u00ae", "actor": "Vaughn Parker"}]}

Quirks handled here:
- every non-ASCII UTF-8 byte is written as its own ``\\u00XX`` escape (mojibake),
  repaired with :func:`ingest.text.fix_mojibake` on names, titles and text;
- a thread is split into ``message_1.json``, ``message_2.json``, ... at 10,000
  messages, ``message_1`` holding the newest, and messages inside each file run
  newest first: files are read in numeric order and the thread is sorted by time
  with a stable sort (ties keep document order);
- system notices are stored as ordinary text ("X named the group ...", "X reacted
  😂 to your message", "X sent an attachment."), often with ``type: Generic`` or no
  type at all (2023 onward), so they are recognised by their wording, anchored on
  the sender's own name, and counted as skipped;
- ``is_unsent`` messages and ``Call``/``Subscribe``/``Unsubscribe`` types are skipped;
- ``thread_type`` disappeared in 2023: group-ness is taken from the participant count.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source
from ingest.text import fix_mojibake

PLATFORM = "facebook"

_FILE = re.compile(r"(?:^|/)messages/(?P<section>[^/]+)/(?P<thread>[^/]+)/message_(?P<n>\d+)\.json$")
# Instagram uses the same schema; its exports live under these roots and belong to the instagram adapter.
_INSTAGRAM_ROOTS = ("your_instagram_activity/",)

_MEDIA = ("photos", "videos", "gifs", "audio_files", "files")
_SYSTEM_TYPES = {"Call", "Subscribe", "Unsubscribe"}

# Notices written as text. Each is matched after the sender's first name (or "You").
_SYSTEM_TAILS = re.compile(
    r"^(?:sent an attachment\.|sent a (?:photo|video|GIF|sticker|voice message|link)\.?|"
    r"named the group .*|changed the group photo\.?|removed the group name\.?|"
    r"added .+ to the group\.?|removed .+ from the group\.?|left the group\.?|"
    r"created the group\.?|joined the group\.?|set the nickname for .*|set (?:his|her|their|your) own nickname to .*|"
    r"set your nickname to .*|cleared the nickname for .*|changed the chat theme.*|changed the theme.*|"
    r"set the emoji to .*|changed the (?:group )?emoji.*|called you\.?|missed your call\.?|"
    r"called .+\.|missed a call from .+\.?|started a (?:video|voice) call\.?|joined the (?:video|voice) call\.?|"
    r"started sharing video\.?|pinned a message\.?|unpinned a message\.?|unsent a message\.?|"
    r"started a plan\.?|updated the plan.*|responded .+ to .*|turned on .*|turned off .*|"
    r"is now an admin.*|made .+ an admin.*|removed .+ as (?:a |an )?admin.*)\s*$",
    re.IGNORECASE,
)
_REACTION_TAIL = re.compile(r"^(?:reacted .+ to (?:your|a|their|his|her) message|liked a message)\s*$",
                            re.IGNORECASE | re.DOTALL)


def detect(source: Source) -> bool:
    from ingest import instagram  # Instagram's pre-2023 layout is this one; the instagram adapter claims it

    return any(_FILE.search(f) and not f.startswith(_INSTAGRAM_ROOTS) for f in source.files()) \
        and not instagram.is_old_layout(source)


def _list(value) -> list:
    """``value`` when it is a list, else nothing (a damaged file may hold anything anywhere)."""
    return value if isinstance(value, list) else []


def _file_number(rel: str) -> int:
    return int(_FILE.search(rel).group("n"))


def _notice_kind(sender: str, text: str) -> str | None:
    """'system' or 'reaction' when ``text`` is a platform notice written by ``sender``."""
    first = sender.split(" ", 1)[0] if sender else ""
    if not text.startswith((f"{first} ", "You ")):  # nearly every message: not a notice
        return None
    for who in (first, "You"):
        if who and text.startswith(who + " "):
            tail = text[len(who) + 1:]
            # a full name may precede the verb ("tq philip added ...")
            if sender and text.startswith(sender + " "):
                tail = text[len(sender) + 1:]
            if _REACTION_TAIL.match(tail):
                return "reaction"
            if _SYSTEM_TAILS.match(tail):
                return "system"
    return None


def read(source: Source) -> pd.DataFrame:
    threads: dict[str, list[str]] = {}
    for rel in source.files():
        m = _FILE.search(rel)
        if m and not rel.startswith(_INSTAGRAM_ROOTS):
            threads.setdefault(m.group("thread"), []).append(rel)
    if not threads:
        raise IngestError(source.name, None, "holds no messages/<section>/<thread>/message_N.json files",
                          hint="request the export in JSON format (not HTML) and pass the unzipped folder or the .zip")

    cols: dict[str, list] = {k: [] for k in ("source", "thread_id", "thread_title", "is_group", "sender",
                                             "timestamp", "text", "kind", "seq", "message_id")}
    skipped: Counter = Counter()
    names: dict = {}  # raw sender_name -> repaired name: a thread has few senders and many messages
    for folder in sorted(threads):
        files = sorted(threads[folder], key=_file_number)
        thread_id = f"{PLATFORM}:{folder}"
        title, participants, rows, seen = None, set(), [], set()
        for rel in files:
            number = _file_number(rel)
            try:
                doc = json.loads(source.read_text(rel))
            except json.JSONDecodeError as exc:
                raise IngestError(source.label(rel), f"line {exc.lineno} column {exc.colno}",
                                  f"is not valid JSON ({exc.msg})",
                                  hint="the file is damaged or cut short; download the export again") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
                raise IngestError(source.label(rel), None, "has no 'messages' list",
                                  hint="this is not a Messenger message_N.json file")
            if title is None:
                title = fix_mojibake(str(doc.get("title") or ""))
            for p in _list(doc.get("participants")):
                if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]:
                    participants.add(fix_mojibake(p["name"]))
            for i, msg in enumerate(doc["messages"]):
                row = _message(msg, skipped, names)
                if row is None:
                    continue
                key = (row[0], row[1], row[2])
                if key in seen:  # the same message twice (Instagram doubling, overlapping files)
                    skipped["duplicate"] += 1
                    continue
                seen.add(key)
                # newest first in the file and message_1 newest: reverse document order
                rows.append((row, (-number, -i), rel))
        rows.sort(key=lambda r: (r[0][1], r[1]))
        senders = {r[0][0] for r in rows}
        is_group = len(participants | senders) > 2
        n = len(rows)
        cols["source"].extend(r[2] for r in rows)
        cols["thread_id"].extend([thread_id] * n)
        cols["thread_title"].extend([title or folder] * n)
        cols["is_group"].extend([is_group] * n)
        cols["seq"].extend(range(n))
        for (sender, ts, text, kind), _, _ in rows:
            cols["sender"].append(sender)
            cols["timestamp"].append(ts)
            cols["text"].append(text)
            cols["kind"].append(kind)
            # the id conform() would derive (sender_id is the name here), computed while the values are at hand
            cols["message_id"].append(schema.message_id(PLATFORM, thread_id, sender, ts, text))
    frame = pd.DataFrame(cols)
    frame.insert(0, "platform", PLATFORM)
    return schema.conform(frame, skipped=skipped)


def _message(msg: dict, skipped: Counter, names: dict | None = None) -> tuple[str, int, str, str] | None:
    """(sender, timestamp_ms, text, kind), or None after counting why it was skipped.

    ``names`` caches repaired sender names across calls.
    """
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    raw = msg.get("sender_name")
    sender = names.get(raw) if names is not None and isinstance(raw, str) else None
    if sender is None:
        sender = fix_mojibake(str(raw or "")).strip()
        if names is not None and isinstance(raw, str):
            names[raw] = sender
    ts = msg.get("timestamp_ms")
    if not sender or not isinstance(ts, int | float) or not (0 < ts < 10**14):
        skipped["bad_record"] += 1
        return None
    if msg.get("is_unsent"):
        skipped["unsent"] += 1
        return None
    if str(msg.get("type")) in _SYSTEM_TYPES or "call_duration" in msg:
        skipped["system"] += 1
        return None
    content = msg.get("content")
    text = fix_mojibake(content).strip() if isinstance(content, str) else ""
    if text:
        notice = _notice_kind(sender, text)
        if notice:
            skipped[notice] += 1
            return None
    share = msg.get("share") if isinstance(msg.get("share"), dict) else None
    if text:
        kind = "link" if share and share.get("link") and text.startswith(("http://", "https://")) else "text"
    elif msg.get("sticker"):
        kind = "sticker"
    elif share and share.get("link"):
        kind, text = "link", str(share["link"])
    elif any(msg.get(k) for k in _MEDIA):
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    return sender, int(ts), text, kind


