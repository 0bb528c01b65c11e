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

import html
import html.entities
import io
import itertools
import posixpath
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from fbchat_archive_parser import parser as fbcap
from fbchat_archive_parser import time as fbcap_time

from ingest import schema
from ingest.errors import IngestError
from ingest.facebook import _notice_kind
from ingest.source import Source

PLATFORM = "facebook_html"

# Offsets (hours, minutes) for abbreviations fbcap's table finds ambiguous or lacks.
TIMEZONE_HINTS: dict[str, tuple[int, int]] = {
    "PST": (-8, 0), "PDT": (-7, 0), "MST": (-7, 0), "MDT": (-6, 0), "CST": (-6, 0), "CDT": (-5, 0),
    "EST": (-5, 0), "EDT": (-4, 0), "AKST": (-9, 0), "AKDT": (-8, 0), "HST": (-10, 0),
    "GMT": (0, 0), "UTC": (0, 0), "WET": (0, 0), "WEST": (1, 0), "BST": (1, 0),
    "CET": (1, 0), "CEST": (2, 0), "EET": (2, 0), "EEST": (3, 0),
}
FACEBOOK_USER = "Facebook User"
UNKNOWN_SENDER = "Unknown"  # fbcap's name for an empty <span class="user">

_MANIFEST = re.compile(r"(?:^|/)messages\.htm$")
_DYI_HTML = re.compile(r"(?:^|/)messages/(?P<section>[^/]+)/(?P<thread>[^/]+)/message_(?P<n>\d+)\.html$")
_DYI_JSON = re.compile(r"(?:^|/)messages/[^/]+/[^/]+/message_\d+\.json$")
_URL_ONLY = re.compile(r"^https?://\S+$")
_OLSON = re.compile(r"^[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+$")


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


# --- reading: the legacy layouts through fbcap ---------------------------------------------------


@dataclass
class _Msg:
    sender: str
    ts: int | None  # epoch ms; None when the time could not be read
    text: str
    media: bool
    order: int  # position in the export (document order)


@dataclass
class _Block:
    """One div.thread (legacy) or one thread file (split layouts, DYI HTML)."""

    participants: tuple[str, ...]
    rel: str
    messages: list[_Msg]
    newest_first: bool = True
    key: str | None = None  # a fixed thread key (DYI HTML folders); else from participants
    title: str | None = None
    empty_means_attachment: bool = True
    bad: int = 0  # records that could not be read at all


class _SafeStream(fbcap.SafeXMLStream):
    """fbcap's scrubbing stream over a Source member, declaring every HTML entity."""

    HTML_ENTITY_DEF = (
        "<!DOCTYPE html [<!ENTITY nbsp ' '>"
        + "".join(f'<!ENTITY {name} "&#{code};">' for name, code in html.entities.name2codepoint.items()
                  if name not in ("nbsp", "amp", "lt", "gt", "quot", "apos"))
        + "]>"
    ).encode("ascii")
    _PROLOGUE = re.compile(r"^\ufeff?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>)?", re.IGNORECASE)

    def __init__(self, source: Source, rel: str):
        self.label = source.label(rel)
        super().__init__(io.TextIOWrapper(source.open(rel), encoding="utf-8"))
        self._first = True

    def read(self, size=-1):
        if not self.returned_dtd:
            self.returned_dtd = True
            return self.HTML_ENTITY_DEF
        try:
            buff = self.stream.read(size)
        except UnicodeDecodeError:
            raise IngestError(self.label, None, "is not UTF-8 text",
                              hint="re-download the export, or convert the file to UTF-8") from None
        if self._first:
            self._first = False
            buff = self._PROLOGUE.sub("", buff, count=1)
        return re.sub(self.scrubber, "", buff).encode("utf-8")

    def close(self) -> None:
        self.stream.close()


