"""WhatsApp chat export, ``.txt`` format.

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

Quirks handled here:
- a line that does not start with a header continues the previous message
  (multi-line messages); the header style (bracketed or `` - ``) is fixed by the
  file's first line, so a chat pasted from another phone stays message text, and
  a header whose date is impossible for the file (month 13) is text too;
- day/month order is not written anywhere: it is inferred per file from the
  values (a first field above 12 means day first, a second field above 12 means
  month first); when every date is ambiguous (both fields 12 or less) the
  order under which the file runs forward in time more often wins, and a tie
  falls back to **day first**, the order of most locales; two- and
  four-digit years may be mixed in one file (two-digit years are 20xx); a
  four-digit first field means year/month/day;
- U+200E (left-to-right mark) may start a line or a text, U+202F or U+00A0 may
  sit before AM/PM (also ``a. m.``, ``p. m.``, and 上午/下午, 午前/午後, 오전/오후);
  iOS wraps phone-number names in bidi controls: all are removed from headers;
- no timezone is given: the phone's local clock is taken as UTC; document order
  is kept (rows are not re-sorted, a phone whose clock moved stays in order);
- lines without ``Name:`` are system notices (encryption notice, "created
  group", "You were added", ...), as are "created group"/"changed the subject"
  lines whose quoted title holds a colon, and "Missed voice call" notices;
  group notices also make the chat a group even when only two people wrote;
- a colon inside the author's name: the header is split at the first ``": "``
  (``Name:`` alone, text on the next lines, also works), checked against the
  names of the file: a split name whose every message (two or more) begins with
  the same ``"Word: "`` is taken to include it (``Coach: Tom``). A name with
  ``": "`` that writes only once is read as the part before the first colon;
- ``<Media omitted>``, ``image omitted`` (video, audio, GIF, document, contact
  card), ``<attached: 0000-PHOTO-....jpg>`` and ``IMG-....jpg (file attached)``
  are attachments (``sticker omitted`` and attached ``.webp`` are stickers);
  lines after the placeholder are the caption, kept as the text;
- ``Name:.`` and ``null`` (view-once media), ``This message was deleted`` and
  ``You deleted this message`` are unsent; the last one names its sender as the
  owner of the export (``is_me``), the only place the file says who that is;
- a trailing ``<This message was edited>`` is removed (the text is the final one);
- thread_id is ``"whatsapp:" + file stem`` (for iOS's generic ``_chat.txt``, the
  name of the folder or zip that holds it); the title is ``X`` from ``WhatsApp
  Chat with X`` / ``WhatsApp Chat - X`` (and a few translations), else the stem;
  sender_id is the name as written (a contact name or a phone number).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import PurePosixPath

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source

PLATFORM = "whatsapp"

_AMPM_WORDS = "上午|下午|午前|午後|오전|오후"
_PM_WORDS = ("p", "下午", "午後", "오후")
_DATE = r"(?P<d1>\d{1,4})[./-](?P<d2>\d{1,2})[./-](?P<d3>\d{1,4})"
_TIME = (rf"(?:(?P<ampm1>{_AMPM_WORDS}) ?)?(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<s>\d{{2}}))?"
         rf"(?: ?(?P<ampm>[AaPp]\.? ?[Mm]\.?|{_AMPM_WORDS}))?")
# Each style: the regex for a message header line (after normalising spaces and bidi marks).
_STYLES = {
    "bracket": re.compile(rf"^\[{_DATE},? {_TIME}\] (?P<rest>.*)$", re.DOTALL),
    "dash": re.compile(rf"^{_DATE},? {_TIME} [-–] (?P<rest>.*)$", re.DOTALL),
}
# Characters removed from header lines: BOM, LRM/RLM, bidi embeddings and isolates.
_BIDI = dict.fromkeys(map(ord, "\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = {0x202F: " ", 0x00A0: " "}
# Signal (signal-export) writes [YYYY-MM-DD, HH:MM] headers, which WhatsApp never does.
_SIGNAL_HEADER = re.compile(r"^\[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}\] ")

# "Name: text", "Name:" (text on the next lines) and "Name:." (view-once media).
_NAME = re.compile(r"^(?P<name>[^\n]+?):(?:(?P<dot>\.)$|$| (?P<text>.*))", re.DOTALL)
# System notices whose quoted group title may hold ": " (the part before the verb has none).
_QUOTED_NOTICE = re.compile(
    r"^(?:(?!: ).)+? (?:created group|changed the subject|changed this group's subject|"
    r"changed the group name|changed the group description)\b", re.DOTALL)
# Notices about group membership or the group itself: the chat is a group.
_GROUP_NOTICE = re.compile(
    r"^(?:.+ (?:created group|created this group|added|removed|left|joined using|changed the subject|"
    r"changed this group's|changed the group)\b|You were added\b|You joined\b)")
# iOS writes notices as messages of the chat (the group's or the friend's name) whose text starts
# with U+200E; these are the ones that are notices and not media or deletions.
_IOS_NOTICE = re.compile(
    r"^(?:.+ (?:created group|created this group|added|removed|left|joined using|changed (?:the subject|"
    r"this group's|the group|their phone number|to)|turned (?:on|off) disappearing)\b|You were added\b|"
    r"You joined\b|Your security code with\b|Disappearing messages\b|.*end-to-end encrypted\b)")
_E2E_NOTICE = re.compile(r"^(?:Messages and calls are end-to-end encrypted|"
                         r"Messages to this (?:chat|group) and calls are now secured with end-to-end encryption)")
_MISSED_CALL = re.compile(r"^(?:Missed (?:group )?(?:voice|video) call|(?:Voice|Video) call)(?:[,.].*)?$")
_MEDIA = re.compile(
    r"^(?:<Media omitted>|<Médias omis>|<Medien ausgeschlossen>|<Multimedia omitido>|<Mídia oculta>|"
    r"(?:.* )?(?P<what>image|video|audio|sticker|GIF|document|Contact card|contact card) omitted|"
    r"<attached: (?P<attached>[^>]+)>|(?P<file>\S.*) \(file attached\))$")
_DELETED = {"This message was deleted", "This message was deleted.", "You deleted this message",
            "You deleted this message."}
_OWNER_DELETED = {"You deleted this message", "You deleted this message."}
_VIEW_ONCE = {"null"}
_WAITING = re.compile(r"^Waiting for this message\b")
_EDITED = re.compile(r"\s*\u200e?<This message was edited>$")
_URL_ONLY = re.compile(r"^https?://\S+$")
# "WhatsApp Chat with X" and its translations, and the iOS zip's "WhatsApp Chat - X".
_TITLE = re.compile(
    r"^(?:WhatsApp Chat (?:with|-)|WhatsApp-Chat mit|Chat de WhatsApp con|Conversa do WhatsApp com|"
    r"Discussion WhatsApp avec|Chat WhatsApp con|WhatsApp-chat met) (?P<who>.+)$", re.IGNORECASE)


def _clean_header(line: str) -> str:
    return line.translate(_BIDI).translate(_SPACES)


def _first_line(source: Source, rel: str) -> str:
    with source.open(rel) as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    for line in head.splitlines():
        line = _clean_header(line).strip()
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


def _chat_name(source: Source, rel: str) -> str:
    """The chat's name: the file stem, or for iOS's ``_chat.txt`` the folder or zip that holds it."""
    path = PurePosixPath(rel)
    if path.stem.lower() != "_chat":
        return path.stem
    if len(path.parts) > 1:
        return path.parts[-2]
    outer = PurePosixPath(source.name.replace("\\", "/")).name
    outer = outer[:-4] if outer.lower().endswith(".zip") else outer
    return outer or path.stem


@dataclass
class _Message:
    line: int  # 1-based line number of the header
    ts: tuple[int, int, int, int, int, int, str | None]  # d1, d2, d3, h, mi, s, am/pm word
    rest: str  # the header line after the time, as written (spaces and marks kept)
    more: list[str] = field(default_factory=list)  # continuation lines


def _raw_offset(raw: str, clean_offset: int) -> int:
    """The index in ``raw`` of the character at ``clean_offset`` in ``_clean_header(raw)``."""
    kept = 0
    for i, ch in enumerate(raw):
        if kept == clean_offset:
            return i
        if ord(ch) not in _BIDI:
            kept += 1
    return len(raw)


def _split(text: str) -> list[tuple[str, int, _Message | None]]:
    """Lines with their header match (or None), header style fixed by the first header."""
    style = None
    out: list = []
    for n, raw in enumerate(text.splitlines(), 1):
        clean = _clean_header(raw)
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
            g = m.groupdict()
            ampm = g["ampm"] or g["ampm1"]
            ts = (int(g["d1"]), int(g["d2"]), int(g["d3"]), int(g["h"]), int(g["mi"]), int(g["s"] or 0),
                  ampm.replace(".", "").replace(" ", "").lower() if ampm else None)
            out.append((raw, n, _Message(n, ts, raw[_raw_offset(raw, m.start("rest")):])))
        else:
            out.append((raw, n, None))
    return out


def _day_first(stamps: list[tuple]) -> bool:
    """Whether the file writes the day before the month (see the module docstring)."""
    short = [t for t in stamps if t[0] < 1000]
    if any(t[0] > 12 for t in short):
        return True
    if any(t[1] > 12 for t in short):
        return False
    # Every date is ambiguous: take the order under which the export runs forward in time more often.
    def backwards(day_first: bool) -> int:
        times = [ms for ms in (_epoch_ms(t, day_first) for t in short) if ms is not None]
        return sum(b < a for a, b in pairwise(times))

    return backwards(True) <= backwards(False)


def _epoch_ms(ts: tuple, day_first: bool) -> int | None:
    d1, d2, d3, h, mi, s, ampm = ts
    if d1 >= 1000:
        y, mo, d = d1, d2, d3
    else:
        y, mo, d = d3, *((d2, d1) if day_first else (d1, d2))
    if y < 100:
        y += 2000
    if ampm and h <= 12:
        h = h % 12 + (12 if ampm.startswith(_PM_WORDS) else 0)
    try:
        return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


def _parse_file(source: Source, rel: str) -> tuple[list[_Message], bool]:
    """The file's messages (continuations attached) and whether its dates are day first."""
    lines = _split(source.read_text(rel))
    day_first = _day_first([m.ts for _, _, m in lines if m])
    messages: list[_Message] = []
    for raw, n, m in lines:
        if m is not None and _epoch_ms(m.ts, day_first) is not None:
            messages.append(m)
        elif messages:
            messages[-1].more.append(raw)
        elif raw.strip():
            raise IngestError(source.label(rel), f"line {n}", "does not start with a WhatsApp message header",
                              hint="pass the .txt exactly as WhatsApp exported it")
    return messages, day_first


