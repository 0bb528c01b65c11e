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

import numpy as np
import pandas as pd

from ingest import columns, schema
from ingest.errors import IngestError
from ingest.source import Source
from ingest.text import fix_mojibake, fix_mojibake_all

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


def load_messages_json(source: Source, rel: str, *, hint: str = "this is not a Messenger message_N.json file") -> dict:
    """A Meta export file holding a ``messages`` list (Facebook, Instagram, end-to-end-encrypted Messenger)."""
    try:
        doc = json.loads(source.read_text(rel))
    except json.JSONDecodeError as exc:
        raise IngestError(source.label(rel), f"line {exc.lineno} column {exc.colno}",
                          f"is not valid JSON ({exc.msg})",
                          hint="the file is damaged or cut short; download the export again") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        raise IngestError(source.label(rel), "key 'messages'", "is missing or not a list", hint=hint)
    return doc


# A record with only these keys, a string content and type Generic (or none) is a plain text
# message; those are read a file at a time, the others one by one by _message.
_PLAIN_KEYS = frozenset({"sender_name", "timestamp_ms", "content", "type", "is_geoblocked_for_viewer", "reactions"})
_MAX_MS = 10**14


def _who(raw: str) -> tuple[str, str]:
    """A raw sender_name -> (repaired name, the prefix of a notice they wrote: their first name and a space)."""
    sender = fix_mojibake(raw).strip()
    return sender, sender.split(" ", 1)[0] + " "


class _Columns:
    """The kept messages, one list per column, in document order (sorted once at the end)."""

    def __init__(self):
        self.pos: list[int] = []  # document order: the position among every record read
        self.sender: list[str] = []
        self.stamp: list[int] = []
        self.text: list[str] = []
        self.kind: list[str] = []
        self.file: list[int] = []  # index into read()'s list of files
        self.read = 0  # records read so far

    def add_file(self, msgs: list, f: int, who: dict, names: dict, skipped: Counter) -> None:
        """Read one file's records: plain text messages all at once, the rest through _message."""
        base = self.read
        self.read += len(msgs)
        plain = [i for i, m in enumerate(msgs)
                 if type(m) is dict and m.keys() <= _PLAIN_KEYS and type(m.get("content")) is str
                 and type(m.get("sender_name")) is str and type(m.get("timestamp_ms")) is int
                 and 0 < m["timestamp_ms"] < _MAX_MS and m.get("type", "Generic") == "Generic"]
        raws = [msgs[i]["sender_name"] for i in plain]
        for raw in set(raws).difference(who):
            who[raw] = _who(raw)
        senders = [who[r][0] for r in raws]
        texts = [t.strip() for t in fix_mojibake_all([msgs[i]["content"] for i in plain])]
        # notices start with their author's first name or "You"; an empty text or sender is _message's
        prefixes = (*{who[r][1] for r in set(raws)}, "You ")
        odd = [k for k, (s, t) in enumerate(zip(senders, texts, strict=True))
               if not t or not s or t.startswith(prefixes)]
        drop, slow = set(), set(range(len(msgs))).difference(plain) if len(plain) < len(msgs) else set()
        for k in odd:
            if not texts[k] or not senders[k]:
                drop.add(k)
                slow.add(plain[k])
            elif notice := _notice_kind(senders[k], texts[k]):
                drop.add(k)
                skipped[notice] += 1
        if drop:
            keep = [k for k in range(len(plain)) if k not in drop]
            plain, senders, texts = [plain[k] for k in keep], [senders[k] for k in keep], [texts[k] for k in keep]
        self.pos.extend([base + i for i in plain])
        self.sender.extend(senders)
        self.stamp.extend([msgs[i]["timestamp_ms"] for i in plain])
        self.text.extend(texts)
        self.kind.extend(["text"] * len(plain))
        self.file.extend([f] * len(plain))
        for i in sorted(slow):
            row = _message(msgs[i], skipped, names)
            if row is not None:
                self.pos.append(base + i)
                self.sender.append(row[0])
                self.stamp.append(row[1])
                self.text.append(row[2])
                self.kind.append(row[3])
                self.file.append(f)