def _iterparse(stream: _SafeStream):
    """fbcap's element stream, with XML errors turned into IngestError."""
    try:
        yield from ET.iterparse(stream, events=("start", "end"), parser=ET.XMLParser(encoding="UTF-8"))
    except ET.ParseError as exc:
        line, col = exc.position
        raise IngestError(stream.label, f"line {line} column {col}", "is not well-formed HTML",
                          hint="the file is damaged or cut short; download the export again") from None


class _ThreadParser(fbcap.ChatThreadParser):
    """fbcap's per-thread parser, keeping what it drops: an unreadable time costs one message,
    not the export; pictures are noted; the whole text of the <p> is kept."""

    def __init__(self, element_iter, counter):
        super().__init__(element_iter, timezone_hints=TIMEZONE_HINTS, use_utc=True)
        self.counter = counter
        self._reset()

    def _reset(self) -> None:
        self.current_sender, self.current_time, self.current_text, self.current_media = None, None, None, False

    def _process_element(self, pos, e):
        tag, class_attr = fbcap._tag_and_class_attr(e)
        start_of_message = tag == "div" and class_attr == "message" and pos == "start"
        end_of_thread = tag == "div" and "thread" in class_attr and pos == "end"
        if (start_of_message or end_of_thread) and self.messages_started:
            # fbcap raises UnsuitableParserError for a message without time; here it costs that message
            self.messages.append(_Msg(
                sender=(self.current_sender or UNKNOWN_SENDER),
                ts=_timestamp(self.current_time) if self.current_time else None,
                text=self.current_text or "", media=self.current_media, order=next(self.counter)))
            self._reset()
        elif start_of_message:
            self.messages_started = True
            self._reset()
        elif tag == "span" and pos == "end":
            if "user" in class_attr:
                self.current_sender = (e.text or "").strip() or None
            elif "meta" in class_attr:
                self.current_time = (e.text or "").strip()
        elif tag == "p" and pos == "end":
            # the first <p> after the header ("accidental double <p> nesting", says fbcap)
            if not self.current_text:
                self.current_text = "".join(e.itertext()).strip()
            e.clear()
        elif tag == "img" and pos == "start" and self.messages_started:
            self.current_media = True
        return end_of_thread


def _timestamp(raw: str) -> int | None:
    """Epoch ms from a legacy timestamp, or None when it cannot be read unambiguously."""
    try:
        stamp, zone = raw.rsplit(" ", 1)
        if _OLSON.match(zone):
            try:
                tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                tz = None
            if tz is not None:
                local = fbcap_time.parse_timestamp(stamp + " UTC", True, {})
                return int(local.replace(tzinfo=tz).timestamp() * 1000)
        return int(fbcap_time.parse_timestamp(raw, True, TIMEZONE_HINTS).timestamp() * 1000)
    except (fbcap_time.UnexpectedTimeFormatError, fbcap_time.AmbiguousTimeZoneError,
            ValueError, IndexError, TypeError, OverflowError):
        return None


class _Collector:
    """Overrides for fbcap's MessageHtmlParser: collect each thread block (merging happens in read())."""

    def _setup(self, source: Source, rel: str, counter) -> None:
        fbcap.MessageHtmlParser.__init__(self, io.StringIO(""), timezone_hints=TIMEZONE_HINTS)
        self.source, self.rel, self.counter = source, rel, counter
        self.handle = _SafeStream(source, rel)
        self.blocks: list[_Block] = []
        self.current_rel = rel

    def parse_thread(self, participants, element_iter, require_flush):
        tp = _ThreadParser(element_iter, self.counter)
        _, thread = tp.parse(participants)
        self.blocks.append(_Block(tuple(participants), self.current_rel, thread.messages))