def _name_and_text(rest: str, known: set[str]) -> tuple[str, str | None] | None:
    """``(name, text)`` from ``Name: text``, preferring the longest split whose name is known; text is
    None for ``Name:.`` (view-once). None for a line with no ``Name:`` (a system notice)."""
    rest = rest.strip()
    if _QUOTED_NOTICE.match(rest):
        return None
    m = _NAME.match(rest)
    if not m:
        return None
    name, text = m.group("name"), m.group("text")
    if m.group("dot"):
        return _clean_header(name).strip(), None
    text = text or ""
    for k in re.finditer(r": ", text):
        longer = f"{name}: {text[:k.start()]}"
        if longer.strip() in known:
            name, text = longer, text[k.end():]
            break
    return _clean_header(name).strip(), text


def _known_names(messages: list[_Message]) -> set[str]:
    """Names with ": " inside: a split name whose every message (two or more) begins with the same
    ``"Word: "`` is taken to include it."""
    texts: dict[str, list[str]] = {}
    for m in messages:
        split = _name_and_text(m.rest, set())
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


def _classify(text: str) -> tuple[str, str] | str:
    """(kind, text) for a kept message, else the skip reason."""
    ios_notice = text.startswith("\u200e")
    text = _EDITED.sub("", text.lstrip("\u200e\u200f")).strip()
    first, _, caption = text.partition("\n")
    first = first.strip().lstrip("\u200e")
    if text in _DELETED or text in _VIEW_ONCE:
        return "unsent"
    if _WAITING.match(text):
        return "empty"
    if _MISSED_CALL.match(text) or _E2E_NOTICE.match(text) or (ios_notice and _IOS_NOTICE.match(text)):
        return "system"
    media = _MEDIA.match(first)
    if media:
        what = (media.group("what") or "").lower()
        attached = (media.group("attached") or media.group("file") or "").lower()
        caption = caption.strip()
        if caption:
            return ("link" if _URL_ONLY.match(caption) else "text"), caption
        if what == "sticker" or "sticker" in attached or attached.endswith(".webp"):
            return "sticker", ""
        return "attachment", ""
    if not text:
        return "empty"
    return ("link" if _URL_ONLY.match(text) else "text"), text


