"""What Meta's JSON exports share: Facebook "Download your information", Instagram, and
end-to-end-encrypted Messenger. One file per thread part, a ``messages`` list, epoch-millisecond
times and the same notices written as text. Adapters import from here, never from each other.
"""

from __future__ import annotations

import json
import re

from ingest.errors import IngestError
from ingest.source import Source

THREAD_FILE = re.compile(r"(?:^|/)messages/(?P<section>[^/]+)/(?P<thread>[^/]+)/message_(?P<n>\d+)\.json$")

MEDIA = ("photos", "videos", "gifs", "audio_files", "files")
SYSTEM_TYPES = {"Call", "Subscribe", "Unsubscribe"}

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


# Instagram uses the same schema; its exports live under these roots and belong to the instagram adapter.
INSTAGRAM_ROOTS = ("your_instagram_activity/",)
_ONLY_INSTAGRAM_FOLDERS = re.compile(r"(?:^|/)followers_and_following/")
_ONLY_INSTAGRAM_KEYS = (b'"sender_id_INTERNAL"', b'"original_content_owner"')
_PEEK_BYTES = 1 << 16
_PEEK_FILES = 5


MAX_MS = 10**14


def as_list(value) -> list:
    """``value`` when it is a list, else nothing (a damaged file may hold anything anywhere)."""
    return value if isinstance(value, list) else []


def file_number(rel: str) -> int:
    return int(THREAD_FILE.search(rel).group("n"))


def notice_kind(sender: str, text: str) -> str | None:
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


def under_instagram_root(rel: str) -> bool:
    return any(rel.startswith(r) or f"/{r}" in rel for r in INSTAGRAM_ROOTS)


def is_old_layout(source: Source) -> bool:
    """An export in the pre-2023 ``messages/inbox/...`` layout that Instagram, not Facebook, wrote."""
    files = source.files()
    old = [f for f in files if THREAD_FILE.search(f) and not under_instagram_root(f)]
    if not old:
        return False
    if any(_ONLY_INSTAGRAM_FOLDERS.search(f) for f in files):
        return True
    for rel in sorted(old, key=lambda f: (file_number(f), f))[:_PEEK_FILES]:
        try:
            with source.open(rel) as fh:
                head = fh.read(_PEEK_BYTES)
        except IngestError:  # unreadable: the adapter that reads it reports it; judge by the others
            continue
        if any(k in head for k in _ONLY_INSTAGRAM_KEYS):
            return True
    return False


def valid_ms(ts) -> bool:
    """An epoch-milliseconds timestamp as Meta's exports write it: a number (not a JSON true/false)
    between 1970 and about 5138. Shared by the Facebook, Instagram and end-to-end-encrypted adapters."""
    return isinstance(ts, int | float) and not isinstance(ts, bool) and 0 < ts < MAX_MS
