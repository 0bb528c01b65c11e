"""Facebook HTML, shared by the layouts: the records (a message, a block of a thread), the times
(the localised timestamps of the legacy archive, the zone-less wall-clock times of the DYI pages),
the owner's name in its several spellings, and the class-agnostic reader of the DYI HTML pages.
``facebook_html`` (the adapter) and ``_fbcap`` (the legacy layout through fbchat-archive-parser)
import from here, never from each other.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Offsets (hours, minutes) for abbreviations fbcap's table finds ambiguous or lacks.
TIMEZONE_HINTS: dict[str, tuple[int, int]] = {
    "PST": (-8, 0), "PDT": (-7, 0), "MST": (-7, 0), "MDT": (-6, 0), "CST": (-6, 0), "CDT": (-5, 0),
    "EST": (-5, 0), "EDT": (-4, 0), "AKST": (-9, 0), "AKDT": (-8, 0), "HST": (-10, 0),
    "GMT": (0, 0), "UTC": (0, 0), "WET": (0, 0), "WEST": (1, 0), "BST": (1, 0),
    "CET": (1, 0), "CEST": (2, 0), "EET": (2, 0), "EEST": (3, 0),
}
FACEBOOK_USER = "Facebook User"
UNKNOWN_SENDER = "Unknown"  # fbcap's name for an empty <span class="user">

_OLSON = re.compile(r"^[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+$")
_AMPM = re.compile(r"(\d)\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
# The last word of a legacy time that has no zone: the time of day itself, or its am/pm.
_CLOCK_END = re.compile(r"^(?:\d{1,2}[:.]\d{2}(?::\d{2})?\s*)?(?:[ap]\.?\s?m\.?)?$", re.IGNORECASE)


# --- records -------------------------------------------------------------------------------------


@dataclass
class Msg:
    sender: str
    ts: int | None  # epoch ms as written (wall-clock read as if UTC when ``wall``); None: unreadable
    text: str
    media: bool
    order: int  # position in the export (document order)
    wall: bool = False  # ``ts`` is a wall-clock time with no zone: to be read in ``source.tz``
    utc: int | None = None  # true epoch ms, set by the adapter once the zone is applied


@dataclass
class Block:
    """One div.thread (legacy) or one thread file (split layouts, DYI HTML)."""

    participants: tuple[str, ...]
    rel: str
    messages: list[Msg]
    newest_first: bool = True
    key: str | None = None  # a fixed thread key (DYI HTML folders); else from participants
    title: str | None = None
    empty_means_attachment: bool = True
    bad: int = 0  # records that could not be read at all


# --- the owner's name, in any order --------------------------------------------------------------


def name_tokens(name: str) -> tuple[str, ...]:
    """The words of a name, sorted, without case, accents or stray dots and commas: "Carter  Sam"
    and "sam carter" give the same tokens (legacy archives write the owner both ways)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return tuple(sorted(t for t in (w.strip(".,") for w in plain.split()) if t))


# --- times ---------------------------------------------------------------------------------------

# Month names Facebook writes, by language (English, German, French, Spanish, Portuguese, Italian,
# Dutch, Russian genitive). A word names a month when it is the start (3 letters or more) of one of
# these, compared without case and accents: "Mar", "März", "mars", "marzo", "março", "mrt".
_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "januar", "janvier", "enero", "janeiro", "gennaio", "januari", "января", "январь"),
    2: ("february", "februar", "fevrier", "febrero", "fevereiro", "febbraio", "februari", "февраля", "февраль"),
    3: ("march", "marz", "maerz", "mars", "marzo", "marco", "maart", "mrt", "марта", "март"),
    4: ("april", "avril", "abril", "aprile", "апреля", "апрель"),
    5: ("may", "mai", "mayo", "maio", "maggio", "mei", "мая", "май"),
    6: ("june", "juni", "juin", "junio", "junho", "giugno", "июня", "июнь"),
    7: ("july", "juli", "juillet", "julio", "julho", "luglio", "июля", "июль"),
    8: ("august", "aout", "agosto", "augustus", "августа", "август"),
    9: ("september", "septembre", "septiembre", "setembro", "settembre", "сентября", "сентябрь"),
    10: ("october", "oktober", "octobre", "octubre", "outubro", "ottobre", "октября", "октябрь"),
    11: ("november", "novembre", "noviembre", "novembro", "ноября", "ноябрь"),
    12: ("december", "dezember", "decembre", "diciembre", "dezembro", "dicembre", "декабря", "декабрь"),
}
# Words that may stand between the parts of a date ("Mar 12, 2024 at 11:03", "12 de marzo de 2024
# a las 23:03", "12 mars 2024 à 23:03", "12. März 2024 um 23:03", "12 марта 2024 г. в 23:03").
_CONNECTORS = frozenset({"at", "um", "a", "as", "las", "alle", "ore", "om", "de", "del", "do", "kl", "o",
                         "u", "la", "le", "г", "в"})
