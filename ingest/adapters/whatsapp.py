"""WhatsApp chat export, ``.txt`` format, in the languages and calendars phones write it in.

Where it comes from: in a chat, Menu (Android) or the contact's name (iOS) >
More > Export chat, "Without media" or "Include media". Android writes
``WhatsApp Chat with <name>.txt`` (beside the media files when media are
included); iOS always shares a zip, ``WhatsApp Chat - <name>.zip``, holding
``_chat.txt`` and the media. One file is one chat. Every ``.txt`` in the source
whose first line is a WhatsApp message header is read; other ``.txt`` files (a
shared document among the media) are left alone. A raw record is a line::

    12/01/2019, 21:05 - Ana Beatriz: vamos ao café?          (Android, 24-hour)
    1/4/23, 7:02\u202fPM - Ana Beatriz: <Media omitted>       (Android, 12-hour, U+202F)
    01/30/2019, 08:49 p. m. - Ana: ...                        (Spanish locale)
    2019/01/30, 20:49 - Ana: ...                              (year first)
    \u200e[04.01.18, 11:53:57] Ana: \u200eimage omitted       (iOS, bracketed, seconds)
    09/17/19, 8:30:52 AM – Ana: ...                           (en dash separator)
    ١٢\u200f/٣\u200f/٢٠٢٢، ٢:٠٢ م - أحمد: ...                    (Arabic digits, comma, PM word)
    [12/3/2565 14:02:11] Somchai: ...                         (Thai iPhone: Buddhist year)
    [R4/03/12 14:02:11] 佐藤: ...                              (Japanese era year; also 令和4, H31)
    2022. 3. 12. 오후 2:02 - 민수: ...                           (Korean)

The phone's own words (placeholders, notices, the title) and its digits and
calendars are in ``_transcript.py``, shared with other line-based chat logs.

Quirks handled here:
- a line that does not start with a header continues the previous message
  (multi-line messages); the header style (bracketed or `` - ``) is fixed by the
  file's first line, so a chat pasted from another phone stays message text, and
  a header whose date is impossible for the file (month 13) is text too;
- headers are read after removing bidi marks (U+200E/F, U+061C, U+202A-E,
  U+2066-9, BOM), making U+202F/U+00A0 plain spaces and every script's digits
  ASCII (Arabic-Indic, Persian, Devanagari, Bengali, Thai, ...); AM/PM may be
  ``a. m.``, 上午/下午, 午前/午後, 오전/오후, ص/م, ق.ظ/ب.ظ, SA/CH, ... before or after;
- calendars, decided per file from its years: a four-digit year above 2400, or
  two-digit years 50 and above, are Buddhist (year - 543); Japanese era years
  (R/令和 + 2018, H/平成 + 1988, 元 = 1) are read per date; four-digit years
  1300-1424 are Solar Hijri (Iran), 1425-1600 Islamic (tabular, may be a day
  off Umm al-Qura);
- day/month order is not written anywhere: it is inferred per file from the
  values (a first field above 12 means day first, a second field above 12 means
  month first); when every date is ambiguous (both fields 12 or less) the
  order under which the file runs forward in time more often wins, and a tie
  falls back to **day first**, the order of most locales; two- and
  four-digit years may be mixed in one file (two-digit years are 20xx); a
  four-digit first field means year/month/day;
- no timezone is given: the times are the phone's wall clock, read in
  ``source.tz`` (``--tz``) and stored as true UTC; ``message_id`` is computed
  from the wall-clock time as written, so ids do not change with the zone;
  document order is kept (rows are not re-sorted, a phone whose clock moved
  stays in order);
- two identical messages from one sender in the same minute (second, on iOS) are
  both kept: the 2nd, 3rd... get ``#2``, ``#3`` appended to the text their id is
  hashed from, so only a re-read of the same file gives the same ids again;
- lines without ``Name:`` are system notices (encryption notice, "created
  group", "You were added", ...), as are notices whose first ``": "`` sits in a
  quoted group title or after a group verb (``created group "Trip: 2018"``,
  ``создал(а) группу «Дача: лето»``); iOS writes notices as messages that start
  with U+200E, recognised by the phrases of every language in the table (group
  events, number changes, encryption and security codes, calls); group notices
  also make the chat a group even when only two people wrote;
- a colon inside the author's name: the header is split at the first ``": "``
  (``Name:`` alone, text on the next lines, also works), checked against the
  names of the file: a split name whose every message (two or more) begins with
  the same ``"Word: "`` is taken to include it (``Coach: Tom``). A name with
  ``": "`` that writes only once is read as the part before the first colon;
- media placeholders in any language: Android's ``<Media omitted>``
  (``<Medien ausgeschlossen>``, ``<Медиа отсутствуют>``, ``<Media weggelaten>``,
  ... or any ``<...>`` naming media or "omitted"), iOS's ``image omitted``
  (``Bild weggelassen``, ``imagen omitida``, ``изображение отсутствует``, ...),
  ``<attached: 0000-PHOTO-....jpg>`` with the label in any language and
  ``IMG-....jpg (file attached)`` are attachments (stickers, ``.webp`` and
  ``STK-`` files are stickers); lines after the placeholder are the caption,
  kept as the text;
- ``Name:.`` and ``null`` (view-once media) and deleted-message notices in any
  language are unsent; "You deleted this message" (and its translations) names
  its sender as the owner of the export (``is_me``), the only place the file
  says who that is; "Waiting for this message" is empty;
- polls (``POLL:`` / ``ОПРОС:`` / ``UMFRAGE:`` ... with ``OPTION: x (n votes)``
  lines, or any ``WORD:`` line followed by two such lines) are skipped as
  ``poll``; shared locations (``location: https://maps.google.com/?q=lat,lon``,
  any label, and "Live location shared" in its translations) as ``location``;
- a trailing ``<This message was edited>`` (in any language) is removed (the
  text is the final one); bidi and invisible marks are removed from texts and
  names too (U+200D, the emoji joiner, stays);
- a file recognised as a chat that holds no message (only notices) is listed in
  ``empty_files``;
- thread_id is ``"whatsapp:" + file stem`` (for iOS's generic ``_chat.txt``, the
  name of the folder or zip that holds it), without what a copy adds to a file name
  (``(1)``, `` - Copy``, `` copy``), so a chat saved twice is one thread (macOS's bare `` 2`` is
  not taken as a copy: "Team 2" is another group, and iOS's ``_chat 2.txt`` another chat);
  the title is ``X`` from ``WhatsApp Chat with X`` / ``WhatsApp Chat - X`` (and their
  translations), else the stem;
  sender_id is the name as written (a contact name or a phone number).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import PurePosixPath
from typing import NamedTuple

import pandas as pd

from ingest import schema, times
from ingest.adapters import _transcript as tr
from ingest.errors import IngestError
from ingest.source import Source

PLATFORM = "whatsapp"

# AM/PM words: Latin a.m./p.m. (below), Chinese, Japanese, Korean, Arabic, Persian, Vietnamese, Thai,
# Hindi and Greek.
_AMPM_WORDS = (r"上午|下午|午前|午後|오전|오후|ص|م|ق\.ظ\.?|ب\.ظ\.?|SA|CH|ก่อนเที่ยง|หลังเที่ยง|पूर्वाह्न|अपराह्न|"
               r"π\.μ\.|μ\.μ\.")
_PM_WORDS = frozenset({"pm", "下午", "午後", "오후", "م", "بظ", "ch", "หลังเที่ยง", "अपराह्न", "μμ"})
# "12/01/2019", "2019/01/30", "R4/03/12" (Japanese era), "2022. 3. 12." (Korean).
_DATE = (rf"(?:(?P<era>{tr.ERA_PATTERN}) ?)?(?P<d1>\d{{1,4}}|元)[./-] ?(?P<d2>\d{{1,2}})[./-] ?"
         r"(?P<d3>\d{1,4})\.?")
_TIME = (rf"(?:(?P<ampm1>{_AMPM_WORDS}) ?)?(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<s>\d{{2}}))?"
         rf"(?: ?(?P<ampm>[AaPp]\.? ?[Mm]\.?|{_AMPM_WORDS}))?")
# Each style: the regex for a message header line (after tr.normalise_header: marks gone, digits ASCII).
_STYLES = {
    "bracket": re.compile(rf"^\[{_DATE},? {_TIME}\] (?P<rest>.*)$", re.DOTALL),
    "dash": re.compile(rf"^{_DATE},? {_TIME} [-–] (?P<rest>.*)$", re.DOTALL),
}
# Signal (signal-export) writes [YYYY-MM-DD, HH:MM] headers, which WhatsApp never does.
_SIGNAL_HEADER = re.compile(r"^\[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}\] ")

# "Name: text", "Name:" (text on the next lines) and "Name:." (view-once media).
_NAME = re.compile(r"^(?P<name>[^\n]+?):(?:(?P<dot>\.)$|$| (?P<text>.*))", re.DOTALL)
_VIEW_ONCE = {"null"}
_URL_ONLY = re.compile(r"^https?://\S+$")
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_HEAD = 96  # characters of a line that can hold its header (date, time, marks) and the name's start


def _first_line(source: Source, rel: str) -> str:
    with source.open(rel) as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    for line in head.splitlines():
        line = tr.normalise_header(line).strip()
        if line:
            return line
    return ""


def _is_whatsapp(source: Source, rel: str) -> bool:
    if not rel.lower().endswith(".txt"):
        return False
    first = _first_line(source, rel)
    return not _SIGNAL_HEADER.match(first) and any(rx.match(first) for rx in _STYLES.values())


def detect(source: Source) -> bool:
    return any(_is_whatsapp(source, rel) for rel in source.files())


# What a copy of a file adds to its name: "(1)" (browsers, Windows), " - Copy" (Windows Explorer),
# " copy" (macOS Finder). The same chat saved twice is one thread, its messages duplicates.
_COPY_SUFFIX = re.compile(r"(?:\s*\(\d{1,3}\)| - Copy(?: \(\d{1,3}\))?| copy(?: \d{1,3})?)$", re.IGNORECASE)


def _uncopied(name: str) -> str:
    """``name`` without the marks of a copy (``WhatsApp Chat with Kim (1)`` -> ``WhatsApp Chat with Kim``)."""
    while (bare := _COPY_SUFFIX.sub("", name)) != name and bare.strip():
        name = bare
    return name


def _chat_name(source: Source, rel: str) -> str:
    """The chat's name: the file stem, or for iOS's ``_chat.txt`` the folder or zip that holds it,
    without the marks a copy adds to a file name."""
    path = PurePosixPath(rel)
    if _uncopied(path.stem).lower() != "_chat":
        return _uncopied(path.stem)
    if len(path.parts) > 1:
        return _uncopied(path.parts[-2])
    outer = PurePosixPath(source.name.replace("\\", "/")).name
    outer = outer[:-4] if outer.lower().endswith(".zip") else outer
    return _uncopied(outer) or path.stem


class _Stamp(NamedTuple):
    era: str | None  # Japanese era letter or kanji, when written
    d1: int  # the three date fields as written
    d2: int
    d3: int
    h: int
    mi: int
    s: int
    ampm: str | None  # the AM/PM word, dots and spaces removed, lower case
    year_first: bool  # an era, or three or four digits in the first field
    long_year: bool  # the year field has three or four digits

    @property
    def year(self) -> int:
        return self.d1 if self.year_first else self.d3


@dataclass
class _Message:
    line: int  # 1-based line number of the header
    ts: _Stamp
    rest: str  # the header line after the time, as written (spaces and marks kept)
    more: list[str] = field(default_factory=list)  # continuation lines


def _stamp(m: re.Match) -> _Stamp:
    g = m.groupdict()
    ampm = g["ampm"] or g["ampm1"]
    d1 = 1 if g["d1"] == "元" else int(g["d1"])
    year_first = g["era"] is not None or len(g["d1"]) >= 3
    return _Stamp(g["era"], d1, int(g["d2"]), int(g["d3"]), int(g["h"]), int(g["mi"]), int(g["s"] or 0),
                  ampm.replace(".", "").replace(" ", "").lower() if ampm else None,
                  year_first, len(g["d1"] if year_first else g["d3"]) >= 3)


def _split(text: str) -> list[tuple[str, int, _Message | None]]:
    """Lines with their header match (or None), header style fixed by the first header."""
    style = None
    out: list = []
    for n, raw in enumerate(text.splitlines(), 1):
        clean = tr.normalise_header(raw[:_HEAD])  # the header is at the start: the text needs no work
        m = None
        if style is None:
            for name, rx in _STYLES.items():
                m = rx.match(clean)
                if m:
                    style = name
                    break
        else:
            m = _STYLES[style].match(clean)
        if m:
            out.append((raw, n, _Message(n, _stamp(m), raw[tr.raw_offset(raw[:_HEAD], clean, m.start("rest")):])))
        else:
            out.append((raw, n, None))
    return out


def _day_first(stamps: list[_Stamp], calendar: str) -> bool:
    """Whether the file writes the day before the month (see the module docstring)."""
    short = [t for t in stamps if not t.year_first]
    if any(t.d1 > 12 for t in short):
        return True
    if any(t.d2 > 12 for t in short):
        return False
    # Every date is ambiguous: take the order under which the export runs forward in time more often.
    def backwards(day_first: bool) -> int:
        times_ = [ms for ms in (_wall_ms(t, day_first, calendar) for t in short) if ms is not None]
        return sum(b < a for a, b in pairwise(times_))

    return backwards(True) <= backwards(False)


def _wall_ms(ts: _Stamp, day_first: bool, calendar: str) -> int | None:
    """Epoch ms of the wall-clock time as written (as if it were UTC); None when it cannot exist."""
    if ts.year_first:
        y, mo, d = ts.d1, ts.d2, ts.d3
    else:
        y, mo, d = ts.d3, *((ts.d2, ts.d1) if day_first else (ts.d1, ts.d2))
    ymd = tr.gregorian(calendar, ts.era, y, mo, d)
    h = ts.h
    if ts.ampm and h <= 12:
        h = h % 12 + (12 if ts.ampm in _PM_WORDS else 0)
    if ymd is None or h > 23 or ts.mi > 59 or ts.s > 59:
        return None
    days = date(*ymd).toordinal() - _EPOCH_DAY
    return ((days * 24 + h) * 60 + ts.mi) * 60_000 + ts.s * 1000


def _parse_file(source: Source, rel: str) -> tuple[list[_Message], list[int]]:
    """The file's messages (continuations attached) and the wall-clock ms of each."""
    lines = _split(source.read_text(rel))
    stamps = [m.ts for _, _, m in lines if m]
    calendar = tr.file_calendar([(t.era, t.year, t.long_year) for t in stamps])
    day_first = _day_first(stamps, calendar)
    messages: list[_Message] = []
    wall: list[int] = []
    for raw, n, m in lines:
        ms = _wall_ms(m.ts, day_first, calendar) if m is not None else None
        if ms is not None:
            messages.append(m)
            wall.append(ms)
        elif messages:
            messages[-1].more.append(raw)
        elif raw.strip():
            raise IngestError(source.label(rel), f"line {n}", "does not start with a WhatsApp message header",
                              hint="pass the .txt exactly as WhatsApp exported it")
    return messages, wall


