"""Facebook legacy HTML export (2010 to April 2018), and the later DYI HTML as a fallback.

Where it comes from: facebook.com > Settings > Download a copy of your Facebook
data (before April 2018), or "Download your information" in **HTML** format
(after April 2018; the JSON format, read by ``facebook``, is better: ask for it).
The legacy archive is read with the ``fbchat-archive-parser`` package (fbcap):
its XML-safe stream, its per-thread element parser, its manifest reader, its
participant splitting and its localised timestamp parser; this module feeds it
streams from the Source (so a zip is read in place) and keeps what fbcap drops.
Four layouts:

1. ``html/messages.htm``, one file, until October 2017. ``<h1>`` names the owner;
   each ``<div class="thread">Owner, Friend`` holds messages newest first::

       <div class="message"><div class="message_header"><span class="user">Friend</span>
         <span class="meta">Friday, October 4, 2013 at 10:05pm PDT</span></div></div>
       <p>the text</p>

2. October 2017: ``html/messages.htm`` is a manifest of ``<a href="../messages/12.html">``
   links, each thread file holding the same ``div.thread`` markup.
3. January 2018: the thread files start ``<h3>Conversation with X</h3>Participants: A, B``;
   the participants are taken from there (the manifest's are lossy).
4. After April 2018 (DYI HTML): ``messages/<section>/<thread>/message_N.html`` with
   generated class names. Read class-agnostically, like msgvault: the text of every
   innermost block is a line; after ``Participants: ...`` each message is a sender
   line, body lines, and a time line ("Oct 19, 2019, 2:37 PM", "19 Oct 2019, 14:37").
   These times carry no timezone and are taken as UTC. A thread folder that also
   holds ``message_N.json`` is left to the ``facebook`` adapter.

Quirks handled here:
- the same participant set appears as several ``div.thread`` blocks: they are merged
  into one thread keyed by the sorted participants (owner excluded), and a message
  repeated in another block of the same thread is skipped as ``duplicate``;
- deleted or blocked people appear as "Facebook User" (or a thread has no participants
  at all): such threads are never merged with each other (``Facebook User #1``, ``#2``, ...);
- ``<h1>`` is the owner: their messages get ``is_me`` and the name goes to ``frame.attrs["me"]``;
- timestamps are localised ("Sonntag, 4. Dezember 2016 um 13:54 UTC-07") and parsed by
  fbcap. Ending in ``UTC±H[:MM]`` they are exact. Olson names ("Asia/Kuala_Lumpur") are
  resolved with zoneinfo for that date (fbcap's table guesses one offset per name).
  Abbreviations go through fbcap's table, helped by ``TIMEZONE_HINTS`` (the North
  American and European abbreviations Facebook writes, which fbcap finds ambiguous
  because e.g. PST is also the Philippines). A time still unreadable or ambiguous
  (IST: India, Israel or Ireland?) skips that one message as ``bad_record``, never
  the whole export;
- minute precision: many messages tie, and ties keep the order of the conversation
  (document order reversed, as threads run newest first). Two identical messages in
  the same minute are both kept and get distinct ``message_id`` s (``#2`` appended to
  the hashed text of the second);
- an empty ``<p></p>`` body is what the legacy export wrote for a sticker or photo, so
  it is kept as an ``attachment`` with empty text, as is an ``<img>``; in DYI HTML a
  message with neither text nor image is skipped as ``empty``;
- notices written as text ("X sent an attachment.", "X named the group ...") are skipped
  as ``system`` / ``reaction`` with the ``facebook`` adapter's rules;
- an empty ``<span class="user">`` (deleted account) becomes sender "Unknown", as in fbcap;
- XML-illegal control characters are removed (fbcap's SafeXMLStream) and every HTML
  named entity is declared, so ``&eacute;`` parses as well as ``&nbsp;``.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from ingest import schema
from ingest.adapters._fb_html import FACEBOOK_USER, Block, Msg, parse_dyi_html
from ingest.adapters._meta import notice_kind
from ingest.errors import IngestError
from ingest.source import Source

PLATFORM = "facebook_html"

_MANIFEST = re.compile(r"(?:^|/)messages\.htm$")
_DYI_HTML = re.compile(r"(?:^|/)messages/(?P<section>[^/]+)/(?P<thread>[^/]+)/message_(?P<n>\d+)\.html$")
_DYI_JSON = re.compile(r"(?:^|/)messages/[^/]+/[^/]+/message_\d+\.json$")
_URL_ONLY = re.compile(r"^https?://\S+$")


def detect(source: Source) -> bool:
    return bool(_manifests(source) or _dyi_threads(source))


def _manifests(source: Source) -> list[str]:
    found = [f for f in source.files() if _MANIFEST.search(f)]
    files = source.files()
    if not found and len(files) == 1 and files[0].lower().endswith((".htm", ".html")):
        with source.open(files[0]) as fh:  # one legacy file passed alone, under another name
            if b'class="thread"' in fh.read(1 << 18):
                found = files
    return found


def _dyi_threads(source: Source) -> dict[str, list[str]]:
    """thread folder -> its message_N.html files, for folders without a JSON copy."""
    json_dirs = {posixpath.dirname(f) for f in source.files() if _DYI_JSON.search(f)}
    threads: dict[str, list[str]] = {}
    for f in source.files():
        if _DYI_HTML.search(f) and posixpath.dirname(f) not in json_dirs:
            threads.setdefault(posixpath.dirname(f), []).append(f)
    return threads


def _read_dyi(source: Source, folder: str, files: list[str], counter) -> list[Block]:
    number = lambda f: int(_DYI_HTML.search(f).group("n"))  # noqa: E731
    blocks = []
    for rel in sorted(files, key=number):
        block = parse_dyi_html(source.read_text(rel), rel, counter)
        block.key = posixpath.basename(folder)
        blocks.append(block)
    if blocks:  # the title of message_1 names the thread; all files share the key
        title = next((b.title for b in blocks if b.title), None)
        for b in blocks:
            b.title = title
    return blocks


# --- from blocks to the table --------------------------------------------------------------------


@dataclass
class _Thread:
    thread_id: str
    title: str
    participants: set[str]
    rows: list[tuple[Msg, str, str, int]] = field(default_factory=list)  # (msg, kind, rel, tie order)
    seen: Counter = field(default_factory=Counter)


def read(source: Source) -> pd.DataFrame:
    manifests, dyi = _manifests(source), _dyi_threads(source)
    if not manifests and not dyi:
        raise IngestError(source.name, None, "holds no html/messages.htm nor messages/.../message_N.html",
                          hint="pass the unzipped Facebook export folder or the .zip")
    if manifests:  # fbchat-archive-parser takes a second to import: only when a legacy export is read
        from ingest.adapters._fbcap import read_manifest
    counter = iter(range(1 << 62))
    owner: str | None = None
    blocks: list[Block] = []
    for rel in manifests:
        user, found = read_manifest(source, rel, counter)
        owner = owner or user
        blocks += found
    for folder in sorted(dyi):
        blocks += _read_dyi(source, folder, dyi[folder], counter)

    skipped: Counter = Counter()
    threads: dict[str, _Thread] = {}
    unknown = 0
    for block in blocks:
        skipped["bad_record"] += block.bad
        parts = tuple(p for p in block.participants if p != owner)
        if block.key:
            key, title = block.key, block.title or ", ".join(p for p in parts) or block.key
        elif not parts or set(parts) == {FACEBOOK_USER}:
            unknown += 1  # deleted or blocked people: never merge their threads together
            key, title = f"{FACEBOOK_USER} #{unknown}", FACEBOOK_USER
        else:
            key = title = ", ".join(sorted(parts))
        thread = threads.setdefault(key, _Thread(f"{PLATFORM}:{key}", title, set(parts)))
        counts: Counter = Counter()
        for msg in block.messages:
            if msg.ts is None:
                skipped["bad_record"] += 1
                continue
            text = msg.text
            if text:
                notice = notice_kind(msg.sender, text)
                if notice:
                    skipped[notice] += 1
                    continue
                kind = "link" if _URL_ONLY.match(text) else "text"
            elif msg.media or block.empty_means_attachment:
                kind = "attachment"
            else:
                skipped["empty"] += 1
                continue
            k = (msg.sender, msg.ts, text)
            counts[k] += 1
            if counts[k] <= thread.seen[k]:  # already read from another block of this thread
                skipped["duplicate"] += 1
                continue
            tie = msg.order if not block.newest_first else -msg.order
            thread.rows.append((msg, kind, block.rel, tie))
        for k, n in counts.items():
            thread.seen[k] = max(thread.seen[k], n)

    records = []
    for thread in threads.values():
        thread.rows.sort(key=lambda r: (r[0].ts, r[3]))
        if thread.participants and owner:  # the owner's own listing (senders may be names where these are ids)
            is_group = len(thread.participants) > 1
        else:  # the owner is unknown, or listed among the participants
            people = (thread.participants | {m.sender for m, *_ in thread.rows}) - {owner}
            is_group = len(people) > (1 if owner else 2)
        repeats: Counter = Counter()
        for msg, kind, rel, _ in thread.rows:
            k = (msg.sender, msg.ts, msg.text)
            repeats[k] += 1
            hashed = msg.text if repeats[k] == 1 else f"{msg.text}#{repeats[k]}"
            records.append({
                "platform": PLATFORM, "source": rel, "thread_id": thread.thread_id,
                "thread_title": thread.title, "is_group": is_group, "sender": msg.sender,
                "sender_id": msg.sender, "is_me": owner is not None and msg.sender == owner,
                "timestamp": msg.ts, "text": msg.text, "kind": kind,
                "message_id": schema.message_id(PLATFORM, thread.thread_id, msg.sender, msg.ts, hashed),
            })
    return schema.conform(records, skipped=+skipped, me=[owner] if owner else [])
