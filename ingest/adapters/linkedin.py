"""LinkedIn data export, ``messages.csv``.

Where it comes from: linkedin.com > Settings > Data privacy > Get a copy of your
data > Messages (or the full archive). The archive holds ``messages.csv``
(``Messages.csv`` in 2018) beside many other CSV files. Four header generations
are known, each adding columns::

    2018  From,To,Date,Subject,Content,Direction,Folder
    2021  CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,DATE,SUBJECT,CONTENT,FOLDER
    2023  ... ,TO,RECIPIENT PROFILE URLS,DATE, ...
    2026  every field quoted, ATTACHMENTS added, raw newlines inside quoted CONTENT

A raw record (2023)::

    2-YmM3...==,,Ana Lima,https://www.linkedin.com/in/ana-lima,Bruno Costa,
    https://www.linkedin.com/in/bruno-costa,2023-04-22 08:18:59 UTC,,"<p>see you</p>",INBOX

Quirks handled here:
- columns are mapped by header name, so missing, extra or reordered columns are fine;
  the file may start with a UTF-8 BOM (removed by ``Source.read_text``);
- CONTENT may hold HTML (``<p>``, ``<br>``) and entities (``&rsquo;``, ``&nbsp;``): tags are
  stripped first, then ``html.unescape``; raw newlines inside quoted fields are read by
  the ``csv`` module, never by splitting lines;
- rows run newest first inside each conversation: each conversation is put in
  chronological order with a stable sort by time (ties keep chronological document order);
- dates are ``2023-04-22 08:18:59 UTC`` from 2021 on and ``10/16/18, 8:36 AM`` (US order,
  no timezone, taken as UTC) in 2018;
- 2018 has no conversation id: rows are grouped by the unordered {From, To} pair plus the
  Subject without its ``RE:`` prefixes, and ``Direction == OUTGOING`` names the owner;
- from 2021 the owner is the profile URL present in every conversation (as sender, as a
  recipient URL, or by name in TO) when exactly one URL is; it is returned as the ``me`` hint;
- system rows (empty FROM, ``Message request accepted``, ``... left the conversation.``)
  and sponsored InMail (title ``Sponsored Conversation``, FROM ``LinkedIn Member``, or
  ``spinmail`` HTML) are counted as skipped; drafts (``IS MESSAGE DRAFT``) count as unsent;
- a ``messages.csv`` with its header and no row (an account without messages) is reported in
  ``empty_files``;
- ``guide_messages.csv`` and ``learning_role_play_messages.csv`` (AI coach, same header)
  are not read: only a file named ``messages.csv`` is, or the one CSV given on its own.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from posixpath import basename

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import FileSource, Source

PLATFORM = "linkedin"

_NAME = "messages.csv"
# Same header as messages.csv, but written by LinkedIn's AI features, not by people.
_EXCLUDED = {"guide_messages.csv", "learning_role_play_messages.csv"}

_MODERN_REQUIRED = ("CONVERSATION ID", "FROM", "DATE", "CONTENT")
_LEGACY_REQUIRED = ("FROM", "TO", "DATE", "CONTENT")

_MODERN_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(?:UTC|GMT|Z|\+00:?00)?$")
_LEGACY_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])$")

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BREAK = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>|</li\s*>", re.IGNORECASE)
_RE_PREFIX = re.compile(r"^(?:\s*(?:re|aw|fwd?)\s*:\s*)+", re.IGNORECASE)
_LEFT = re.compile(r"^'?[^\n]{1,300} left the conversation\.$")
_SYSTEM_TEXTS = {"message request accepted"}
_URL_SPLIT = re.compile(r"[\s,;]+")


def _candidates(source: Source) -> list[str]:
    """The message files: every ``messages.csv``, or the single CSV a user pointed at."""
    files = source.files()
    named = [f for f in files if basename(f).lower() == _NAME]
    if named:
        return named
    if isinstance(source, FileSource) and files and basename(files[0]).lower() not in _EXCLUDED \
            and files[0].lower().endswith(".csv"):
        return files
    return []


def _header_of(source: Source, rel: str) -> str:
    with source.open(rel) as fh:
        head = fh.read(512)
    return head.decode("utf-8-sig", errors="replace").split("\n", 1)[0].replace('"', "").strip().upper()


def detect(source: Source) -> bool:
    for rel in _candidates(source):
        head = _header_of(source, rel)
        if head.startswith("CONVERSATION ID,") or head.startswith("FROM,TO,DATE"):
            return True
    return False


def _norm_header(name: str | None) -> str:
    return re.sub(r"[\s_]+", " ", (name or "").replace("\ufeff", "").strip().strip('"')).upper()


def _parse_date(value: str) -> int | None:
    """Epoch ms (UTC), or None when the value is not a LinkedIn date."""
    value = value.strip()
    m = _MODERN_DATE.match(value)
    try:
        if m:
            y, mo, d, h, mi, s = (int(g or 0) for g in m.groups())
            dt = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
        else:
            m = _LEGACY_DATE.match(value)
            if not m:
                return None
            mo, d, y, h, mi, s = (int(g or 0) for g in m.groups()[:6])
            if y < 100:
                y += 2000
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if m.group(7).lower() == "pm" else 0)
            dt = datetime(y, mo, d, h, mi, s, tzinfo=UTC)  # the 2018 export has no timezone
    except ValueError:
        return None
    return int(dt.timestamp()) * 1000


def _clean(content: str) -> str:
    """CONTENT as plain text: HTML tags stripped, entities decoded, line ends normalised."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    if "<" in text:
        text = _BREAK.sub("\n", text)
        text = _TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _is_link(text: str) -> bool:
    return text.startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def _read_rows(source: Source, rel: str) -> tuple[list[str], list[dict[str, str]]]:
    """(normalised header, rows by column name), with csv errors turned into IngestError."""
    text = source.read_text(rel)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise IngestError(source.label(rel), "line 1", "is empty",
                              hint="download the LinkedIn export again")
        names = [_norm_header(h) for h in header]
        rows = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            row = {name: cell for name, cell in zip(names, record, strict=False) if name}
            if len(record) != len(names):
                row["\x00bad"] = "1"  # a row cut short or with stray fields
            rows.append(row)
    except csv.Error as exc:
        raise IngestError(source.label(rel), f"line {reader.line_num}", f"is not valid CSV ({exc})",
                          hint="the file is damaged or cut short; download the export again") from None
    return names, rows