def _name_and_text(rest: str, known: set[str]) -> tuple[str, str | None] | None:
    """``(name, text)`` from ``Name: text``, preferring the longest split whose name is known; text is
    None for ``Name:.`` (view-once). None for a line with no ``Name:`` (a system notice)."""
    rest = rest.strip()
    colon = rest.find(": ")
    if colon > 0 and tr.quoted_title_notice(tr.clean_name(rest[:colon])):
        return None
    m = _NAME.match(rest)
    if not m:
        return None
    name, text = m.group("name"), m.group("text")
    if m.group("dot"):
        return tr.clean_name(name), None
    text = text or ""
    for k in re.finditer(r": ", text):
        longer = f"{name}: {text[:k.start()]}"
        if longer.strip() in known:
            name, text = longer, text[k.end():]
            break
    return tr.clean_name(name), text


def _known_names(splits: list[tuple[str, str | None] | None]) -> set[str]:
    """Names with ": " inside: a split name whose every message (two or more) begins with the same
    ``"Word: "`` is taken to include it (``splits``: each message split at its first colon)."""
    texts: dict[str, list[str]] = {}
    for split in splits:
        if split and split[1] is not None:
            texts.setdefault(split[0], []).append(split[1])
    known = set()
    for name, items in texts.items():
        heads = {t.split(": ", 1)[0] if ": " in t else None for t in items}
        if len(items) >= 2 and len(heads) == 1 and None not in heads:
            head = heads.pop()
            if head and "\n" not in head and len(head) <= 40:
                known.add(f"{name}: {head}")
    return known


