"""Google Hangouts, from Google Takeout (``Hangouts/Hangouts.json``).

Where it comes from: takeout.google.com > Hangouts. The whole history is one JSON
file, ``Takeout/Hangouts/Hangouts.json`` (100 MB and more for a heavy user), in one
of two layouts. Since June 2018::

    {"conversations": [{"conversation": {"conversation_id": {"id": "Ugw..."},
                                         "conversation": {"type": "GROUP", "name": "...",
                                                          "self_conversation_state": {...},
                                                          "participant_data": [...]}},
                        "events": [...]}]}

and before it::

    {"continuation_end_timestamp": "...",
     "conversation_state": [{"conversation_id": {"id": "Ugw..."},
                             "conversation_state": {"conversation": {...}, "event": [...]}}]}

A raw event (the same in both)::

    {"sender_id": {"gaia_id": "1054...", "chat_id": "1054..."}, "timestamp": "1569073414201730",
     "event_type": "REGULAR_CHAT_MESSAGE", "event_id": "9-8ipgEjQHW9-8j8FuvI_X",
     "chat_message": {"message_content": {"segment": [{"type": "TEXT", "text": "Hi"}]}}}

Quirks handled here:
- the file is streamed with ``ijson`` one conversation at a time (plain ``json`` when
  ijson is missing), whichever of the two top-level layouts it has;
- a message is the concatenation of all its segments (``TEXT``, ``LINK`` by its text,
  ``LINE_BREAK`` as a newline), not only the first one;
- timestamps are microseconds since the epoch, written as strings;
- events are not in time order: each conversation is sorted by time with a stable sort;
- names come from the conversation's ``participant_data`` (``fallback_name`` by gaia_id or
  chat_id), then from any other conversation, then a placeholder "Unknown 1234" (last digits
  of the id); one person may have different names in different conversations;
- ``HANGOUT_EVENT`` (calls), renames, membership changes, ``OTR_MODIFICATION`` and other
  non-message events are counted as skipped ``system``;
- a photo with no text (``attachment`` with a ``PLUS_PHOTO`` embed, which the pre-2018
  layout keys as ``embeds.PlusPhoto.plus_photo``) is kept as an ``attachment`` row;
- the owner is ``self_conversation_state.self_read_state.participant_id`` (else the
  events' ``self_event_state.user_id``): their gaia id marks ``is_me``;
- the same event (by ``event_id``) twice in a conversation is kept once;
- a conversation with no event at all is reported in ``empty_files`` as
  ``"Hangouts/Hangouts.json#<conversation title>"`` (its id added when two share a title).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

import pandas as pd

from ingest import schema
from ingest.errors import IngestError
from ingest.source import Source, check_json_nesting, json_nesting

PLATFORM = "hangouts"

_LAYOUTS = ("conversations", "conversation_state")  # post-2018, pre-2018
_MESSAGE_TYPES = {"REGULAR_CHAT_MESSAGE", "SMS"}
_ONE_URL = re.compile(r"^https?://\S+$")
_HEAD = re.compile(rb'^\s*\{\s*"(?:conversations|conversation_state|continuation_end_timestamp)"')
_DAMAGED = "the file is damaged or cut short; download the Takeout again"


def detect(source: Source) -> bool:
    files = _files(source)
    if files:
        return True
    only = source.files()
    if len(only) == 1 and only[0].lower().endswith(".json"):  # a single file under another name
        with source.open(only[0]) as fh:
            return bool(_HEAD.match(fh.read(512).removeprefix(b"\xef\xbb\xbf")))
    return False


def _files(source: Source) -> list[str]:
    return [f for f in source.files() if PurePosixPath(f).name.lower() == "hangouts.json"]


def read(source: Source) -> pd.DataFrame:
    files = _files(source)
    if not files and detect(source):
        files = source.files()
    if not files:
        raise IngestError(source.name, None, "holds no Hangouts/Hangouts.json file",
                          hint="pass the Google Takeout folder or .zip that contains Hangouts/Hangouts.json")
    skipped: Counter = Counter()
    owners: set[str] = set()
    names: dict[str, str] = {}  # gaia_id -> a name seen in any conversation
    threads: list[dict] = []
    for rel in files:
        for n, item in enumerate(_conversations(source, rel)):
            thread = _conversation(item, source.label(rel), n, skipped)
            thread["source"] = rel
            owners |= thread["owners"]
            for gaia, name in thread["names"].items():
                names.setdefault(gaia, name)
            threads.append(thread)

    records, empty, named = [], [], set()
    for t in threads:
        t["rows"].sort(key=lambda r: r["us"])  # stable: ties keep document order
        ids = set(t["participants"]) | {r["sender_id"] for r in t["rows"]}
        is_group = t["type"] == "GROUP" if t["type"] in ("GROUP", "STICKY_ONE_TO_ONE") else len(ids) > 2
        title = t["name"] or ", ".join(
            _name(p, t["names"], names) for p in t["participants"] if p not in owners
        ) or t["id"]
        if not t["events"]:  # a conversation with no event at all: named by its title (its id when two share one)
            entry = f"{t['source']}#{title}" if title not in named else f"{t['source']}#{title} ({t['id']})"
            named.add(title)
            empty.append(entry)
        for seq, r in enumerate(t["rows"]):
            records.append({
                "platform": PLATFORM, "source": t["source"], "thread_id": f"{PLATFORM}:{t['id']}",
                "thread_title": title, "is_group": is_group,
                "sender": _name(r["sender_id"], t["names"], names), "sender_id": r["sender_id"],
                "is_me": r["sender_id"] in owners, "timestamp": r["us"] // 1000,
                "text": r["text"], "kind": r["kind"], "seq": seq,
            })
    return schema.conform(records, skipped=skipped, me=owners, empty_files=empty)


def _name(gaia: str, local: dict[str, str], everywhere: dict[str, str]) -> str:
    return local.get(gaia) or everywhere.get(gaia) or f"Unknown {gaia[-4:]}"


def _ijson():
    try:
        import ijson
    except ImportError:  # a dependency, but plain json still reads the file (all of it at once)
        return None
    return ijson


def _conversations(source: Source, rel: str) -> Iterator[tuple[str, object]]:
    """Each conversation of the file, as (layout, raw item); streamed when ijson is there."""
    ijson = _ijson()
    if ijson is None:
        yield from _loaded(source, rel)
        return
    label = source.label(rel)
    n = 0
    with source.open(rel) as raw:  # nesting first: ijson's prefixes grow with the square of the depth
        check_json_nesting(iter(lambda: raw.read(1 << 20), b""), label)
    with source.open(rel) as raw:
        try:
            events = ijson.parse(_buffered(raw), use_float=True)
            layout = None
            for prefix, event, value in events:
                if prefix != "":
                    continue
                if event not in ("start_map", "map_key", "end_map"):
                    break  # the top level is not an object
                if event == "map_key" and value in _LAYOUTS:
                    layout = value
                    break
            if layout is None or next(events, (None, None, None))[1] != "start_array":
                raise IngestError(label, None, "has no 'conversations' or 'conversation_state' list",
                                  hint="this is not a Hangouts.json file from Google Takeout")
            # the events that follow carry their full prefixes, so items() picks the list's members
            for item in ijson.items(events, f"{layout}.item"):
                yield layout, item
                n += 1
        except ijson.JSONError as exc:
            problem = "ends early" if "premature EOF" in str(exc) else "is not valid JSON"
            raise IngestError(label, f"conversation {n}", problem, hint=_DAMAGED) from None
        except UnicodeDecodeError:
            raise IngestError(label, f"conversation {n}", "is not UTF-8 text", hint=_DAMAGED) from None


def _loaded(source: Source, rel: str) -> Iterator[tuple[str, object]]:
    label = source.label(rel)
    try:
        text = source.read_text(rel)
        with json_nesting(label):
            doc = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
        problem = "ends early" if cut else f"is not valid JSON ({exc.msg})"
        raise IngestError(label, f"line {exc.lineno} column {exc.colno}", problem, hint=_DAMAGED) from None
    layout = next((k for k in doc if k in _LAYOUTS), None) if isinstance(doc, dict) else None
    if layout is None or not isinstance(doc[layout], list):
        raise IngestError(label, None, "has no 'conversations' or 'conversation_state' list",
                          hint="this is not a Hangouts.json file from Google Takeout")
    for item in doc[layout]:
        yield layout, item


def _buffered(raw: IO[bytes]) -> IO[bytes]:
    fh = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    if fh.peek(3)[:3] == b"\xef\xbb\xbf":
        fh.read(3)
    return fh


def _conversation(entry: tuple[str, object], label: str, n: int, skipped: Counter) -> dict:
    """One conversation: its id, type, name, participants, owners and kept rows."""
    layout, item = entry
    if layout == "conversations":
        outer = item.get("conversation") if isinstance(item, dict) else None
        conv_id = _get(outer, "conversation_id", "id")
        meta = _get(outer, "conversation")
        events = item.get("events") if isinstance(item, dict) else None
    else:
        state = item.get("conversation_state") if isinstance(item, dict) else None
        conv_id = _get(item, "conversation_id", "id") or _get(state, "conversation_id", "id")
        meta = _get(state, "conversation")
        events = _get(state, "event")
    if not isinstance(conv_id, str) or not conv_id:
        raise IngestError(label, f"conversation {n}", "has no conversation id",
                          hint="this is not a Hangouts.json file from Google Takeout, or it is damaged")
    if events is None:
        events = []
    if not isinstance(events, list):
        raise IngestError(label, f"conversation {n}", "has an event list that is not a list", hint=_DAMAGED)
    meta = meta if isinstance(meta, dict) else {}

    names: dict[str, str] = {}
    participants: list[str] = []
    data = meta.get("participant_data")
    for p in data if isinstance(data, list) else []:  # a damaged file may hold anything here
        gaia, chat = _get(p, "id", "gaia_id"), _get(p, "id", "chat_id")
        key = gaia or chat
        if not isinstance(key, str):
            continue
        participants.append(key)
        name = p.get("fallback_name")
        if isinstance(name, str) and name.strip():
            for k in (gaia, chat):
                if isinstance(k, str):
                    names.setdefault(k, name.strip())
    owners = set()
    owner = _get(meta, "self_conversation_state", "self_read_state", "participant_id", "gaia_id")
    if isinstance(owner, str):
        owners.add(owner)

    rows, seen_ids = [], set()
    for ev in events:
        if not owners and isinstance(_get(ev, "self_event_state", "user_id", "gaia_id"), str):
            owners.add(ev["self_event_state"]["user_id"]["gaia_id"])
        row = _event(ev, skipped)
        if row is None:
            continue
        if row["event_id"] is not None:
            if row["event_id"] in seen_ids:
                skipped["duplicate"] += 1
                continue
            seen_ids.add(row["event_id"])
        rows.append(row)
    name = meta.get("name")
    return {
        "id": conv_id, "type": meta.get("type"), "name": name.strip() if isinstance(name, str) else "",
        "participants": list(dict.fromkeys(participants)), "names": names, "owners": owners, "rows": rows,
        "events": len(events),
    }


def _get(obj, *keys):
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _event(ev, skipped: Counter) -> dict | None:
    """A kept message (sender_id, us, text, kind, event_id), or None after counting why not."""
    if not isinstance(ev, dict):
        skipped["bad_record"] += 1
        return None
    sender = _get(ev, "sender_id", "gaia_id") or _get(ev, "sender_id", "chat_id")
    ts = ev.get("timestamp")
    if isinstance(ts, str) and ts.isdigit():
        ts = int(ts)
    if not isinstance(sender, str) or not sender or not isinstance(ts, int) or not 0 < ts < 10**17:
        skipped["bad_record"] += 1
        return None
    etype = ev.get("event_type")
    etype = etype if etype is None or isinstance(etype, str) else "?"  # a damaged file may hold anything
    message = ev.get("chat_message")
    if etype not in _MESSAGE_TYPES and not (etype is None and isinstance(message, dict)):
        skipped["system"] += 1  # calls, renames, membership, off-the-record switches, ...
        return None
    content = _get(message, "message_content")
    if content is None:
        content = {}
    segments = content.get("segment") if isinstance(content, dict) else None
    attachments = content.get("attachment") if isinstance(content, dict) else None
    if segments is None:
        segments = []
    if not isinstance(segments, list) or (attachments is not None and not isinstance(attachments, list)):
        skipped["bad_record"] += 1
        return None
    parts, only_links = [], True
    for seg in segments:
        if not isinstance(seg, dict):
            continue
        stype = seg.get("type")
        if stype == "LINE_BREAK":
            parts.append("\n")
            continue
        text = seg.get("text")
        if stype == "LINK" and not (isinstance(text, str) and text):
            text = _get(seg, "link_data", "link_target")
        if isinstance(text, str) and text:
            parts.append(text)
            if stype != "LINK" and text.strip():
                only_links = False
    text = "".join(parts).strip()
    if text:
        kind = "link" if only_links and _ONE_URL.match(text) else "text"
    elif attachments:
        kind = "attachment"
    else:
        skipped["empty"] += 1
        return None
    event_id = ev.get("event_id") if isinstance(ev.get("event_id"), str) else None
    return {"sender_id": sender, "us": ts, "text": text, "kind": kind, "event_id": event_id}
