"""Slack workspace export (the ``.zip`` an admin downloads, or slackdump's export format).

Where it comes from: Workspace settings > Import/Export data > Export. A standard
export holds public channels only; "all channels and conversations" exports (and
slackdump) add private channels, DMs and group DMs. The archive::

    users.json (org_users.json on Enterprise Grid)   people: id -> names
    channels.json   groups.json   mpims.json          conversations named by ``name``
    dms.json                                          DMs, folders named by the DM ``id``
    <folder>/YYYY-MM-DD.json                          one array of messages per day

A raw record::

    {"type": "message", "user": "U0BMQB6JE", "ts": "1452837352.000006",
     "text": "<@U0BMYT2FL>: see <https://example.org/a|the docs> &amp; reply"}

Quirks handled here:
- ``ts`` (a string of epoch seconds with a microsecond fraction) is the only clock and the
  sort key; day files are bucketed in the exporter's local timezone, so their names are
  never used for time;
- markup is rendered: ``<@U123>``/``<@U123|name>`` -> ``@Name`` (users.json, then the
  message's inline ``user_profile``, then the label), ``<#C123|general>`` -> ``#general``,
  ``<https://x|label>`` -> ``label (https://x)``, ``<!here>`` -> ``@here``, then
  ``&amp;``/``&lt;``/``&gt;`` are unescaped;
- a sender's name is users.json's ``display_name``, then ``real_name``, then ``name``;
  ids missing from users.json (shared or deleted users) fall back to ``user_profile``;
- thread replies (``thread_ts != ts``, ``thread_broadcast`` included) point at their
  parent's ``message_id`` when the parent was kept;
- bots (``bot_id``, ``bot_message``, no ``user``, Slackbot, ``is_bot`` users), notices
  (``channel_join``, ``channel_topic``, ``bot_add``, ``file_comment``, any other subtype)
  and deleted parents (``tombstone``) are counted as skipped;
- ``file_share`` and messages carrying ``files``/``file`` are attachments; the old
  "<@U> uploaded a file: <url|name>" notice is dropped from their text, its comment kept;
- a conversation folder whose day files all hold an empty list is reported in ``empty_files``
  (as ``<folder>/``);
- the export does not say whose it is, so ``is_me`` stays False and no ``me`` hint is given.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from operator import itemgetter
from posixpath import basename, dirname

import numpy as np
import pandas as pd

from ingest import columns, schema
from ingest.errors import IngestError
from ingest.source import Source, json_nesting

PLATFORM = "slack"

_INDEXES = ("channels.json", "groups.json", "mpims.json", "dms.json")
_USERS = ("users.json", "org_users.json")
_DAY = re.compile(r"^(?P<folder>[^/]+)/\d{4}-\d{2}-\d{2}\.json$")
_TS = re.compile(r"^\s*(\d{1,12})(?:\.(\d{1,9}))?\s*$")

# Subtypes that are a person's message; every other subtype is a notice.
_MESSAGE_SUBTYPES = {None, "", "thread_broadcast", "reply_broadcast", "me_message", "file_share"}
_BOT_SUBTYPES = {"bot_message", "slackbot_response"}
_UNSENT_SUBTYPES = {"tombstone", "message_deleted"}
_SLACKBOT = "USLACKBOT"

_MARKUP = re.compile(r"<([^<>\n]*)>")
_FILE_NOTICE = re.compile(
    r"^<@[A-Z0-9]+(?:\|[^>]*)?> (?:uploaded|shared|added) an? (?:file|image|snippet|post)\b[^<]*"
    r"(?:<[^>]*>)?(?: and commented: (?P<comment>.*))?$", re.DOTALL)
_SINGLE_LINK = re.compile(r"^<(https?://[^|>]+)(?:\|[^>]*)?>$")


def _root(source: Source) -> str | None:
    """The folder (``""`` or ``"export/"``) holding the index files, shallowest first."""
    found = [f for f in source.files() if basename(f) in _USERS + _INDEXES]
    if not found:
        return None
    best = min(found, key=lambda f: (f.count("/"), f))
    return dirname(best) + "/" if "/" in best else ""


def _day_files(source: Source, root: str) -> dict[str, list[str]]:
    """folder -> its day files (sorted), relative to the source."""
    days: dict[str, list[str]] = {}
    for rel in source.files():
        if rel.startswith(root):
            m = _DAY.match(rel[len(root):])
            if m:
                days.setdefault(m.group("folder"), []).append(rel)
    return {k: sorted(v) for k, v in sorted(days.items())}


def detect(source: Source) -> bool:
    root = _root(source)
    return root is not None and bool(_day_files(source, root))


def _load_json(source: Source, rel: str):
    text = source.read_text(rel)
    try:
        with json_nesting(source.label(rel)):
            return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(source.label(rel), f"line {exc.lineno} column {exc.colno}",
                          f"is not valid JSON ({exc.msg})",
                          hint="the file is damaged or cut short; download the export again") from None


def _load_list(source: Source, rel: str, what: str) -> list:
    doc = _load_json(source, rel)
    if not isinstance(doc, list):
        raise IngestError(source.label(rel), "top level", f"is not a list of {what}",
                          hint="this is not a file of a Slack export; download the export again")
    return doc


def _display_name(entry: dict) -> str:
    profile = entry.get("profile") if isinstance(entry.get("profile"), dict) else {}
    for value in (profile.get("display_name"), entry.get("display_name"), entry.get("real_name"),
                  profile.get("real_name"), entry.get("name"), profile.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


_MAX_TS_SECONDS = 10**10


def _ts_micros(value) -> int | None:
    """``"1452837318.000002"`` -> 1452837318000002; None when not a Slack timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        micros = round(value * 1_000_000) if 0 < value < _MAX_TS_SECONDS else None
    elif isinstance(value, str) and (m := _TS.match(value)):
        micros = int(m.group(1)) * 1_000_000 + int((m.group(2) or "0").ljust(6, "0")[:6])
    else:
        return None
    # a damaged file may hold any number: keep what a date can be (before the year 2286)
    return micros if micros is not None and 0 < micros < _MAX_TS_SECONDS * 1_000_000 else None