def read(source: Source) -> pd.DataFrame:
    files = _candidates(source)
    if not files:
        raise IngestError(source.name, None, "holds no messages.csv",
                          hint="pass the LinkedIn archive (.zip or folder) or its messages.csv")
    skipped: Counter = Counter()
    # thread key -> list of parsed rows, in document order
    threads: dict[str, list[dict]] = {}
    titles: dict[str, str] = {}  # CONVERSATION TITLE, where the export gives one
    legacy_owner: set[str] = set()
    legacy_names: Counter = Counter()  # names on the owner's side of INCOMING rows (To)
    empty: list[str] = []  # message files with a header and no row
    for rel in files:
        names, rows = _read_rows(source, rel)
        legacy = "CONVERSATION ID" not in names
        required = _LEGACY_REQUIRED if legacy else _MODERN_REQUIRED
        missing = [c for c in required if c not in names]
        if missing:
            raise IngestError(source.label(rel), "line 1", f"has no column(s) {', '.join(missing)}",
                              hint="this is not a LinkedIn messages.csv; expected a header starting "
                              "'CONVERSATION ID,CONVERSATION TITLE,FROM' or 'From,To,Date'")
        if not rows:
            empty.append(rel)
        for row in rows:
            rec = _record(row, legacy, rel, skipped)
            if rec is None:
                continue
            if legacy:
                direction = row.get("DIRECTION", "").strip().upper()
                folder = row.get("FOLDER", "").strip().upper()
                if direction == "OUTGOING" or (not direction and folder == "SENT"):
                    rec["outgoing"] = True
                    legacy_owner.add(rec["sender"])
                elif direction == "INCOMING" and rec["to"]:
                    legacy_names[rec["to"]] += 1
            threads.setdefault(rec["thread_id"], []).append(rec)
            if rec["title"] and not titles.get(rec["thread_id"]):
                titles[rec["thread_id"]] = rec["title"]

    if legacy_owner or legacy_names:
        owners = legacy_owner or set(legacy_names)
        owner = next(iter(owners)) if len(owners) == 1 else None
    else:
        owner = _modern_owner(threads)
    me = {owner} if owner else set()

    out: list[dict] = []
    seen: set[tuple] = set()
    for thread_id, rows in threads.items():
        kept = [r for r in rows if r["kind"] is not None]
        if not kept:
            continue
        ts = [r["timestamp"] for r in kept]
        descending = sum(a > b for a, b in pairwise(ts))
        ascending = sum(a < b for a, b in pairwise(ts))
        if descending >= ascending:  # LinkedIn writes newest first: restore order for ties
            kept.reverse()
        kept.sort(key=lambda r: r["timestamp"])
        senders = {r["sender_id"] for r in kept}
        people = set(senders)
        for r in rows:
            people.update(r["recipients"])
        is_group = len(people) > 2 or len(senders) > 2
        title = titles.get(thread_id) or _title(rows, owner)
        for r in kept:
            key = (thread_id, r["sender_id"], r["timestamp"], r["text"])
            if key in seen:
                skipped["duplicate"] += 1
                continue
            seen.add(key)
            is_me = r["sender_id"] == owner or r.get("outgoing", False)
            if r.get("outgoing") and not owner:
                me.add(r["sender_id"])
            out.append({
                "platform": PLATFORM, "source": r["source"], "thread_id": thread_id,
                "thread_title": title, "is_group": is_group, "sender": r["sender"],
                "sender_id": r["sender_id"], "is_me": is_me, "timestamp": r["timestamp"],
                "text": r["text"], "kind": r["kind"],
            })
    return schema.conform(out, skipped=skipped, me=me, empty_files=empty)


