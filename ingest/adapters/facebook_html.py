"""Facebook HTML exports of every generation: the legacy archive (2010 to April 2018) and the
"Download your information" (DYI) HTML pages since (2018 to today).

Where it comes from: facebook.com > Settings > Download a copy of your Facebook data (before
April 2018), or "Download your information" in **HTML** format (after April 2018; the JSON format,
read by ``facebook``, is better: ask for it). The legacy archive is read with the
``fbchat-archive-parser`` package (fbcap): its XML-safe stream, its per-thread element parser, its
manifest reader and its localised timestamp parser; this module feeds it streams from the Source
(so a zip is read in place) and keeps what fbcap drops. The generations:

1. ``html/messages.htm``, one file, until October 2017. ``<h1>`` names the owner;
   each ``<div class="thread">Owner, Friend`` holds messages newest first::

       <div class="message"><div class="message_header"><span class="user">Friend</span>
         <span class="meta">Friday, October 4, 2013 at 10:05pm PDT</span></div></div>
       <p>the text</p>

2. October 2017: ``html/messages.htm`` is a manifest of ``<a href="../messages/12.html">``
   links, each thread file holding the same ``div.thread`` markup.
3. January 2018: the thread files start ``<h3>Conversation with X</h3>Participants: A, B``;
   the participants are taken from there (the manifest's are lossy).
4. DYI HTML, April 2018 to 2019: ``messages/<section>/<thread>/message_N.html`` (section:
   ``inbox``, ``archived_threads``, ``message_requests``, ``filtered_threads``...), newest first.
   ``<title>`` and a header div name the thread (the friend, or the group's name), then a line
   ``Participants: A, B`` (the owner left out), then one box per message::

       <div class="pam _3-95 _2pi0 _2lej uiBoxWhite noborder">
         <div class="_3-96 _2pio _2lek _2lel">Friend</div>            sender
         <div class="_3-96 _2let"><div><div></div><div>the text</div>  body (+ <img>, <ul><li> reactions)
         <div class="_3-94 _2lem">Jan 05, 2020, 8:31 PM</div></div>   time

5. DYI HTML, 2020 to 2023: the same shape, other class names (``pam _3-95 _2ph- _a6-g uiBoxWhite
   noborder``; sender ``_3-95 _2pim _a6-h _a6-i``, a div or an ``<h2>``; body ``_3-95 _a6-p``; time
   ``_3-94 _a6-o``) and times such as "Jun 18, 2015 9:35:16 pm". ``Participants:`` may list the owner.
6. DYI HTML, 2024 and later: under ``your_activity_across_facebook/messages/`` (2024) or
   ``your_facebook_activity/messages/`` (2025), with ``messages/`` still seen. No ``Participants:``
   line (a header may list them, or not); ``<title>`` or the first ``<h1>``/``<h2>`` names the
   thread. Nested divs (or ``<section>``, the sender in ``<h2>``, the time in a ``<footer>``) with
   new class names (``_a6-g``, ``_2ph_ _a6-h _a6-i``, ``_2ph_ _a6-p``, ``_3-94 _a6-o``, ``_a72d``);
   times with seconds and a lower-case am/pm glued on: "Mar 12, 2024 11:03:54pm".

Because the class names change every year, DYI pages are read by their shape (see
``_fb_html.parse_dyi_html``): the lines that are a date and a time are message times; the element
that holds a message is where two consecutive times part; in it the first line is the sender, the
lines up to the time the body (``<li>`` reactions left out). Times are read by a tolerant parser:
with or without a comma after the year, with or without seconds, am/pm with or without a space or
dots, 12- or 24-hour, day or month first, month names full or short in English, German, French,
Spanish, Portuguese, Italian, Dutch or Russian. A thread folder that also holds ``message_N.json``
is left to the ``facebook`` adapter; a DYI thread is ``facebook_html:<thread folder>``, titled as the
JSON export titles it, so the pipeline can join the two.

Quirks handled here:
- DYI times have no zone: they are the browser's wall clock, read in ``source.tz`` (``--tz``) and
  stored as true UTC; a legacy time without a zone too. ``message_id`` is computed from the wall
  clock as written, so ids do not change with ``--tz`` (nor from before zones were applied);
- the same participant set appears as several ``div.thread`` blocks: they are merged
  into one thread keyed by the sorted participants (owner excluded), and a message
  repeated in another block of the same thread is skipped as ``duplicate``;
- deleted or blocked people appear as "Facebook User" (or a thread has no participants
  at all): such threads are never merged with each other (``Facebook User #1``, ``#2``, ...);
- ``<h1>`` is the owner: their messages get ``is_me`` and the name goes to ``frame.attrs["me"]``.
  Legacy archives also write the owner "Last First" ("Carter Sam" for "Sam Carter"), or in other
  case, accents or spacing: every spelling with the same words is the owner (sender, sender_id and
  ``is_me``), is left out of the participants (thread key, title, ``is_group``) and goes to ``me``;
- the participants each thread lists go to ``frame.attrs["participants"]``;
- timestamps are localised ("Sonntag, 4. Dezember 2016 um 13:54 UTC-07") and parsed by
  fbcap. Ending in ``UTC±H[:MM]`` they are exact. Olson names ("Asia/Kuala_Lumpur") are
  resolved with zoneinfo for that date (fbcap's table guesses one offset per name).
  Abbreviations go through fbcap's table, helped by ``TIMEZONE_HINTS`` (the North
  American and European abbreviations Facebook writes, which fbcap finds ambiguous
  because e.g. PST is also the Philippines). "10:05 PM" is read as "10:05pm" (fbcap alone reads
  it as the morning). A time still unreadable or ambiguous (IST: India, Israel or Ireland?), or
  a DYI message box whose time cannot be read, skips that one message as ``bad_record``;
- a thread file (a legacy thread file, a DYI ``message_N.html``) that yields no message at all
  goes to ``frame.attrs["empty_files"]``, which the pipeline reports: never a silent loss;
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
from ingest.adapters._fb_html import FACEBOOK_USER, Block, Msg, name_tokens, parse_dyi_html
from ingest.adapters._meta import notice_kind
from ingest.errors import IngestError
from ingest.source import Source
from ingest.times import wall_ms_to_utc_ms

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
        block = source.attempt(lambda rel=rel: parse_dyi_html(source.read_text(rel), rel, counter))
        if block is None:  # damaged: set aside, the thread's other files read
            continue
        block.key = posixpath.basename(folder)
        blocks.append(block)
    if blocks:  # the title and participants of message_1 name the thread; all files share the key
        title = next((b.title for b in blocks if b.title), None)
        listed = next((b.participants for b in blocks if b.participants), ())
        for b in blocks:
            b.title, b.participants = title, b.participants or listed
    return blocks


# --- from blocks to the table --------------------------------------------------------------------


@dataclass
class _Thread:
    thread_id: str
    title: str
    participants: set[str]  # the others (never the owner)
    listed: set[str] = field(default_factory=set)  # every name the export lists, the owner's included
    rows: list[tuple[Msg, str, str, int]] = field(default_factory=list)  # (msg, kind, rel, tie order)
    seen: Counter = field(default_factory=Counter)


class _Owner:
    """The owner ``<h1>`` names, and every other spelling of that name the archive uses for them:
    the same words in another order ("Carter Sam"), case, accents or spacing."""

    def __init__(self, name: str | None):
        self.name = name
        self.tokens = name_tokens(name) if name else ()
        self.variants: set[str] = set()

    def __call__(self, name: str) -> str:
        """``name``, or the owner's name when it is one of its spellings."""
        if not self.tokens or name == self.name:
            return name
        if name_tokens(name) == self.tokens:
            self.variants.add(name)
            return self.name
        return name