class _LegacyParser(_Collector, fbcap.LegacyMessageHtmlParser):
    """The single ``messages.htm`` (until October 2017)."""

    def __init__(self, source: Source, rel: str, counter):
        self._setup(source, rel, counter)

    def parse_impl(self):
        it = _iterparse(self.handle)
        for pos, element in it:
            tag, class_attr = fbcap._tag_and_class_attr(element)
            if tag == "h1" and pos == "end":
                if not self.user and (element.text or "").strip():
                    self.user = element.text.strip()
            elif tag == "div" and "thread" in class_attr and pos == "start":
                # fbcap reads the participants (the div's leading text) at the div's start, when
                # iterparse may not have read it yet; the next event guarantees it has.
                first = next(it, None)
                participants = self.parse_participants((element.text or "").strip())
                self.parse_thread(participants, itertools.chain([first] if first else [], it), True)
                element.clear()


class _SplitParser(_Collector, fbcap.SplitMessageHtmlWithImagesParser):
    """The October 2017 manifest and its thread files, with the January 2018 header when present."""

    def __init__(self, source: Source, rel: str, counter):
        self._setup(source, rel, counter)

    def manifest(self) -> list[tuple[tuple[str, ...], str]]:
        """(participants, href) of each thread link; fbcap's rules: links count after div.contents."""
        refs, in_contents = [], False
        for pos, element in _iterparse(self.handle):
            tag, class_attr = fbcap._tag_and_class_attr(element)
            if tag == "h1" and pos == "end":
                if not self.user and (element.text or "").strip():
                    self.user = element.text.strip()
            elif tag == "div" and "content" in class_attr and pos == "start":
                in_contents = True
            elif tag == "a" and pos == "end" and in_contents and element.get("href"):
                refs.append((self.parse_participants("".join(element.itertext()).strip()), element.get("href")))
        if not refs:
            raise fbcap.UnsuitableParserError  # fbcap's cue for the single-file layout
        return refs

    def parse_impl(self):
        files = set(self.source.files())
        base = posixpath.dirname(self.rel)
        for n, (participants, href) in enumerate(self.manifest(), start=1):
            rel = _resolve(href, base, files)
            if rel is None:
                raise IngestError(self.source.label(self.rel), f"link {n}",
                                  "points to a thread file that is not in the export",
                                  hint="pass the whole unzipped export (with its messages/ folder) or the .zip")
            with self.source.open(rel) as fh:
                head = fh.read(20000).decode("utf-8", "replace")
            m = self._PARTICIPANT_PARSER.search(head)
            if m:  # January 2018: the thread file's own header (the manifest's names are lossy)
                participants = self.parse_participants(html.unescape(m.group(1)).strip())
            self.current_rel = rel
            stream = _SafeStream(self.source, rel)
            try:
                self.parse_thread(participants, _iterparse(stream), False)
            finally:
                stream.close()


def _resolve(href: str, base: str, files: set[str]) -> str | None:
    """The member a manifest link names: relative to the archive root (fbcap) or to the manifest."""
    href = href.split("#", 1)[0]
    stripped = re.sub(r"^(?:\.\./)+", "", href)
    root = posixpath.dirname(base)
    for cand in (posixpath.join(root, stripped), posixpath.normpath(posixpath.join(base, href)),
                 posixpath.join(base, stripped), stripped):
        cand = posixpath.normpath(cand).lstrip("/")
        if cand in files:
            return cand
    return None


def _read_manifest(source: Source, rel: str, counter) -> tuple[str | None, list[_Block]]:
    with source.open(rel) as fh:
        head = fh.read(1 << 18).decode("utf-8", "replace")
    if "There was an error loading the data" in head and 'class="thread"' not in head:
        raise IngestError(source.label(rel), None, "is Facebook's error page, not your messages",
                          hint="download your information again from Facebook")
    parsers = (_LegacyParser,) if 'class="thread"' in head else (_SplitParser, _LegacyParser)
    for cls in parsers:  # fbcap's order: the split layouts, then the single file
        p = cls(source, rel, counter)
        try:
            p.parse_impl()
            return p.user, p.blocks
        except fbcap.UnsuitableParserError:
            continue
        finally:
            p.handle.close()
    raise IngestError(source.label(rel), None, "has a layout that fbchat-archive-parser does not know",
                      hint="ask Facebook for the JSON export instead")