# Weekdays, which legacy times begin with ("Friday, October 4, 2013 at 10:05pm"): read and ignored.
_WEEKDAYS = frozenset({
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",  # English
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonnabend", "sonntag",  # German
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",  # French
    "lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo",  # Spanish
    "segunda", "terca", "quarta", "quinta", "sexta", "feira",  # Portuguese (sábado, domingo above)
    "lunedi", "martedi", "mercoledi", "giovedi", "venerdi", "sabato", "domenica",  # Italian
    "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",  # Dutch
})
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])(?:\s*([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:T|(?!\d))")
_CJK_MONTH = re.compile(r"(\d{1,2})\s*月")
_TOKENS = re.compile(r"\d+|[^\W\d_]+")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u200e": None, "\u200f": None,
                         "年": " ", "日": " "})
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _month_prefixes() -> dict[str, int]:
    table: dict[str, int] = {}
    clash: set[str] = set()
    for month, names in _MONTH_NAMES.items():
        for name in names:
            name = _fold(name)
            for n in range(3, len(name) + 1):
                p = name[:n]
                if table.get(p, month) != month:
                    clash.add(p)
                table[p] = month
    return {p: m for p, m in table.items() if p not in clash}


_MONTHS = _month_prefixes()


@lru_cache(maxsize=8192)
def wall_time(raw: str) -> int | None:
    """Epoch ms of a zone-less date and time, read as if the wall clock were UTC; None when ``raw``
    is not a date with a time of day.

    Tolerant of the variants Facebook writes: "Mar 12, 2024 11:03:54pm", "Mar 12, 2024, 11:03:54 PM",
    "12 Mar 2024, 23:03:54", "Mar 12, 2024 at 11:03 p.m.", "March 12, 2024 11:03 pm", the month
    named in English, German, French, Spanish, Portuguese, Italian, Dutch or Russian ("12. März 2024
    um 23:03", "12 de marzo de 2024, 23:03"), CJK months ("3月 12, 2024 11:03 PM") and ISO dates.
    Every word must be a month or a connector ("at", "um", "de"...), so a line of chat is not a time.
    """
    s = raw.translate(_SPACES).strip()
    if not (6 <= len(s) <= 60):
        return None
    times = list(_TIME.finditer(s))
    if len(times) != 1:
        return None
    t = times[0]
    hour, minute, second = int(t.group(1)), int(t.group(2)), int(t.group(3) or 0)
    if t.group(4):  # 12-hour clock
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if t.group(4).lower() == "p" else 0)
    date = s[:t.start()] + " " + s[t.end():]
    iso = _ISO_DATE.search(date)
    if iso:
        year, month, day = int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
        rest = _TOKENS.findall(date[:iso.start()] + " " + date[iso.end():])
        if any(_fold(w) not in _CONNECTORS for w in rest):
            return None
    else:
        month = None
        cjk = _CJK_MONTH.search(date)
        if cjk:
            month = int(cjk.group(1))
            date = date[:cjk.start()] + " " + date[cjk.end():]
        numbers = []
        for tok in _TOKENS.findall(date):
            if tok.isdigit():
                numbers.append(tok)
                continue
            word = _fold(tok)
            if word in _CONNECTORS or word in _WEEKDAYS:
                continue
            m = _MONTHS.get(word)
            if m is None or month is not None:
                return None  # an unknown word, or a second month
            month = m
        years = [n for n in numbers if len(n) == 4]
        days = [n for n in numbers if len(n) <= 2]
        if month is None or len(numbers) != 2 or len(years) != 1 or len(days) != 1:
            return None
        year, day = int(years[0]), int(days[0])
    try:
        stamp = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return (stamp - _EPOCH) // _MS