def _media(first: str, marked: bool) -> str | None:
    """``"attachment"`` or ``"sticker"`` when the first line is a media placeholder, else None."""
    if tr.MEDIA.match(first):
        return "sticker" if tr.STICKER.search(first) else "attachment"
    got = tr.ATTACHED.match(first) or tr.FILE_ATTACHED.match(first)
    if got:
        name = (got.groupdict().get("file") or got.groupdict().get("wafile") or "").lower()
        return "sticker" if "sticker" in name or name.startswith("stk-") or name.endswith(".webp") else "attachment"
    if tr.OMITTED.match(first) or (marked and (tr.OMITTED_AFTER_NAME.match(first) or tr.OMITTED_LOOSE.match(first))):
        return "sticker" if tr.STICKER.search(first) else "attachment"
    return None


def _classify(text: str) -> tuple[str, str] | str:
    """(kind, text) for a kept message, else the skip reason."""
    marked = text.lstrip(" ")[:1] in tr.MARKS  # iOS starts its notices and placeholders with U+200E
    text = tr.EDITED.sub("", tr.strip_marks(text)).strip()
    first, newline, caption = text.partition("\n")
    first = first.strip()
    found = tr.FIRST_LINE.match(first)
    kind = next((k for k in tr.FIRST_LINE_KINDS if found.group(k) is not None), None) if found else None
    if (kind in ("deleted", "deleted_own") and not newline) or text in _VIEW_ONCE:
        return "unsent"
    if kind == "waiting":
        return "empty"
    if newline and first.endswith((":", "：")) and tr.is_poll(text.split("\n")):
        return "poll"
    if kind == "live_location" or ("maps" in first and tr.LOCATION.match(first)):
        return "location"
    if (kind == "call" and not newline) or kind == "e2e":
        return "system"
    media = _media(first, marked) if kind == "omitted" or marked or first[:1] == "<" or first[-1:] in ")>" else None
    if marked and not media and (tr.GROUP.search(text) or tr.NOTICE.search(text) or tr.E2E_WORDS.search(text)):
        return "system"
    if media:
        caption = caption.strip()
        if caption:
            return ("link" if _URL_ONLY.match(caption) else "text"), caption
        return media, ""
    if not text:
        return "empty"
    return ("link" if _URL_ONLY.match(text) else "text"), text


