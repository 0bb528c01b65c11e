"""Messenger end-to-end-encrypted chats export (2024 onward), JSON.

Where it comes from: since Messenger moved chats to end-to-end encryption, the
"Download your information" archive lacks them; they are downloaded separately at
messenger.com/secure_storage/dyi. The export is a flat folder of ``<Name>_N.json``
files (no section or thread folders) beside a shared ``media/`` folder. One file::

    {"participants": ["Ana Lima", "Bob Reis"], "threadName": "Bob Reis",
     "messages": [{"senderName": "Bob Reis", "text": "Hello", "timestamp": 1711913758573,
                   "type": "text", "isUnsent": false, "media": [{"uri": "./media/x.jpeg"}],
                   "reactions": [{"actor": "Ana Lima", "reaction": "😆"}]}]}

Participants are plain strings here, where the DYI JSON (adapter ``facebook``) has
``[{"name": ...}]`` objects inside ``messages/<section>/<thread>/message_N.json``;
those files are never read here. Files are recognised by their content (``threadName``,
``senderName`` in the first bytes), not their names: a chat named "message" is ``message_1.json``.

Quirks handled here:
- the thread is the file stem without its ``_N`` suffix (files ``Bob_1.json`` and
  ``Bob_2.json`` are parts of one thread, and a message in both is a ``duplicate``);
  the title is ``threadName`` (without the same suffix, which some exports repeat);
- names and text may carry Facebook's byte-per-escape mojibake (seen in msgvault's
  fixture; others describe clean UTF-8): :func:`ingest.text.fix_mojibake` is applied
  to every name and text, and leaves clean text alone;
- ``isUnsent`` and ``type: "placeholder"`` ("User unsent a message") are ``unsent``;
- ``type`` is ``text``/``link``/``media``/``placeholder`` in some exports and
  ``Generic`` in others: kinds come from the fields (text, media) with ``link`` when
  the type says so or the text is a bare URL;
- notices written as text ("X named the group ...", "X reacted 😂 to your message")
  are skipped with the ``facebook`` adapter's rules;
- the order of messages is not documented: each thread is sorted by timestamp with
  a stable sort (ties keep file order);
- the export does not say which participant is the owner: ``is_me`` stays False; each
  thread's ``participants`` go to the pipeline (``conform(participants=...)``) as evidence;
- a file whose ``messages`` list is empty is reported (``conform(empty_files=...)``).

Not done here: an E2EE thread often continues a DYI thread with the same person;
joining the two is the pipeline's job (by the people in it), not this adapter's.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter

import pandas as pd

from ingest import schema
from ingest.adapters._meta import THREAD_FILE, is_e2ee, load_messages_json, notice_kind, peek, valid_ms
from ingest.errors import IngestError
from ingest.source import Source
from ingest.text import fix_mojibake

PLATFORM = "messenger_e2ee"

_PART = re.compile(r"^(?P<stem>.+?)_(?P<n>\d+)$")
_URL_ONLY = re.compile(r"^https?://\S+$")
_PEEK_BYTES = 4096
_PEEK_FILES = 40


def _candidates(source: Source) -> list[str]:
    """JSON files that may be E2EE threads, those directly in a messages/ folder first. The DYI archive's
    ``messages/<section>/<thread>/message_N.json`` are never; a ``message_N.json`` elsewhere is when
    its content says so (an E2EE chat named "message")."""
    found = [f for f in source.files() if f.lower().endswith(".json") and not THREAD_FILE.search(f)]
    return sorted(found, key=lambda f: (posixpath.basename(posixpath.dirname(f)) != "messages",
                                        _PART.match(_stem(f)) is None, f))


def _stem(rel: str) -> str:
    return posixpath.splitext(posixpath.basename(rel))[0]


def _head(source: Source, rel: str) -> bytes:
    """The first bytes of a candidate; a look that does not count it as read."""
    head = peek(source, rel, _PEEK_BYTES)
    if head is None:  # unreadable: opening it again raises the error that says why
        with source.open(rel) as fh:
            return fh.read(_PEEK_BYTES)
    return head


def detect(source: Source) -> bool:
    return any(is_e2ee(_head(source, f)) for f in _candidates(source)[:_PEEK_FILES])


def _thread_key(rel: str) -> str:
    stem = _stem(rel)
    m = _PART.match(stem)
    return m.group("stem") if m else stem


def read(source: Source) -> pd.DataFrame:
    threads: dict[str, list[str]] = {}
    for rel in _candidates(source):
        if is_e2ee(_head(source, rel)):
            threads.setdefault(_thread_key(rel), []).append(rel)
    if not threads:
        raise IngestError(source.name, None, "holds no end-to-end-encrypted Messenger <Name>_N.json files",
                          hint="download them at messenger.com/secure_storage/dyi and pass the folder or .zip")

    records, skipped, members, empty_files = [], Counter(), {}, []
    for key in sorted(threads):
        files = sorted(threads[key], key=lambda f: (_part_number(f), f))
        thread_id = f"{PLATFORM}:{key}"
        title, participants, rows, seen = None, set(), [], set()
        for rel in files:
            doc = source.attempt(load_messages_json, source, rel,
                                 hint="this is not an end-to-end-encrypted Messenger export file")
            if doc is None:  # damaged: set aside, the others read
                continue
            name = fix_mojibake(str(doc.get("threadName") or "")).strip()
            if title is None and name:
                title = _thread_key(name + ".json") if _stem(rel) == name else name
            for p in (doc.get("participants") if isinstance(doc.get("participants"), list) else []):
                if isinstance(p, str) and p.strip():
                    participants.add(fix_mojibake(p).strip())
            if not doc["messages"]:
                empty_files.append(rel)
            for msg in doc["messages"]:
                row = _message(msg, skipped)
                if row is None:
                    continue
                if row[:3] in seen:  # the same message in two parts of the thread
                    skipped["duplicate"] += 1
                    continue
                seen.add(row[:3])
                rows.append((row, len(rows), rel))
        rows.sort(key=lambda r: (r[0][1], r[1]))
        is_group = len(participants | {r[0][0] for r in rows}) > 2
        members[thread_id] = participants
        for (sender, ts, text, kind), _, rel in rows:
            records.append({"platform": PLATFORM, "source": rel, "thread_id": thread_id,
                            "thread_title": title or key, "is_group": is_group, "sender": sender,
                            "timestamp": ts, "text": text, "kind": kind})
    return schema.conform(records, skipped=+skipped, participants=members, empty_files=empty_files)


def _part_number(rel: str) -> int:
    m = _PART.match(_stem(rel))
    return int(m.group("n")) if m else 0


def _message(msg, skipped: Counter) -> tuple[str, int, str, str] | None:
    """(sender, timestamp_ms, text, kind), or None after counting why it was skipped."""
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    sender = msg.get("senderName")
    sender = fix_mojibake(sender).strip() if isinstance(sender, str) else ""
    ts = msg.get("timestamp")
    if not sender or not valid_ms(ts):
        skipped["bad_record"] += 1
        return None
    mtype = str(msg.get("type") or "").lower()
    if msg.get("isUnsent") or mtype == "placeholder":
        skipped["unsent"] += 1
        return None
    raw = msg.get("text")
    text = fix_mojibake(raw).strip() if isinstance(raw, str) else ""
    if text:
        notice = notice_kind(sender, text)
        if notice:
            skipped[notice] += 1
            return None
        kind = "link" if mtype == "link" or _URL_ONLY.match(text) else "text"
    elif msg.get("media"):
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    return sender, int(ts), text, kind