def legacy_time(raw: str) -> tuple[int | None, bool]:
    """(epoch ms, is wall-clock) of a legacy timestamp; ms is None when it cannot be read unambiguously.

    A time ending in a zone (``UTC+01``, ``PDT``, ``Asia/Kuala_Lumpur``) is exact: true UTC. A time
    without any zone ("Friday, October 4, 2013 at 10:05pm") is wall-clock, to be read in ``source.tz``.
    """
    from fbchat_archive_parser import time as fbcap_time  # slow to import: only when a legacy export is read

    errors = (fbcap_time.UnexpectedTimeFormatError, fbcap_time.AmbiguousTimeZoneError,
              ValueError, IndexError, TypeError, OverflowError)
    raw = _AMPM.sub(lambda m: f"{m[1]}{m[2].lower()}m", " ".join(raw.split()))  # fbcap reads "10:05 PM" as 10:05 am
    stamp, _, zone = raw.rpartition(" ")
    zoned = bool(stamp) and not _CLOCK_END.match(zone)  # an unknown last word is an unknown zone
    try:
        if not zoned:
            wall = wall_time(raw)
            if wall is None:  # the other languages fbcap knows ("4 grudzień 2016 o 13:54")
                wall = int(fbcap_time.parse_timestamp(raw + " UTC", True, {}).timestamp() * 1000)
            return wall, True
        if _OLSON.match(zone):
            try:
                tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                tz = None
            if tz is not None:
                local = fbcap_time.parse_timestamp(stamp + " UTC", True, {})
                return int(local.replace(tzinfo=tz).timestamp() * 1000), False
        return int(fbcap_time.parse_timestamp(raw.replace("\u2212", "-"), True, TIMEZONE_HINTS).timestamp() * 1000), False
    except errors:
        return None, not zoned


def legacy_timestamp(raw: str) -> int | None:
    """Epoch ms from a legacy timestamp that carries its zone, or None when it cannot be read
    unambiguously (a zone-less time gives its wall-clock ms: see :func:`legacy_time`)."""
    return legacy_time(raw)[0]


# --- reading: DYI HTML (after April 2018), class-agnostic ----------------------------------------

_BLOCK_TAGS = frozenset({"div", "p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
                         "tr", "tbody", "thead", "section", "article", "header", "footer", "main", "aside",
                         "nav", "blockquote", "pre", "figure", "figcaption", "dl", "dt", "dd"})