def read(source: Source) -> pd.DataFrame:
    files = [rel for rel in source.files() if _is_whatsapp(source, rel)]
    if not files:
        raise IngestError(source.name, None, "holds no WhatsApp chat .txt file",
                          hint="export the chat from the phone (Export chat) and pass the .txt or the .zip")
    rows: list[dict] = []
    wall: list[int] = []
    hashed: list[str] = []
    skipped: Counter = Counter()
    me: set[str] = set()
    empty_files: list[str] = []
    for rel in files:
        parsed = source.attempt(_parse_file, source, rel)
        if parsed is None:  # damaged: set aside, the other chats read
            continue
        messages, stamps = parsed
        splits = [_name_and_text(m.rest, set()) for m in messages]
        known = _known_names(splits)
        if known:
            splits = [_name_and_text(m.rest, known) for m in messages]
        name = _chat_name(source, rel)
        thread_id = f"{PLATFORM}:{name}"
        thread_title = tr.title(name) or name
        group_notice = False
        file_rows: list[dict] = []
        file_skips: Counter = Counter()
        repeats: Counter = Counter()
        for m, ms, split in zip(messages, stamps, splits, strict=True):
            if split is None:
                file_skips["system"] += 1
                group_notice = group_notice or bool(tr.GROUP.search(tr.strip_marks(m.rest)))
                continue
            sender, first = split
            if first is None:  # "Name:." view-once media
                file_skips["unsent"] += 1
                continue
            text = raw = "\n".join([first, *m.more])
            got = _classify(text)
            if isinstance(got, str):
                file_skips[got] += 1
                bare = tr.EDITED.sub("", tr.strip_marks(text)).strip()
                if got == "unsent" and tr.DELETED_OWN.match(bare):
                    me.add(sender)
                if got == "system" and tr.GROUP.search(bare):
                    group_notice = True
                continue
            kind, text = got
            # The id hashes the text as ingests before marks were stripped inside texts wrote it
            # (iOS puts U+2068/U+2069 around mentioned numbers): a workspace ingested then must not
            # get those messages a second time.
            as_before = text if raw.isascii() or set(raw).isdisjoint(tr.MARKS) else \
                tr.EDITED.sub("", raw.lstrip("\u200e\u200f")).strip()
            if tr.strip_marks(as_before) != text:
                as_before = text
            # Two identical messages in one second (minute, on Android) are two messages: the repeat
            # gets "#2" in its hashed text, so only a re-read of the same file gives the same ids.
            repeats[(sender, ms, text)] += 1
            n = repeats[(sender, ms, text)]
            hashed.append(as_before if n == 1 else f"{as_before}#{n}")
            wall.append(ms)
            file_rows.append({"source": rel, "thread_id": thread_id, "thread_title": thread_title,
                              "sender": sender, "text": text, "kind": kind})
        is_group = group_notice or len({r["sender"] for r in file_rows}) > 2
        for r in file_rows:
            r["is_group"] = is_group
        if not file_rows and set(file_skips) <= {"system"}:
            empty_files.append(rel)
        skipped.update(file_skips)
        rows.extend(file_rows)
    utc = times.wall_ms_to_utc_ms(wall, source.tz)
    ids = schema.message_ids(PLATFORM, [r["thread_id"] for r in rows], [r["sender"] for r in rows], wall, hashed)
    for r, ts, mid in zip(rows, utc.tolist(), ids, strict=True):
        r["platform"] = PLATFORM
        r["is_me"] = r["sender"] in me
        r["timestamp"] = ts
        r["message_id"] = mid
    return schema.conform(rows, skipped=skipped, me=me, empty_files=empty_files)