# --- reading: DYI HTML (after April 2018), class-agnostic ----------------------------------------

_BLOCK_TAGS = {"div", "p", "li", "td", "h1", "h2", "h3", "h4", "ul", "ol", "table", "tr", "section"}
_SKIP_TAGS = {"head", "title", "script", "style"}
_DYI_TIMES = ("%b %d, %Y, %I:%M %p", "%b %d, %Y at %I:%M %p", "%d %b %Y, %H:%M", "%b %d, %Y, %I:%M:%S %p",
              "%B %d, %Y, %I:%M %p", "%B %d, %Y at %I:%M %p", "%d %B %Y, %H:%M")


class _Lines(HTMLParser):
    """Each innermost block's text becomes one line; <img>, <video>, <audio> are noted by line index."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, str]] = []  # (tag of the block, text)
        self.media: list[int] = []
        self.title = ""
        self._buf: list[str] = []
        self._stack: list[str] = []
        self._skip = 0
        self._in_title = False

    def _flush(self) -> None:
        text = "\n".join(" ".join(part.split()) for part in "".join(self._buf).split("\n")).strip()
        self._buf = []
        if text:
            self.lines.append((self._stack[-1] if self._stack else "", text))

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self._skip += 1
            self._in_title = tag == "title"
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._stack.append(tag)
        elif tag == "br":
            self._buf.append("\n")
        elif tag in ("img", "video", "audio"):
            self.media.append(len(self.lines))

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag in self._stack:
                while self._stack.pop() != tag:
                    pass

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buf.append(data)

    def close(self):
        super().close()
        self._flush()


def _dyi_time(line: str) -> int | None:
    for fmt in _DYI_TIMES:
        try:
            return int(datetime.strptime(line, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    return None


def parse_dyi_html(text: str, rel: str, counter) -> _Block:
    """One DYI message_N.html: participants, title and messages (sender, body lines, time line)."""
    p = _Lines()
    p.feed(text)
    p.close()
    lines, participants, start = p.lines, (), 0
    for i, (_, line) in enumerate(lines):
        if line.startswith("Participants:"):
            participants = tuple(n.strip() for n in line[len("Participants:"):].split(",") if n.strip())
            start = i + 1
            break
    msgs, bad, seg_start = [], 0, start
    for i in range(start, len(lines)):
        ts = _dyi_time(lines[i][1])
        if ts is None:
            continue
        seg = lines[seg_start:i]
        media = any(seg_start <= k <= i for k in p.media)
        if not seg:
            bad += 1
        else:
            body = [t for tag, t in seg[1:] if tag != "li"]  # <li>: the reactions under a message
            msgs.append(_Msg(sender=seg[0][1], ts=ts, text="\n".join(body).strip(), media=media,
                             order=next(counter)))
        seg_start = i + 1
    ascending = len(msgs) > 1 and msgs[0].ts < msgs[-1].ts  # Facebook writes newest first; msgvault's files not
    return _Block(participants, rel, msgs, newest_first=not ascending,
                  title=" ".join(p.title.split()) or None, empty_means_attachment=False, bad=bad)


def _read_dyi(source: Source, folder: str, files: list[str], counter) -> list[_Block]:
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
    rows: list[tuple[_Msg, str, str, int]] = field(default_factory=list)  # (msg, kind, rel, tie order)
    seen: Counter = field(default_factory=Counter)


def read(source: Source) -> pd.DataFrame:
    manifests, dyi = _manifests(source), _dyi_threads(source)
    if not manifests and not dyi:
        raise IngestError(source.name, None, "holds no html/messages.htm nor messages/.../message_N.html",
                          hint="pass the unzipped Facebook export folder or the .zip")
    counter = iter(range(1 << 62))
    owner: str | None = None
    blocks: list[_Block] = []
    for rel in manifests:
        user, found = _read_manifest(source, rel, counter)
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
                notice = _notice_kind(msg.sender, text)
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