def read(source: Source) -> pd.DataFrame:
    threads: dict[str, list[str]] = {}
    for rel in source.files():
        m = _FILE.search(rel)
        if m and not rel.startswith(_INSTAGRAM_ROOTS):
            threads.setdefault(m.group("thread"), []).append(rel)
    if not threads:
        raise IngestError(source.name, None, "holds no messages/<section>/<thread>/message_N.json files",
                          hint="request the export in JSON format (not HTML) and pass the unzipped folder or the .zip")

    rows = _Columns()
    thread_of: list[int] = []  # each row's index into thread_ids, titles, groups
    files: list[str] = []
    thread_ids: list[str] = []
    titles: list[str] = []
    groups: list[bool] = []
    skipped: Counter = Counter()
    names: dict = {}  # raw sender_name -> repaired name, for _message
    who: dict = {}  # raw sender_name -> _who(raw)
    with columns.no_gc():  # a million live rows would make every collection walk them all
        for t, folder in enumerate(sorted(threads)):
            start = len(rows.sender)
            title, participants = None, set()
            for rel in sorted(threads[folder], key=_file_number):
                doc = load_messages_json(source, rel)
                if title is None:
                    title = fix_mojibake(str(doc.get("title") or ""))
                for p in _list(doc.get("participants")):
                    if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]:
                        participants.add(fix_mojibake(p["name"]))
                files.append(rel)
                rows.add_file(doc["messages"], len(files) - 1, who, names, skipped)
            thread_of.extend([t] * (len(rows.sender) - start))
            thread_ids.append(f"{PLATFORM}:{folder}")
            titles.append(title or folder)
            groups.append(len(participants | set(rows.sender[start:])) > 2)
        ids = schema.id_hashes(PLATFORM, columns.strings(thread_ids, np.asarray(thread_of, dtype=np.int64)),
                               rows.sender, rows.stamp, rows.text)  # message_id, as uint64

    # A thread runs oldest first. message_1 holds the newest messages and each file runs newest
    # first, so among equal timestamps the later in document order is the earlier message.
    thread = np.asarray(thread_of, dtype=np.int64)
    stamp = np.asarray(rows.stamp, dtype=np.int64)
    order = np.lexsort((-np.asarray(rows.pos, dtype=np.int64), stamp, thread))
    # The same message twice (Instagram doubling, overlapping files): the same id, thread and
    # time, so ordered last to first in document order; the first read is kept.
    again = pd.Series(ids[order]).duplicated(keep="last").to_numpy()
    if again.any():
        skipped["duplicate"] += int(again.sum())
        order = order[~again]
    thread = thread[order]
    sender = columns.strings(rows.sender).take(order)
    frame = pd.DataFrame({
        "platform": columns.strings([PLATFORM], np.zeros(len(order), dtype=np.int64)),
        "source": columns.strings(files, np.asarray(rows.file, dtype=np.int64)[order]),
        "thread_id": columns.strings(thread_ids, thread),
        "thread_title": columns.strings(titles, thread),
        "is_group": np.asarray(groups, dtype=bool)[thread],
        "sender": sender,
        "sender_id": sender,
        "is_me": np.zeros(len(order), dtype=bool),
        "timestamp": stamp[order],
        "text": columns.strings(rows.text).take(order),
        "kind": columns.strings(rows.kind).take(order),
        "message_id": columns.hex_column(ids[order]),
        "reply_to": columns.strings([None], np.zeros(len(order), dtype=np.int64)),
        "seq": np.arange(len(order), dtype=np.int64) - np.searchsorted(thread, thread),  # rank in its thread
    })
    return schema.conform(frame, skipped=skipped)


def valid_ms(ts) -> bool:
    """An epoch-milliseconds timestamp as Meta's exports write it: a number (not a JSON true/false)
    between 1970 and about 5138. Shared by the Facebook, Instagram and end-to-end-encrypted adapters."""
    return isinstance(ts, int | float) and not isinstance(ts, bool) and 0 < ts < 10**14


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
    if not sender or not valid_ms(ts):
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