def read(source: Source) -> pd.DataFrame:
    manifests, dyi = _manifests(source), _dyi_threads(source)
    if not manifests and not dyi:
        raise IngestError(source.name, None, "holds no html/messages.htm nor messages/.../message_N.html",
                          hint="pass the unzipped Facebook export folder or the .zip")
    if manifests:  # fbchat-archive-parser takes a second to import: only when a legacy export is read
        try:
            from ingest.adapters._fbcap import read_manifest
        except ImportError:  # its only release does not build on Python 3.12+ from PyPI (pyproject.toml)
            raise IngestError(source.name, manifests[0], "is a Facebook export of 2010-2018, read with "
                              "fbchat-archive-parser, which is not installed",
                              hint="run `make setup` (it installs it on any Python), or install talklike on "
                              "Python 3.11") from None
    counter = iter(range(1 << 62))
    user: str | None = None
    blocks: list[Block] = []
    thread_files: list[str] = []
    for rel in manifests:
        named, found, files = read_manifest(source, rel, counter)
        user = user or named
        blocks += found
        thread_files += files
    for folder in sorted(dyi):
        blocks += _read_dyi(source, folder, dyi[folder], counter)
        thread_files += dyi[folder]
    owner = _Owner(user)

    # DYI HTML times (and legacy times without a zone) are the browser's wall clock: read in source.tz
    wall = [m for b in blocks for m in b.messages if m.wall and m.ts is not None]
    for m, utc in zip(wall, wall_ms_to_utc_ms([m.ts for m in wall], source.tz).tolist(), strict=True):
        m.utc = utc

    skipped: Counter = Counter()
    held: Counter = Counter()  # thread file -> records read from it
    threads: dict[str, _Thread] = {}
    unknown = 0
    for block in blocks:
        held[block.rel] += len(block.messages) + block.bad
        skipped["bad_record"] += block.bad
        listed = tuple(sorted({owner(p) for p in block.participants}))
        parts = tuple(p for p in listed if p != owner.name)
        if block.key:
            key, title = block.key, block.title or ", ".join(parts) or block.key
        elif not parts or set(parts) == {FACEBOOK_USER}:
            unknown += 1  # deleted or blocked people: never merge their threads together
            key, title = f"{FACEBOOK_USER} #{unknown}", FACEBOOK_USER
        else:
            key = title = ", ".join(parts)
        thread = threads.setdefault(key, _Thread(f"{PLATFORM}:{key}", title, set(parts)))
        thread.listed.update(listed)
        counts: Counter = Counter()
        for msg in block.messages:
            if msg.ts is None:
                skipped["bad_record"] += 1
                continue
            if not msg.wall:
                msg.utc = msg.ts
            msg.sender = owner(msg.sender)
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
        thread.rows.sort(key=lambda r: (r[0].utc, r[3]))
        if thread.participants and owner.name:  # the owner's own listing (senders may be names where these are ids)
            is_group = len(thread.participants) > 1
        else:  # the owner is unknown, or listed among the participants
            people = (thread.participants | {m.sender for m, *_ in thread.rows}) - {owner.name}
            is_group = len(people) > (1 if owner.name else 2)
        repeats: Counter = Counter()
        for msg, kind, rel, _ in thread.rows:
            k = (msg.sender, msg.ts, msg.text)
            repeats[k] += 1
            hashed = msg.text if repeats[k] == 1 else f"{msg.text}#{repeats[k]}"
            records.append({
                "platform": PLATFORM, "source": rel, "thread_id": thread.thread_id,
                "thread_title": thread.title, "is_group": is_group, "sender": msg.sender,
                "sender_id": msg.sender, "is_me": owner.name is not None and msg.sender == owner.name,
                "timestamp": msg.utc, "text": msg.text, "kind": kind,
                # from the time as written (the wall clock), so that ids do not change with --tz
                "message_id": schema.message_id(PLATFORM, thread.thread_id, msg.sender, msg.ts, hashed),
            })
    me = sorted({owner.name, *owner.variants}) if owner.name else []
    return schema.conform(
        records, skipped=+skipped, me=me,
        empty_files=[f for f in dict.fromkeys(thread_files) if not held[f]],
        participants={t.thread_id: sorted(t.listed) for t in threads.values() if t.listed})
