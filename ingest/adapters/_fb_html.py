"""Facebook HTML, shared by the layouts: the records (a message, a block of a thread), the
localised timestamps of the legacy archive, and the class-agnostic reader of the DYI HTML pages.
``facebook_html`` (the adapter) and ``_fbcap`` (the legacy layout through fbchat-archive-parser)
import from here, never from each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
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



# --- reading: the legacy layouts through fbcap ---------------------------------------------------


@dataclass
class Msg:
    sender: str
    ts: int | None  # epoch ms; None when the time could not be read
    text: str
    media: bool
    order: int  # position in the export (document order)


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


def legacy_timestamp(raw: str) -> int | None:
    """Epoch ms from a legacy timestamp, or None when it cannot be read unambiguously."""
    from fbchat_archive_parser import time as fbcap_time  # slow to import: only when a legacy export is read

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


def parse_dyi_html(text: str, rel: str, counter) -> Block:
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
            msgs.append(Msg(sender=seg[0][1], ts=ts, text="\n".join(body).strip(), media=media,
                             order=next(counter)))
        seg_start = i + 1
    ascending = len(msgs) > 1 and msgs[0].ts < msgs[-1].ts  # Facebook writes newest first; msgvault's files not
    return Block(participants, rel, msgs, newest_first=not ascending,
                  title=" ".join(p.title.split()) or None, empty_means_attachment=False, bad=bad)
