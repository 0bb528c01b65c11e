"""Instagram direct messages, from Instagram's "Download your information" export in JSON.

Where it comes from: Instagram > Settings > Accounts Center > Your information and
permissions > Download your information, format **JSON**. One folder per thread::

    your_instagram_activity/messages/inbox/<user>_<id>/message_1.json   (2023 onward)
    messages/inbox/<user>_<id>/message_1.json                           (before)

The schema is Facebook Messenger's (see ``ingest.adapters._meta``). A raw record (2022)::

    {"sender_id_INTERNAL": 0, "sender_name": "user", "timestamp_ms": 1645937398259,
     "share": {"link": "https://www.instagram.com/p/Cad8Z9SO0sd/", "share_text": "Y\\u00e2\\u0080\\u0099all",
               "original_content_owner": "internetnut"},
     "type": "Share", "is_unsent": false, "is_taken_down": false}

The old layout is Facebook's to the byte, so this adapter claims it, and thread files
taken out of any layout (a lone ``message_1.json``, a folder of them), only on signs that
only Instagram leaves: an Instagram-only folder beside ``messages/``
(``followers_and_following/``), or ``sender_id_INTERNAL`` / ``original_content_owner`` / a
``your_instagram_activity/`` media path in the first message files (``is_taken_down``,
``is_geoblocked_for_viewer`` and ``share_text`` are not: Facebook's exports have them
too; nor is an instagram.com link: Messenger users share those). Files that cannot be told
apart are the ``facebook`` adapter's, so that one adapter reads them; named with
``--platform instagram``, this adapter reads them (and any lone ``.json`` message list).
See ``ingest.adapters._meta`` for how loose parts are grouped into threads.

The owner is named in ``personal_information/personal_information/personal_information.json``:
``profile_user[0].string_map_data.Name.value`` and ``.Username.value``, both passed as ``me``.

Quirks handled here (on top of Facebook's mojibake, newest-first order, file splits and
notices, whose helpers are imported from ``ingest.adapters._meta``):
- reaction notices written without the sender's name, in English and in Portuguese:
  "Liked a message", "Reacted 😂 to your message", "Gostou de uma mensagem",
  "Reagiu com 😂 à tua mensagem" -> ``reaction``; poll notices -> ``system``;
- edits show only as a " (edited)" suffix, which is removed;
- some exports hold every message twice with the same timestamp: the second copy of a
  (sender, timestamp, text) is skipped as ``duplicate``;
- a shared post or link is kept as kind ``link``: its text is the message's own text
  when it has one, else the link, else the shared post's caption (``share_text``);
  the "X sent an attachment." that accompanies a share is replaced by the link;
- deleted accounts show as "Instagram User"; ``is_me`` is the pipeline's to set;
- a part whose ``messages`` list is empty is reported (``conform(empty_files=...)``), and each
  thread's ``participants`` go to the pipeline.
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

from ingest import schema
from ingest.adapters._meta import (
    MEDIA,
    SYSTEM_TYPES,
    file_number,
    instagram_owner,
    layout,
    load_messages_json,
    notice_kind,
    thread_files,
    thread_participants,
    valid_ms,
)
from ingest.errors import IngestError
from ingest.source import Source
from ingest.text import fix_mojibake

PLATFORM = "instagram"

_REACTION = re.compile(
    r"^(?:liked a message|reacted .+ to (?:your|a) message|gostou de uma mensagem|"
    r"reagiu com .+ (?:à|a) (?:tua|sua|uma) mensagem)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SYSTEM = re.compile(
    r"^(?:.* in the poll\.|.*created a poll: .*|this poll is no longer available\.|.*'s poll has multiple updates\.|"
    r".*started a (?:video|audio) chat\.?|(?:video|audio) chat ended\.?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_EDITED = re.compile(r"\s*\((?:edited|editado|editada)\)\s*$", re.IGNORECASE)
_URL_ONLY = re.compile(r"^https?://\S+$")


def detect(source: Source) -> bool:
    """Thread files under ``your_instagram_activity/``, or anywhere (in the old layout, alone, in a
    loose folder) when they carry a sign that only Instagram leaves."""
    found = layout(source)
    return bool(found.instagram_root) or (found.by_instagram and bool(found.structured or found.loose))


def read(source: Source) -> pd.DataFrame:
    threads = thread_files(source, PLATFORM)
    if not threads:
        raise IngestError(source.name, None,
                          "holds no your_instagram_activity/messages/<section>/<thread>/message_N.json files",
                          hint="request the Instagram export in JSON format and pass the unzipped folder or the .zip")
    records, skipped, members, empty_files = [], Counter(), {}, []
    for folder in sorted(threads):
        files = threads[folder]  # in numeric order
        thread_id = f"{PLATFORM}:{folder}"
        title, participants, rows, seen = None, set(), [], set()
        for rel in files:
            doc = source.attempt(load_messages_json, source, rel, hint="this is not an Instagram message_N.json file")
            if doc is None:  # damaged: set aside, the others read
                continue
            if title is None:
                title = fix_mojibake(str(doc.get("title") or "")).strip()
            participants.update(thread_participants(doc.get("participants")))
            if not doc["messages"]:
                empty_files.append(rel)
            for i, msg in enumerate(doc["messages"]):
                row = _message(msg, skipped)
                if row is None:
                    continue
                if row[:3] in seen:  # the doubled messages of some exports, or overlapping files
                    skipped["duplicate"] += 1
                    continue
                seen.add(row[:3])
                rows.append((row, (-file_number(rel), -i), rel))  # files and messages run newest first
        rows.sort(key=lambda r: (r[0][1], r[1]))
        is_group = len(participants | {r[0][0] for r in rows}) > 2
        members[thread_id] = participants
        for (sender, ts, text, kind), _, rel in rows:
            records.append({"platform": PLATFORM, "source": rel, "thread_id": thread_id,
                            "thread_title": title or folder, "is_group": is_group, "sender": sender,
                            "timestamp": ts, "text": text, "kind": kind})
    return schema.conform(records, skipped=+skipped, me=instagram_owner(source), participants=members,
                          empty_files=empty_files)


def _notice(sender: str, text: str) -> str | None:
    """'reaction' or 'system' for a notice, with or without the sender's name in front."""
    found = notice_kind(sender, text)
    if found:
        return found
    tails = [text]
    for who in {sender, sender.split(" ", 1)[0] if sender else "", "You"}:
        if who and text.startswith(who + " "):
            tails.append(text[len(who) + 1:])
    if any(_REACTION.match(t) for t in tails):
        return "reaction"
    if any(_SYSTEM.match(t) for t in tails):
        return "system"
    return None