def _record(row: dict[str, str], legacy: bool, rel: str, skipped: Counter) -> dict | None:
    """A parsed row; skipped rows come back with kind None so they still tell who took part."""
    if "\x00bad" in row:
        skipped["bad_record"] += 1
        return None
    ts = _parse_date(row.get("DATE", ""))
    if ts is None:
        skipped["bad_record"] += 1
        return None
    sender = row.get("FROM", "").strip()
    url = row.get("SENDER PROFILE URL", "").strip()
    to = row.get("TO", "").strip()
    raw = row.get("CONTENT", "")
    title = row.get("CONVERSATION TITLE", "").strip()
    recipients = {u for u in _URL_SPLIT.split(row.get("RECIPIENT PROFILE URLS", "").strip()) if u}
    if legacy:
        subject = _RE_PREFIX.sub("", row.get("SUBJECT", "")).strip()
        pair = "\x1f".join(sorted((sender, to)))
        digest = hashlib.blake2b(f"{pair}\x1e{subject}".encode(), digest_size=8).hexdigest()
        thread_id = f"{PLATFORM}:{digest}"
        title = ""
    else:
        thread_id = f"{PLATFORM}:{row.get('CONVERSATION ID', '').strip()}"
        if thread_id == f"{PLATFORM}:":
            skipped["bad_record"] += 1
            return None
    rec = {"thread_id": thread_id, "title": title, "sender": sender, "sender_id": url or sender,
           "url": url, "to": to, "recipients": recipients, "timestamp": ts, "source": rel,
           "kind": None, "text": "", "skip": None}
    text = _clean(raw)
    attachments = row.get("ATTACHMENTS", "").strip()
    if (title.lower() == "sponsored conversation" or (sender == "LinkedIn Member" and not url)
            or "spinmail" in raw):
        skipped["sponsored"] += 1
        rec["title"], rec["skip"] = "", "sponsored"
        return rec
    if not sender or text.lower() in _SYSTEM_TEXTS or (_LEFT.match(text) and not attachments):
        skipped["system"] += 1
        rec["skip"] = "system"
        return rec
    if row.get("IS MESSAGE DRAFT", "").strip().lower() in ("true", "yes", "1"):
        skipped["unsent"] += 1
        return rec
    if attachments:
        rec["kind"] = "attachment"
    elif not text:
        skipped["empty"] += 1
        return rec
    else:
        rec["kind"] = "link" if _is_link(text) else "text"
    rec["text"] = text
    return rec


def _title(rows: list[dict], owner: str | None) -> str | None:
    """The other people's names, else the TO of the owner's rows; None lets conform use the id."""
    rows = sorted(rows, key=lambda r: r["timestamp"])
    names = []
    for r in rows:
        if r["skip"] not in ("sponsored", "system") and r["sender_id"] != owner and not r.get("outgoing") \
                and r["sender"] not in names:
            names.append(r["sender"])
    if names and owner:
        return ", ".join(names)
    tos = [r["to"] for r in rows if r["to"] and (r["sender_id"] == owner or r.get("outgoing"))]
    if tos:
        return tos[0]
    return ", ".join(names) or None


def _modern_owner(threads: dict[str, list[dict]]) -> str | None:
    """The one profile URL present in every conversation, when exactly one is."""
    names_of: dict[str, set[str]] = {}
    for rows in threads.values():
        for r in rows:
            if r["url"] and r["sender"]:
                names_of.setdefault(r["url"], set()).add(r["sender"])
    candidates = set(names_of)
    for r in (r for rows in threads.values() for r in rows):
        candidates |= r["recipients"]
    considered = 0
    for rows in threads.values():
        present = {r["url"] for r in rows if r["url"]}
        for r in rows:
            present |= r["recipients"]
        tos = {r["to"] for r in rows if r["to"]}
        for url in candidates - present:
            if any(_names_in(name, to) for name in names_of.get(url, ()) for to in tos):
                present.add(url)
        if not present:
            continue  # only system rows: no people named
        considered += 1
        candidates &= present
        if not candidates:
            return None
    return next(iter(candidates)) if considered >= 2 and len(candidates) == 1 else None


def _names_in(name: str, to: str) -> bool:
    """Whether ``name`` is one of the names in a TO field (names joined by commas, names with commas)."""
    if to == name:
        return True
    return re.search(r"(?:^|,)\s*'?" + re.escape(name) + r"\s*(?:,|$)", to) is not None