def read(source: Source) -> pd.DataFrame:
    files = [rel for rel in source.files() if _is_whatsapp(source, rel)]
    if not files:
        raise IngestError(source.name, None, "holds no WhatsApp chat .txt file",
                          hint="export the chat from the phone (Export chat) and pass the .txt or the .zip")
    rows: list[dict] = []
    skipped: Counter = Counter()
    me: set[str] = set()
    for rel in files:
        messages, day_first = _parse_file(source, rel)
        known = _known_names(messages)
        name = _chat_name(source, rel)
        title = _TITLE.match(name)
        thread_id = f"{PLATFORM}:{name}"
        group_notice = False
        file_rows: list[dict] = []
        for m in messages:
            split = _name_and_text(m.rest, known)
            if split is None:
                skipped["system"] += 1
                group_notice = group_notice or bool(_GROUP_NOTICE.match(_clean_header(m.rest).strip()))
                continue
            sender, first = split
            if first is None:  # "Name:." view-once media
                skipped["unsent"] += 1
                continue
            text = "\n".join([first, *m.more])
            got = _classify(text)
            if isinstance(got, str):
                skipped[got] += 1
                bare = text.strip().lstrip("\u200e")
                if got == "unsent" and bare in _OWNER_DELETED:
                    me.add(sender)
                if got == "system" and _GROUP_NOTICE.match(bare):
                    group_notice = True
                continue
            kind, text = got
            file_rows.append({"source": rel, "thread_id": thread_id,
                              "thread_title": title.group("who") if title else name,
                              "sender": sender, "timestamp": _epoch_ms(m.ts, day_first),
                              "text": text, "kind": kind})
        is_group = group_notice or len({r["sender"] for r in file_rows}) > 2
        for r in file_rows:
            r["is_group"] = is_group
        rows.extend(file_rows)
    for r in rows:
        r["platform"] = PLATFORM
        r["is_me"] = r["sender"] in me
    return schema.conform(rows, skipped=skipped, me=me)