def _message(msg, skipped: Counter) -> tuple[str, int, str, str] | None:
    """(sender, timestamp_ms, text, kind), or None after counting why it was skipped."""
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    raw_sender = msg.get("sender_name")
    sender = fix_mojibake(raw_sender).strip() if isinstance(raw_sender, str) else ""
    ts = msg.get("timestamp_ms")
    if not sender or not valid_ms(ts):
        skipped["bad_record"] += 1
        return None
    if msg.get("is_unsent"):
        skipped["unsent"] += 1
        return None
    if str(msg.get("type")) in SYSTEM_TYPES or "call_duration" in msg:
        skipped["system"] += 1
        return None
    content = msg.get("content")
    text = _EDITED.sub("", fix_mojibake(content)).strip() if isinstance(content, str) else ""
    share = msg.get("share") if isinstance(msg.get("share"), dict) else {}
    link = share.get("link") if isinstance(share.get("link"), str) else ""
    caption = fix_mojibake(share["share_text"]).strip() if isinstance(share.get("share_text"), str) else ""
    if text:
        notice = _notice(sender, text)
        if notice == "system" and (link or caption):
            text = ""  # "X sent an attachment." standing for the shared post
        elif notice:
            skipped[notice] += 1
            return None
    if text:
        kind = "link" if link and _URL_ONLY.match(text) else "text"
    elif link or caption:
        kind, text = "link", link or caption
    elif msg.get("sticker"):
        kind = "sticker"
    elif any(msg.get(k) for k in MEDIA):
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    return sender, int(ts), text, kind
