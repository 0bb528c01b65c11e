"""What Meta's JSON exports share: Facebook "Download your information", Instagram, and
end-to-end-encrypted Messenger. One file per thread part, a ``messages`` list, epoch-millisecond
times and the same notices written as text. Adapters import from here, never from each other.

Which files are whose (:func:`layout`, :func:`thread_files`), decided by a look at the first bytes
of a few files, the same in detection and in reading:

- ``messages/<section>/<thread>/message_N.json`` outside ``your_instagram_activity/``: Facebook's,
  unless the export carries a sign only Instagram leaves (a ``followers_and_following/`` folder,
  ``sender_id_INTERNAL``, ``original_content_owner`` or a ``your_instagram_activity/`` media path in
  the first files): Instagram's older exports have this very layout. Content that cannot tell the
  two apart is Facebook's, so that one adapter only reads a file;
- ``message_N.json`` taken out of that structure (a lone file, a thread's folder, several threads'
  files copied into one folder, renamed ``message_1 (2).json``), and a lone ``.json`` that starts
  like a DYI thread (``{"participants": [{"name": ...``): the same rule. Such parts are grouped
  into threads by their ``thread_path`` (whose folder name keys the thread, as in a whole
  archive), else by folder, title and participants (:func:`loose_threads`);
- files with ``threadName`` / ``senderName`` are end-to-end-encrypted Messenger's, whatever their name.

The owner, where the export names them: :func:`facebook_owner`, :func:`instagram_owner`.
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec

from ingest.errors import IngestError
from ingest.source import Source, json_nesting
from ingest.text import fix_mojibake

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
# Signs in a thread file that only Instagram writes. Not signs: is_geoblocked_for_viewer, share_text,
# is_taken_down, thread_path "inbox/...", instagram.com links: Facebook's exports have them too.
_ONLY_INSTAGRAM_KEYS = (b'"sender_id_INTERNAL"', b'"original_content_owner"', b'"your_instagram_activity/')
# The keys of an end-to-end-encrypted Messenger file (adapter messenger_e2ee), never in the DYI JSON.
E2EE_MARKERS = (b'"threadName"', b'"senderName"')
# The start of a DYI thread file named otherwise: participants as [{"name": ...}] objects.
_DYI_HEAD = re.compile(rb'^\s*\{\s*"participants"\s*:\s*\[\s*(?:\{\s*"name"|\])')
_PEEK_BYTES = 1 << 16
_PEEK_FILES = 5

# A thread part named as Meta names it, wherever it lies: taken out of the archive's folders, or
# renamed by a copy into one folder ("message_1 (2).json", "message_1 copy.json").
PART_FILE = re.compile(r"(?:^|/)message_(?P<n>\d+)(?:[ _(-][^/]*)?\.json$", re.IGNORECASE)

MAX_MS = 10**14


def as_list(value) -> list:
    """``value`` when it is a list, else nothing (a damaged file may hold anything anywhere)."""
    return value if isinstance(value, list) else []


def file_number(rel: str) -> int:
    """The N of a thread part ``message_N.json`` (1 for a file named otherwise)."""
    m = PART_FILE.search(rel)
    return int(m.group("n")) if m else 1


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


def load_messages_json(source: Source, rel: str, *, hint: str = "this is not a Messenger message_N.json file",
                       data: bytes | None = None) -> dict:
    """A Meta export file holding a ``messages`` list (Facebook, Instagram, end-to-end-encrypted Messenger);
    ``data``: its bytes, when already read."""
    text = source.read_text(rel, data)
    try:
        with json_nesting(source.label(rel)):
            doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(source.label(rel), f"line {exc.lineno} column {exc.colno}",
                          f"is not valid JSON ({exc.msg})",
                          hint="the file is damaged or cut short; download the export again") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        raise IngestError(source.label(rel), "key 'messages'", "is missing or not a list", hint=hint)
    return doc


def under_instagram_root(rel: str) -> bool:
    return any(rel.startswith(r) or f"/{r}" in rel for r in INSTAGRAM_ROOTS)


def is_e2ee(head: bytes) -> bool:
    """The first bytes of an end-to-end-encrypted Messenger file (``threadName``, ``senderName``)."""
    return any(m in head for m in E2EE_MARKERS)


def peek(source: Source, rel: str, size: int = _PEEK_BYTES) -> bytes | None:
    """The first ``size`` bytes of a member, None when it cannot be read. A peek is not a read: the
    member is not counted as read (the pipeline reports members no adapter read)."""
    opened = getattr(source, "opened", None)
    seen = opened is not None and rel in opened
    try:
        with source.open(rel) as fh:
            return fh.read(size)
    except IngestError:  # the adapter that reads it reports it
        return None
    finally:
        if not seen and getattr(source, "opened", None) is not None:
            source.opened.discard(rel)


@dataclass(frozen=True)
class Layout:
    """Where an export's Meta DYI thread files are and who wrote them, judged by a cheap look."""

    structured: tuple[str, ...]  # messages/<section>/<thread>/message_N.json, outside Instagram's roots
    loose: tuple[str, ...]  # message_N.json out of that structure (or a lone .json shaped like one)
    instagram_root: tuple[str, ...]  # message_N.json under your_instagram_activity/
    by_instagram: bool  # structured and loose files carry signs that only Instagram leaves
    loose_thread: bool  # a loose file looked at is a DYI thread (not E2EE, not empty)


_LAYOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layout(source: Source) -> Layout:
    """The :class:`Layout` of ``source``, looked at once per set of members (detection and every
    adapter of the family ask; the members change only when a damaged one is set aside)."""
    cached = _LAYOUTS.get(source)
    if cached is not None and cached[0] == source.skipped:
        return cached[1]
    files = source.files()
    structured, loose, root = [], [], []
    for f in files:
        if not PART_FILE.search(f):
            continue
        if under_instagram_root(f):
            root.append(f)
        elif THREAD_FILE.search(f):
            structured.append(f)
        else:
            loose.append(f)
    heads: dict[str, bytes | None] = {}
    if not structured and not loose and not root and len(files) == 1 and files[0].lower().endswith(".json"):
        head = heads[files[0]] = peek(source, files[0])  # a lone thread file renamed: its content decides
        if head is not None and _is_dyi_thread(head):
            loose.append(files[0])
    first = sorted(structured + loose, key=lambda f: (file_number(f), f))[:_PEEK_FILES]
    for rel in first:
        if rel not in heads:
            heads[rel] = peek(source, rel)
    by_instagram = bool(first) and (
        any(_ONLY_INSTAGRAM_FOLDERS.search(f) for f in files)
        or any(h is not None and any(k in h for k in _ONLY_INSTAGRAM_KEYS) for h in heads.values()))
    looked = [heads[f] for f in first if f in loose]
    loose_thread = any(h is None or (h.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") and not is_e2ee(h))
                       for h in looked)
    if loose and not looked:  # only structured files were looked at: look at a loose one too
        h = peek(source, min(loose, key=lambda f: (file_number(f), f)))
        loose_thread = h is None or (h.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") and not is_e2ee(h))
    found = Layout(tuple(structured), tuple(loose), tuple(root), by_instagram, loose_thread)
    _LAYOUTS[source] = (source.skipped, found)
    return found


def _is_dyi_thread(head: bytes) -> bool:
    """The first bytes of a DYI thread file: ``{"participants": [{"name": ...`` as Meta writes it, or
    (keys reordered by some tool) participants, ``sender_name`` and ``timestamp_ms`` somewhere."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    if is_e2ee(head) or not head.lstrip().startswith(b"{"):
        return False
    return bool(_DYI_HEAD.match(head)) or all(k in head for k in (b'"participants"', b'"sender_name"',
                                                                    b'"timestamp_ms"'))


class _ThreadHead(msgspec.Struct):
    """What names a thread in one of its files (the messages are skipped over, not decoded)."""

    thread_path: Any = None
    title: Any = None
    participants: Any = None


_DECODE_HEAD = msgspec.json.Decoder(_ThreadHead).decode


def _participant_names(value) -> tuple[str, ...]:
    return tuple(sorted({p["name"] for p in as_list(value) if isinstance(p, dict) and isinstance(p.get("name"), str)}))


def _stem(rel: str) -> str:
    """A file's name as a thread key: ``chat.json`` -> ``chat``, ``message_2 (1).json`` -> ``message``."""
    name = posixpath.basename(rel)
    return "message" if PART_FILE.search(name) else posixpath.splitext(name)[0]


def _slug(title: str) -> str:
    """A thread key from a title, as Facebook names thread folders: ``"Ana Beatriz"`` -> ``anabeatriz``."""
    plain = unicodedata.normalize("NFKD", title).lower()
    return "".join(c for c in plain if c.isalnum() and not unicodedata.combining(c))


def loose_threads(source: Source, rels: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """Thread parts taken out of the archive's folders, grouped into threads by what they say, not by
    their names (several threads' ``message_1.json`` may lie renamed in one folder).

    A part names its thread folder in ``thread_path`` (``"inbox/anabeatriz_Ab12Cd34"``): that folder
    name is the key, so a thread gets the id a whole archive gives it. Parts without one are grouped
    by folder, title and participants, and keyed by their folder when it holds that thread alone,
    else by the title (``anabeatriz``), else by the file's name. End-to-end-encrypted files (adapter
    messenger_e2ee) are left out; a file that is not JSON stays alone, for its reader to report.
    """
    named: dict[str, list[str]] = {}
    unnamed: dict[tuple, list[str]] = {}
    for rel in rels:
        try:
            data = source.read_bytes(rel)
        except IngestError:  # its reader reports it
            data = b""
        if is_e2ee(data[:_PEEK_BYTES]):
            continue
        folder = posixpath.dirname(rel)
        try:
            with json_nesting(source.label(rel)):
                head = _DECODE_HEAD(data)
        except (msgspec.DecodeError, UnicodeDecodeError, IngestError):  # its reader reports it
            unnamed[(folder, None, (rel,))] = [rel]
            continue
        path = head.thread_path.strip().strip("/") if isinstance(head.thread_path, str) else ""
        if path:
            named.setdefault(path.rsplit("/", 1)[-1], []).append(rel)
        else:
            title = head.title if isinstance(head.title, str) else ""
            unnamed.setdefault((folder, title, _participant_names(head.participants)), []).append(rel)
    threads = named
    per_folder = Counter(folder for folder, _, _ in unnamed)
    # in the order of their first part, a copy's renamed file ("message_1 (2).json") after the original
    for (folder, title, _), parts in sorted(unnamed.items(), key=lambda kv: min((file_number(f), len(f), f) for f in kv[1])):
        if folder and per_folder[folder] == 1:
            key = posixpath.basename(folder)
        else:
            key = _slug(fix_mojibake(title or "")) or _stem(parts[0])
        base, n = key, 1
        while key in threads:
            n += 1
            key = f"{base}_{n}"
        threads[key] = parts
    return threads


def thread_files(source: Source, platform: str) -> dict[str, list[str]]:
    """The thread files the ``facebook`` or ``instagram`` adapter reads, by thread key (the thread's
    folder name), each thread's parts in numeric order.

    Each takes its own: Instagram what lies under its roots, and the files outside them when they
    carry Instagram's signs; Facebook the others. An adapter that finds none of its own was named by
    the user (``--platform``): it reads the family's files, or a lone ``.json`` file, as they are.
    """
    found = layout(source)
    own_instagram = platform == "instagram"
    structured = [f for f in found.instagram_root if THREAD_FILE.search(f)] if own_instagram else []
    loose = [f for f in found.instagram_root if not THREAD_FILE.search(f)] if own_instagram else []
    if found.by_instagram == own_instagram:
        structured += found.structured
        loose += found.loose
    threads = _group(source, structured, loose)
    if not threads:
        files = source.files()
        family = [*found.structured, *found.loose, *found.instagram_root]
        if family:
            threads = _group(source, [f for f in family if THREAD_FILE.search(f)],
                             [f for f in family if not THREAD_FILE.search(f)])
        elif len(files) == 1 and files[0].lower().endswith(".json"):
            threads = _group(source, [], files)
    return threads


def _group(source: Source, structured: list[str], loose: list[str]) -> dict[str, list[str]]:
    threads: dict[str, list[str]] = {}
    for rel in structured:
        threads.setdefault(THREAD_FILE.search(rel).group("thread"), []).append(rel)
    for key, rels in loose_threads(source, loose).items():
        threads.setdefault(key, []).extend(rels)
    return {key: sorted(rels, key=lambda f: (file_number(f), f)) for key, rels in threads.items()}


# --- the owner, as the export names them ----------------------------------------------------------

_FACEBOOK_PROFILE = re.compile(r"(?:^|/)profile_information\.json$")
_INSTAGRAM_PROFILE = re.compile(r"(?:^|/)personal_information\.json$")


def _json_doc(source: Source, rel: str):
    """A profile file's JSON, None when it cannot be read: it is evidence, not messages."""
    try:
        text = source.read_text(rel)
        with json_nesting(source.label(rel)):
            return json.loads(text)
    except (IngestError, ValueError, RecursionError):
        return None


def _get(doc, *keys):
    for key in keys:
        if isinstance(key, int):
            doc = doc[key] if isinstance(doc, list) and len(doc) > key else None
        else:
            doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _clean_names(values) -> list[str]:
    return sorted({fix_mojibake(v).strip() for v in values if isinstance(v, str) and v.strip()})


def facebook_owner(source: Source) -> list[str]:
    """The owner's name from ``profile_information.json`` (``profile_v2``, before 2021 ``profile``),
    wherever the archive keeps it (``profile_information/``, ``personal_information/profile_information/``)."""
    for rel in source.files():
        if _FACEBOOK_PROFILE.search(rel):
            doc = _json_doc(source, rel)
            names = _clean_names([_get(doc, "profile_v2", "name", "full_name"), _get(doc, "profile", "name", "full_name")])
            if names:
                return names
    return []


def instagram_owner(source: Source) -> list[str]:
    """The owner's name and username from ``personal_information.json`` (``profile_user[0].string_map_data``)."""
    for rel in source.files():
        if _INSTAGRAM_PROFILE.search(rel):
            data = _get(_json_doc(source, rel), "profile_user", 0, "string_map_data")
            names = _clean_names([_get(data, "Name", "value"), _get(data, "Username", "value")])
            if names:
                return names
    return []


def thread_participants(value) -> list[str]:
    """The names of a DYI file's ``participants`` (``[{"name": ...}]``), mojibake repaired."""
    return _clean_names(p.get("name") for p in as_list(value) if isinstance(p, dict))


def valid_ms(ts) -> bool:
    """An epoch-milliseconds timestamp as Meta's exports write it: a number (not a JSON true/false)
    between 1970 and about 5138. Shared by the Facebook, Instagram and end-to-end-encrypted adapters."""
    return isinstance(ts, int | float) and not isinstance(ts, bool) and 0 < ts < MAX_MS