_SKIP_TAGS = frozenset({"head", "title", "script", "style"})
_HEADINGS = ("h1", "h2", "h3")
# "Participants:" as Facebook writes it in the languages whose month names are read above.
_PARTICIPANTS = re.compile(r"^(?:Participants|Participantes|Teilnehmer(?:innen)?|Partecipanti|Deelnemers"
                           r"|Участники)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)


class _Page(HTMLParser):
    """Each innermost block's text becomes a line, with the path of block elements that hold it;
    <img>, <video>, <audio> are noted with their path."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []  # per line: the tag of its innermost block
        self.texts: list[str] = []
        self.paths: list[tuple[int, ...]] = []  # per line: ids of the open block elements, outermost first
        self.elems: list[tuple[str, str, int]] = []  # per element id: (tag, class, parent id or -1)
        self.media: list[tuple[int, ...]] = []
        self.title = ""
        self._buf: list[str] = []
        self._stack: list[str] = []
        self._ids: list[int] = []
        self._skip = 0
        self._in_title = False

    def _flush(self) -> None:
        if not self._buf:
            return
        text = "\n".join(" ".join(part.split()) for part in "".join(self._buf).split("\n")).strip()
        self._buf = []
        if text:
            self.tags.append(self._stack[-1] if self._stack else "")
            self.texts.append(text)
            self.paths.append(tuple(self._ids))

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self._skip += 1
            self._in_title = tag == "title"
        elif tag in _BLOCK_TAGS:
            self._flush()
            cls = next((v or "" for k, v in attrs if k == "class"), "")
            self.elems.append((tag, " ".join(cls.split()), self._ids[-1] if self._ids else -1))
            self._stack.append(tag)
            self._ids.append(len(self.elems) - 1)
        elif tag == "br":
            self._buf.append("\n")
        elif tag in ("img", "video", "audio"):
            self.media.append(tuple(self._ids))

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag in self._stack:
                while self._stack:
                    self._ids.pop()
                    if self._stack.pop() == tag:
                        break

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buf.append(data)

    def close(self):
        super().close()
        self._flush()


def _shared(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How many outer elements two paths share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _holders(paths: list[tuple[int, ...]], times: list[int], depth: int) -> dict[int, list[int]]:
    """element id -> its lines, for the elements at ``depth`` that hold a time."""
    holders: dict[int, list[int]] = {}
    for t in times:
        if len(paths[t]) > depth:
            holders.setdefault(paths[t][depth], [])
    for i, path in enumerate(paths):
        if len(path) > depth and path[depth] in holders:
            holders[path[depth]].append(i)
    return holders


def _messages(paths: list[tuple[int, ...]], times: list[int]) -> tuple[int | None, dict[int, list[int]]]:
    """(depth, element id -> its lines) of the elements that each hold one whole message.

    Two messages in a row are siblings: the child of their lowest common ancestor holds each. Of the
    depths where consecutive times part, the one that yields the most messages (an element with a
    line before its time, less one for every other time it swallows) wins, then the most common,
    then the outermost: a line of chat that looks like a time parts deeper, a date in the page's
    header higher. With one time, it is the lowest ancestor of the time that holds an earlier line
    (the sender)."""
    if len(times) == 1:
        t = times[0]
        best = max((_shared(paths[j], paths[t]) for j in range(t)), default=0)
        return (best - 1, _holders(paths, times, best - 1)) if best else (None, {})
    is_time = set(times)
    seen = Counter(_shared(paths[a], paths[b]) for a, b in pairwise(times))
    best: tuple = ()
    for depth, n in seen.items():
        holders = _holders(paths, times, depth)
        found = 0
        for lines in holders.values():  # a message has a sender before its time, and one time
            stamps = [i for i in lines if i in is_time]
            found += (lines[0] < stamps[-1]) - (len(stamps) - 1)
        if (found, n, -depth) > best[:3]:
            best = (found, n, -depth, holders)
    return -best[2], best[3]


def parse_dyi_html(text: str, rel: str, counter) -> Block:
    """One DYI message_N.html: participants, title and messages (sender, body lines, time line).

    Class names change with every generation, so the page is read by its shape: the lines whose text
    is a date and a time are the message times; the element that holds one message is found from
    where two consecutive times part (see :func:`_messages`); in it the first line is the sender,
    the lines up to the time are the body (less the ``<li>`` reactions), the time is last."""
    p = _Page()
    p.feed(text)
    p.close()
    texts, paths, tags = p.texts, p.paths, p.tags
    times = [i for i, line in enumerate(texts) if wall_time(line) is not None]
    is_time = set(times)
    depth, holders = _messages(paths, times) if times else (None, {})
    owner_of = {i: h for h, lines in holders.items() for i in lines}  # line -> the message element holding it

    # outside the messages: the header (title, participants) and any message whose time is unreadable
    participants: tuple[str, ...] = ()
    heading = None
    first = min(owner_of, default=len(texts))
    outside = [i for i in range(len(texts)) if i not in owner_of]
    for n, i in enumerate(outside):
        m = _PARTICIPANTS.match(texts[i])
        if m and not participants:
            names = m.group(1).strip() or (texts[outside[n + 1]] if n + 1 < len(outside) else "")
            participants = tuple(x.strip() for x in names.replace("\n", ",").split(",") if x.strip())
        elif heading is None and i < first and tags[i] in _HEADINGS:
            heading = texts[i]

    # a message has a sender (or text) before its time; the last time is its own, an earlier one
    # is a time typed as the text of a message
    last = {h: max(i for i in lines if i in is_time) for h, lines in holders.items()}
    whole = [h for h, lines in holders.items() if lines[0] < last[h]] or list(holders)
    bad = 0
    if holders:  # an element shaped like the messages but without a readable time, or nothing but one
        shape = Counter(p.elems[h][:2] for h in whole).most_common(1)[0][0]
        parents = {p.elems[h][2] for h in whole}
        strays: dict[int, list[int]] = {h: lines for h, lines in holders.items() if lines[0] == last[h]}
        for i in outside:
            if len(paths[i]) > depth and paths[i][depth] not in holders:
                strays.setdefault(paths[i][depth], []).append(i)
        for e, lines in strays.items():
            if (p.elems[e][:2] == shape and p.elems[e][2] in parents
                    and not any(_PARTICIPANTS.match(texts[i]) for i in lines)):
                bad += 1

    media_of = Counter(path[depth] for path in p.media if depth is not None and len(path) > depth)
    msgs = []
    for holder, lines in holders.items():
        t = last[holder]
        before = [i for i in lines if i < t]
        if not before:
            continue
        body = [texts[i] for i in before[1:] if tags[i] != "li"]  # <li>: the reactions under a message
        msgs.append(Msg(sender=texts[before[0]], ts=wall_time(texts[t]), text="\n".join(body).strip(),
                        media=media_of[holder] > 0, order=next(counter), wall=True))
    ascending = len(msgs) > 1 and msgs[0].ts < msgs[-1].ts  # Facebook writes newest first; msgvault's files not
    title = " ".join(p.title.split()) or heading
    return Block(participants, rel, msgs, newest_first=not ascending, title=title or None,
                 empty_means_attachment=False, bad=bad)
