"""The legacy Facebook HTML layouts (``html/messages.htm``, 2010-2018) read through fbchat-archive-parser.

Part of the ``facebook_html`` adapter (see its docstring for the layouts and their quirks), kept
apart because fbchat-archive-parser takes about a second to import (it builds its time-zone
tables): ``facebook_html`` imports this module only when an export holds a ``messages.htm``.
"""

from __future__ import annotations

import html
import html.entities
import io
import itertools
import posixpath
import re
import xml.etree.ElementTree as ET

from fbchat_archive_parser import parser as fbcap

from ingest.adapters._fb_html import TIMEZONE_HINTS, UNKNOWN_SENDER, Block, Msg, legacy_time
from ingest.errors import IngestError
from ingest.source import Source


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
            ts, wall = legacy_time(self.current_time) if self.current_time else (None, False)
            self.messages.append(Msg(
                sender=(self.current_sender or UNKNOWN_SENDER), ts=ts,
                text=self.current_text or "", media=self.current_media, order=next(self.counter), wall=wall))
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


class _Collector:
    """Overrides for fbcap's MessageHtmlParser: collect each thread block (merging happens in read())."""

    def _setup(self, source: Source, rel: str, counter) -> None:
        fbcap.MessageHtmlParser.__init__(self, io.StringIO(""), timezone_hints=TIMEZONE_HINTS)
        self.source, self.rel, self.counter = source, rel, counter
        self.handle = _SafeStream(source, rel)
        self.blocks: list[Block] = []
        self.current_rel = rel
        self.thread_files: list[str] = [rel]  # the files that hold messages (the manifest, or its links)

    def parse_participants(self, participants):
        """fbcap's split on ", ", keeping the owner where the export lists them (``read`` leaves out
        every spelling of the owner's name; fbcap removes only the exact one)."""
        if not participants:
            return ()
        return tuple(sorted(self.name_resolver.resolve(p) for p in participants.split(", ")))

    def parse_thread(self, participants, element_iter, require_flush):
        tp = _ThreadParser(element_iter, self.counter)
        _, thread = tp.parse(participants)
        self.blocks.append(Block(tuple(participants), self.current_rel, thread.messages))


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
        self.thread_files = []
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
            self.thread_files.append(rel)
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


def read_manifest(source: Source, rel: str, counter) -> tuple[str | None, list[Block], list[str]]:
    """(the owner named by ``<h1>``, the thread blocks, the thread files read) of one ``messages.htm``."""
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
            return p.user, p.blocks, p.thread_files
        except fbcap.UnsuitableParserError:
            continue
        finally:
            p.handle.close()
    raise IngestError(source.label(rel), None, "has a layout that fbchat-archive-parser does not know",
                      hint="ask Facebook for the JSON export instead")