class _Names:
    """Resolves user and channel ids to the names markup and senders show."""

    def __init__(self, users: dict[str, str], channels: dict[str, str]):
        self.users = users
        self.channels = channels

    def user(self, uid: str, label: str = "") -> str:
        return self.users.get(uid) or label or uid

    def render(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            target, _, label = m.group(1).partition("|")
            if target.startswith("@"):
                return "@" + self.user(target[1:], label.lstrip("@"))
            if target.startswith("#"):
                return "#" + (label or self.channels.get(target[1:]) or target[1:])
            if target.startswith("!"):
                command = target[1:]
                if label:
                    return label if label.startswith("@") or command.startswith("date^") else "@" + label
                return "@" + command.split("^", 1)[-1]
            if not label or label == target or label == target.split(":", 1)[-1].lstrip("/"):
                return label or target
            if not target.startswith(("http://", "https://", "ftp://")):
                return label  # mailto:, tel:, slack:// ... read as their label
            return f"{label} ({target})"

        text = _MARKUP.sub(sub, text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def read(source: Source) -> pd.DataFrame:
    root = _root(source)
    if root is None:
        raise IngestError(source.name, None, "holds no users.json or channels.json",
                          hint="pass the Slack export .zip (or its unzipped folder) as downloaded")
    days = _day_files(source, root)
    if not days:
        raise IngestError(source.name, None, "holds no <channel>/YYYY-MM-DD.json day files",
                          hint="pass the whole Slack export .zip (or its unzipped folder), not one file of it")

    users: dict[str, str] = {}
    bots: set[str] = {_SLACKBOT}
    for name in _USERS:
        rel = root + name
        if rel not in source.files():
            continue
        for entry in _load_list(source, rel, "users"):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                users[entry["id"]] = _display_name(entry) or entry["id"]
                if entry.get("is_bot"):
                    bots.add(entry["id"])
    users.setdefault(_SLACKBOT, "Slackbot")

    # folder -> conversation: {id, title, kind, members}
    convs: dict[str, dict] = {}
    by_id: dict[str, dict] = {}
    dm_members: list[tuple[str, ...]] = []
    for index in _INDEXES:
        rel = root + index
        if rel not in source.files():
            continue
        kind = index.removesuffix("s.json")
        for entry in _load_list(source, rel, "conversations"):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            members = [m for m in entry.get("members") or [] if isinstance(m, str)] \
                if isinstance(entry.get("members"), list) else []
            if kind == "dm" and not members and isinstance(entry.get("user"), str):
                members = [entry["user"]]  # older DM entries name only the other person
                entry = {**entry, "other": entry["user"]}
            conv = {"id": entry["id"], "name": str(entry.get("name") or entry["id"]), "kind": kind,
                    "members": members, "other": entry.get("other")}
            folder = entry["id"] if kind == "dm" else conv["name"]
            convs[folder] = conv
            by_id[entry["id"]] = conv
            if kind == "dm" and len(members) == 2:
                dm_members.append(tuple(members))
    channel_names = {c["id"]: c["name"] for c in by_id.values() if c["kind"] in ("channel", "group")}

    # Each day file is parsed, reduced to the kept messages' raw values and let go: names are
    # rendered once every file is read (a user_profile in a later file may name a mentioned user).
    skipped: Counter = Counter()
    conversations: list[tuple[dict, list[tuple]]] = []
    empty: list[str] = []  # conversation folders whose day files hold no message at all
    with columns.no_gc():  # a million live rows would make every collection walk them all
        for folder, rels in days.items():
            conv = convs.get(folder) or by_id.get(folder) or {
                "id": folder, "name": folder, "kind": "channel", "members": [], "other": None}
            rows: list[tuple] = []
            seen: set[int] = set()
            held = False
            for rel in rels:
                msgs = source.attempt(_load_list, source, rel, "messages")
                if msgs is None:  # damaged: set aside, the others read
                    continue
                held = held or bool(msgs)
                for msg in msgs:
                    uid, profile = (msg.get("user"), msg.get("user_profile")) if isinstance(msg, dict) else (None, None)
                    if isinstance(uid, str) and uid not in users and isinstance(profile, dict):
                        users[uid] = _display_name(profile) or uid
                for msg in msgs:
                    row = _message(msg, bots, skipped)
                    if row is None:
                        continue
                    if row[0] in seen:  # ts is unique in a conversation: the same message twice
                        skipped["duplicate"] += 1
                        continue
                    seen.add(row[0])
                    rows.append((*row, rel))
            rows.sort(key=itemgetter(0))  # by ts; stable: ties keep document order
            if not held:
                empty.append(f"{root}{folder}/")
            conversations.append((conv, rows))
        frame = _table(conversations, _Names(users, channel_names), _dm_owner(dm_members))
    return schema.conform(frame, skipped=skipped, empty_files=empty)


def _table(read: list[tuple[dict, list[tuple]]], names: _Names, owner: str | None) -> pd.DataFrame:
    """The table of every conversation's kept rows (micros, user, raw text, kind, parent ts, file)."""
    cols: dict[str, list] = {k: [] for k in ("source", "thread", "sender", "sender_id", "ms", "text", "kind",
                                             "message_id", "reply_to")}
    thread_ids, titles, groups = [], [], []
    for t, (conv, rows) in enumerate(read):
        thread_id = f"{PLATFORM}:{conv['id']}"
        senders = {r[1] for r in rows}
        thread_ids.append(thread_id)
        titles.append(_title(conv, names, owner))
        groups.append(conv["kind"] != "dm" and (len(set(conv["members"])) > 2 or len(senders) > 2))
        texts = [names.render(r[2]).strip() for r in rows]
        stamps = [r[0] // 1000 for r in rows]
        ids = schema.message_ids(PLATFORM, [thread_id] * len(rows), [r[1] for r in rows], stamps, texts)
        id_of = {r[0]: i for r, i in zip(rows, ids, strict=True)}
        cols["source"].extend(r[5] for r in rows)
        cols["thread"].extend([t] * len(rows))
        cols["sender"].extend(names.user(r[1]) for r in rows)
        cols["sender_id"].extend(r[1] for r in rows)
        cols["ms"].extend(stamps)
        cols["text"].extend(texts)
        cols["kind"].extend(r[3] for r in rows)
        cols["message_id"].extend(ids)
        cols["reply_to"].extend(id_of.get(r[4]) if r[4] is not None and r[4] != r[0] else None for r in rows)
    thread = np.asarray(cols["thread"], dtype=np.int64)
    return pd.DataFrame({
        "platform": columns.strings([PLATFORM], np.zeros(len(thread), dtype=np.int64)),
        "source": columns.strings(cols["source"]),
        "thread_id": columns.strings(thread_ids, thread),
        "thread_title": columns.strings(titles, thread),
        "is_group": np.asarray(groups, dtype=bool)[thread],
        "sender": columns.strings(cols["sender"]),
        "sender_id": columns.strings(cols["sender_id"]),
        "is_me": np.zeros(len(thread), dtype=bool),
        "timestamp": np.asarray(cols["ms"], dtype=np.int64),
        "text": columns.strings(cols["text"]),
        "kind": columns.strings(cols["kind"]),
        "message_id": columns.strings(cols["message_id"]),
        "reply_to": columns.strings(cols["reply_to"]),
        "seq": np.arange(len(thread), dtype=np.int64) - np.searchsorted(thread, thread),  # rank in its thread
    })


def _dm_owner(dm_members: list[tuple[str, ...]]) -> str | None:
    """The one person in every DM (whose export it is, for titles only), when there is one."""
    common = set.intersection(*(set(m) for m in dm_members)) if len(dm_members) >= 2 else set()
    return next(iter(common)) if len(common) == 1 else None


def _title(conv: dict, names: _Names, owner: str | None) -> str:
    if conv["kind"] != "dm":
        return conv["name"]
    if conv.get("other"):
        return names.user(conv["other"])
    members = list(dict.fromkeys(conv["members"]))
    others = [m for m in members if m != owner] or members
    return ", ".join(names.user(m) for m in others) or conv["name"]


def _message(msg, bots: set[str], skipped: Counter) -> tuple | None:
    """(micros, user id, raw text, kind, parent micros) of a kept message, or None after counting
    why it was skipped. The text's markup is rendered later, once every user's name is known."""
    if not isinstance(msg, dict):
        skipped["bad_record"] += 1
        return None
    micros = _ts_micros(msg.get("ts"))
    raw = msg.get("text")
    user = msg.get("user")
    subtype = msg.get("subtype")
    if micros is None or not isinstance(raw, str | None) or not isinstance(user, str | None) \
            or not isinstance(subtype, str | None):
        skipped["bad_record"] += 1
        return None
    if subtype in _UNSENT_SUBTYPES:
        skipped["unsent"] += 1
        return None
    if subtype in _BOT_SUBTYPES:
        skipped["bot"] += 1
        return None
    if subtype not in _MESSAGE_SUBTYPES:
        skipped["system"] += 1
        return None
    if msg.get("bot_id") or not user or user in bots:
        skipped["bot"] += 1
        return None
    raw = (raw or "").strip()
    files = msg.get("files") or msg.get("file")
    if subtype == "file_share" or files:
        notice = _FILE_NOTICE.match(raw)
        if notice:
            raw = (notice.group("comment") or "").strip()
            comment = (msg.get("file") or {}).get("initial_comment") if isinstance(msg.get("file"), dict) else None
            if not raw and isinstance(comment, dict) and isinstance(comment.get("comment"), str):
                raw = comment["comment"].strip()
        kind = "attachment"
    elif not raw:
        skipped["empty"] += 1
        return None
    else:
        kind = "link" if _SINGLE_LINK.match(raw) else "text"
    parent = _ts_micros(msg.get("thread_ts")) if msg.get("thread_ts") is not None else None
    return micros, user, raw, kind, parent
