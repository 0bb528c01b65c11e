"""Ingest: exports in, one de-duplicated message table out, with an account of every message.

The Python twin of ``talklike ingest``::

    from ingest.pipeline import ingest
    result = ingest(["facebook-export.zip"], workspace=Workspace("data"), me=["Ana Lima"])

What happens, in order:

1. **Sources.** Each path is a folder, a ``.zip`` (read in place) or one export file. With
   ``platform="auto"`` every adapter that recognises the export reads it (a Facebook archive may
   hold JSON threads, HTML threads and, beside it, end-to-end-encrypted chats). One file is read by
   one adapter only: rows a second adapter produced from a file another adapter already read
   are dropped and counted as ``duplicate``.
2. **No duplicates.** A message already in the workspace, or read twice in this run, is counted
   as ``duplicate`` and not added (``message_id`` is stable across re-exports). A Facebook or
   Instagram thread whose folder (``<slug>_<id>``) has the id of a thread already stored is that
   thread, renamed: it keeps the stored id and takes the newer title, before de-duplication.
3. **One conversation, one thread.** Messenger's exports split a conversation: the "Download
   your information" archive (``facebook``, ``facebook_html``) holds it up to the move to
   end-to-end encryption, the secure-storage export (``messenger_e2ee``) after it. Threads of
   those platforms are joined when they are one-to-one chats with the same person (same title),
   or groups with the same title and at least two senders in common, and the match is
   unambiguous (one thread per platform). The joined thread keeps the id and title of the
   ``facebook`` one (else ``facebook_html``). A message present in both parts (same sender and
   text, same time at the coarser precision of the two: Facebook's HTML gives the minute) is kept
   once and the copy counted as ``duplicate``; the same chat downloaded as JSON and as HTML is
   one thread, each message once.
4. **Who is me**, per platform: see :mod:`ingest.people` (the ``--me`` names; the owner an export
   names; my name on another platform; else the most threads, participants lists included; a tie
   asks for ``--me``; a later ingest keeps the earlier answer).
5. **Accounting.** For every (source, platform): read = kept + skipped by reason. Shown by the
   CLI and stored in the workspace's ``report.json`` (the latest account of each source, and the
   history of runs). Nothing is lost silently: thread files that held no message are listed
   (``empty_files``), an export with no message at all is an error, the files of an export that no
   adapter read are counted (media apart), and a source that cannot be read is reported while the
   others are stored (when none can be read, nothing is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ingest import adapters, schema, times
from ingest.errors import IngestError
from ingest.people import MeChoice, check_given, is_me_column, keep_earlier, norm_name, resolve_me
from ingest.source import open_source, safe_name
from ingest.text import strip_marks
from ingest.workspace import Workspace

# Platforms whose threads are parts of the same Messenger conversations, in order of preference:
# a joined thread keeps the id and title of the first.
MESSENGER_FAMILY = ("facebook", "facebook_html", "messenger_e2ee")


@dataclass
class SourceReport:
    """The account of one source read by one adapter: read = kept + sum(skipped)."""

    source: str  # the path as given
    platform: str
    path: str = ""  # the absolute path: what identifies the export across runs
    read: int = 0  # messages the adapter read
    kept: int = 0  # messages added to the workspace
    threads: int = 0  # threads the adapter found
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> messages not added
    bad_files: list[str] = field(default_factory=list)  # damaged files set aside, one line each (no text)
    empty_files: list[str] = field(default_factory=list)  # thread files that held no message at all

    def check(self) -> None:
        if self.read != self.kept + sum(self.skipped.values()):
            raise AssertionError(f"accounting broken for {self.source}: {self}")  # a bug, not user input

    def skip(self, reason: str, n: int) -> None:
        """Move ``n`` kept messages to ``skipped[reason]``."""
        if n:
            self.kept -= n
            self.skipped[reason] = self.skipped.get(reason, 0) + n


@dataclass
class IngestResult:
    sources: list[SourceReport]
    me: list[str]  # every name that is me, all platforms together
    me_inferred: bool  # some platform's me was inferred rather than given or named by the export
    threads: int
    messages: int
    added: int
    me_by_platform: dict[str, MeChoice] = field(default_factory=dict)
    merged_threads: int = 0  # threads joined across Messenger exports in this run
    not_read: dict[str, list[str]] = field(default_factory=dict)  # source -> its files no adapter read
    media_not_read: dict[str, int] = field(default_factory=dict)  # source -> photos, videos... not read
    failed: list[IngestError] = field(default_factory=list)  # sources that could not be read (others were)
    notes: list[str] = field(default_factory=list)  # one line each: "me" kept from an earlier ingest, ...


def ingest(paths: list[str | Path], *, workspace: Workspace, me: list[str] | tuple[str, ...] = (),
           platform: str = "auto", tz: str | None = None,
           progress: Callable[[str], None] | None = None) -> IngestResult:
    """Read every export, merge it into the workspace table, and return the account.

    ``me``: the owner's names (one per platform is fine); when empty, the names given to an
    earlier ingest into this workspace, else inferred. ``tz``: the zone of the wall-clock times that
    WhatsApp, Facebook HTML and older Telegram exports write (an IANA name; None: this machine's
    zone); they are stored as true UTC. ``progress`` is told what is being read.
    """
    meta = workspace.meta()  # refuses a workspace of another schema before any work
    if platform != "auto":
        adapters.get(platform)  # an unknown platform fails before any export is opened
    zone = times.zone(tz)  # and an unknown zone
    frames, reports, hints, participants = [], [], {}, {}
    not_read, media, failed = {}, {}, []
    for path in paths:
        try:
            found = _read_source(path, platform, zone, progress)
        except IngestError as exc:
            if len(paths) == 1:
                raise
            failed.append(exc)  # the other sources are still stored; the command reports this one
            continue
        participants.update(found.participants)
        for frame, report in found.reads:
            hints.setdefault(report.platform, set()).update(frame.attrs.get("me", []))
            frames.append(frame.assign(_report=np.int32(len(reports))))
            reports.append(report)
        if found.not_read:
            not_read[safe_name(str(path))] = found.not_read
        if found.media:
            media[safe_name(str(path))] = found.media
    if failed and not reports:
        first = failed[0]
        raise IngestError(first.file, first.place, first.problem,
                          hint=f"{first.hint + '; ' if first.hint else ''}none of the {len(failed)} sources "
                          "could be read: nothing was stored") from None

    if progress:
        progress("merging into the workspace")
    # one writer at a time (ingest.lock): exports are read above in parallel with other commands, the
    # merge into the table and its commit below by one ingest after the other
    with workspace.writing("ingest"):
        meta = workspace.meta()  # again: another ingest may have committed while this one read
        old = workspace.messages() if workspace.has_messages() else schema.empty()
        new = pd.concat([f for f in frames if len(f)] or [schema.empty().assign(_report=np.int32(0))],
                        ignore_index=True)
        del frames
        old, new, renamed = _stable_thread_ids(old, new)
        # Re-ingesting an export, or overlapping exports, must add nothing twice.
        dup = new["message_id"].duplicated()
        if renamed:  # one thread in two exports of this run, under two names: its messages once
            dup |= _repeated_across_reports(new, renamed)
        if len(old):
            dup |= new["message_id"].isin(old["message_id"])
            dup |= _stored_before(old, new)
        if dup.any():  # (a filter copies every column, a million texts included: only when needed)
            _account(reports, new.loc[dup, "_report"], "duplicate")
            new = new[~dup]
        table = pd.concat([old.assign(_report=np.int32(-1)), new], ignore_index=True) if len(old) else new
        del old, new
        table, merged = _join_messenger_threads(table)
        same = _cross_platform_copies(table)
        if same.any():
            _account(reports, table.loc[same, "_report"], "duplicate")
            table = table[~same]
        added = int((table["_report"] >= 0).sum())
        table = _in_order(table.drop(columns="_report"))

        given = list(me) or list(meta.get("me_given") or [])
        stored_hints = {p: set(v) for p, v in (meta.get("me_hints") or {}).items()}
        for p, v in hints.items():
            stored_hints.setdefault(p, set()).update(v)
        notes = check_given(table, list(me))
        choices = resolve_me(table, given=given, hints=stored_hints, participants=participants)
        notes += keep_earlier(choices, meta.get("me_by_platform") or {}, table, list(me))
        table["is_me"] = is_me_column(table, choices)
        for report in reports:
            report.check()

        if progress:
            progress("saving")
        me_names = sorted({n for c in choices.values() for n in c.names})
        # the table, workspace.json and report.json change together: no kill leaves one without the others
        workspace.commit(table.astype(schema.COLUMNS),
                         meta={**meta, "me": me_names, "me_given": sorted(set(given)),
                               "me_hints": {p: sorted(v) for p, v in sorted(stored_hints.items())},
                               "me_by_platform": {p: asdict(c) for p, c in sorted(choices.items())}},
                         report=_new_report(workspace, reports, added=added, messages=len(table), not_read=not_read,
                                            failed=failed))
        return IngestResult(sources=reports, me=me_names, me_inferred=any(c.how == "inferred" for c in choices.values()),
                            threads=int(table["thread_id"].nunique()), messages=len(table), added=added,
                            me_by_platform=choices, merged_threads=merged, not_read=not_read,
                            media_not_read=media, failed=failed, notes=notes)


# Members of an export that are not chat text: counted apart from the files no adapter read.
MEDIA_SUFFIXES = frozenset((
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff", ".svg", ".ico",
    ".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".3gp", ".mp3", ".m4a", ".aac", ".opus", ".ogg", ".oga",
    ".wav", ".amr", ".flac", ".pdf", ".vcf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".zip",
    ".tgs", ".css", ".js", ".woff", ".woff2", ".ttf",
))


@dataclass
class _SourceRead:
    reads: list[tuple[pd.DataFrame, SourceReport]]  # one per adapter that read the export
    participants: dict[str, list[str]]  # thread_id -> the members the export lists
    not_read: list[str]  # members no adapter read (media apart)
    media: int  # photos, videos, documents... among the members not read


def _read_source(path: str | Path, platform: str, zone, progress) -> _SourceRead:
    """Read one export with every adapter that recognises it (or the one named), and account for it.

    Raises :class:`IngestError` when it cannot be read, and when it holds no message at all.
    """
    reads, participants = [], {}
    with open_source(path, tz=zone) as source:
        names = adapters.detect(source) if platform == "auto" else [platform]
        source.forget_reads()  # detection peeks at files; count what the adapters read
        claimed: set[str] = set()  # files of this export already read by an adapter
        for name in names:
            if progress:
                progress(f"reading {safe_name(str(path))} ({name})")
            frame, bad = adapters.read(source, name)  # damaged files are set aside and reported
            # (pandas deep-copies attrs at every step: the participants lists travel beside the frame)
            participants.update(frame.attrs.pop("participants", None) or {})
            report = SourceReport(source=safe_name(str(path)), platform=name,
                                  path=safe_name(str(Path(path).expanduser().resolve())),
                                  kept=len(frame), skipped=dict(frame.attrs.get("skipped", {})),
                                  threads=int(frame["thread_id"].nunique()),
                                  bad_files=[e.one_line() for e in bad],
                                  empty_files=list(frame.attrs.get("empty_files", [])))
            report.read = report.kept + sum(report.skipped.values())
            files = set(frame["source"].unique())
            again = frame["source"].isin(claimed & files)
            if again.any():  # one export is never read twice
                report.skip("duplicate", int(again.sum()))
                frame = frame[~again]  # (pandas carries attrs through a filter)
            claimed |= files
            reads.append((frame, report))
        unread = [f for f in source.unread() if f not in source.skipped]
    if not any(r.read for _, r in reads):
        empty = [f for _, r in reads for f in r.empty_files]
        what = f"its {len(empty)} chat files are empty" if empty else "no chat messages were found in it"
        raise IngestError(safe_name(str(path)), None, f"holds no messages: {what}",
                          hint="check that the export includes your messages (for Facebook and Instagram, "
                          "the Messages section), or download it again")
    media = [f for f in unread if PurePosixPath(f).suffix.lower() in MEDIA_SUFFIXES]
    return _SourceRead(reads=reads, participants=participants, not_read=[f for f in unread if f not in set(media)],
                       media=len(media))


def _content_keys(frame: pd.DataFrame) -> np.ndarray:
    """A hash of what a message is (platform, thread, sender, time, text without bidi marks), with the
    number of earlier messages of the same key, so that repeats match one for one."""
    text = frame["text"].astype(object)
    marked = frame["platform"].eq("whatsapp").to_numpy() & ~frame["text"].str.isascii().fillna(True).to_numpy()
    if marked.any():  # (WhatsApp texts were stored with their bidi marks before they were stripped)
        text = text.copy()
        text[marked] = [strip_marks(x) for x in text[marked]]
    key = pd.util.hash_pandas_object(
        pd.DataFrame({"p": frame["platform"].astype(object), "t": frame["thread_id"].astype(object),
                      "s": frame["sender_id"].astype(object), "ts": frame["timestamp"].array.asi8, "x": text}),
        index=False)
    nth = key.groupby(key.to_numpy(), sort=False).cumcount().to_numpy().astype(np.uint64)
    return key.to_numpy() ^ (nth * np.uint64(0x9E3779B97F4A7C15))  # (nth 0: the key itself)


def _stored_before(old: pd.DataFrame, new: pd.DataFrame) -> pd.Series:
    """New rows already in the workspace under another id: ids computed by an older version (the
    time's resolution under pandas 3, a WhatsApp text's bidi marks) must not add a message twice."""
    if new.empty:
        return pd.Series(False, index=new.index)
    return pd.Series(np.isin(_content_keys(new), _content_keys(old)), index=new.index)


def _in_order(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` sorted by thread, time and rank in the thread (stable); not copied when it already is,
    as one export read alone usually is."""
    threads = pd.factorize(table["thread_id"], sort=True)[0]
    order = np.lexsort((table["seq"].to_numpy(), table["timestamp"].array.asi8, threads))
    if (order == np.arange(len(order))).all():
        return table.reset_index(drop=True)
    return table.take(order).reset_index(drop=True)


def _account(reports: list[SourceReport], report_of_row: pd.Series, reason: str) -> None:
    """Count the rows being dropped against the sources that brought them (old rows carry -1)."""
    for i, n in report_of_row[report_of_row >= 0].value_counts().items():
        reports[int(i)].skip(reason, int(n))


def _new_report(workspace: Workspace, reports: list[SourceReport], *, added: int, messages: int,
                not_read: dict[str, list[str]], failed: list[IngestError]) -> dict:
    """report.json: the latest account of every source ever ingested, and the history of runs."""
    stored = workspace.report()
    stored.setdefault("sources", {})
    stored.setdefault("runs", [])
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for r in reports:
        stored["sources"][f"{r.path} [{r.platform}]"] = {**asdict(r), "at": at}
    stored["runs"].append({"at": at, "added": added, "messages": messages,
                           "sources": [asdict(r) for r in reports], "not_read": not_read,
                           "failed": [e.one_line() for e in failed]})
    return stored


# --- one thread, one id across exports -----------------------------------------------------------

# Platforms whose thread folders are named ``<title slug>_<thread id>``: the id part survives a
# renamed group, the slug does not.
FOLDER_ID_PLATFORMS = frozenset(("facebook", "facebook_html", "instagram"))
_FOLDER_ID = re.compile(r"^([a-z_]+):[^/:]*?_([A-Za-z0-9-]{5,})$")


def _folder_key(thread_id: str) -> tuple[str, str] | None:
    """(platform, the stable id part of the thread's folder), for thread ids that carry one."""
    m = _FOLDER_ID.match(thread_id)
    return (m[1], m[2]) if m and m[1] in FOLDER_ID_PLATFORMS else None


def _stable_thread_ids(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """(old, new, ids of threads split in this run): a thread renamed between two exports (a Facebook
    group's folder ``oldname_123`` became ``newname_123``) is one thread. New threads take the id of
    the workspace's thread with the same folder id (else, within this run, of one of them), and
    every part of the thread gets the title of the part with the latest message, so that
    de-duplication sees the messages already stored. Works on distinct thread ids, not rows."""
    new_ids = [t for t in pd.unique(new["thread_id"].astype(object)) if isinstance(t, str)]
    keyed_new: dict[tuple[str, str], list[str]] = {}
    for t in new_ids:
        if (key := _folder_key(t)) is not None:
            keyed_new.setdefault(key, []).append(t)
    if not keyed_new:
        return old, new, set()
    keyed_old: dict[tuple[str, str], list[str]] = {}
    if len(old):
        for t in pd.unique(old["thread_id"].astype(object)):
            if isinstance(t, str) and (key := _folder_key(t)) in keyed_new:
                keyed_old.setdefault(key, []).append(t)
    groups = {k: (keyed_old.get(k, []), ts) for k, ts in keyed_new.items() if len(ts) + len(keyed_old.get(k, [])) > 1}
    if not groups:
        return old, new, set()
    last_new = new.groupby("thread_id", observed=True, sort=False).agg(
        last=("timestamp", "max"), title=("thread_title", "last"))
    last_old = old.groupby("thread_id", observed=True, sort=False).agg(
        last=("timestamp", "max"), title=("thread_title", "last")) if keyed_old else last_new.iloc[:0]
    mapping: dict[str, str] = {}
    titles: dict[str, str] = {}
    split: set[str] = set()
    for olds, news in groups.values():
        parts = [(last_old.loc[t, "last"], t, last_old.loc[t, "title"]) for t in olds]
        parts += [(last_new.loc[t, "last"], t, last_new.loc[t, "title"]) for t in news]
        newest = max(parts, key=lambda p: (p[0], p[1] in news))
        keep = max(olds, key=lambda t: last_old.loc[t, "last"]) if olds else sorted(news)[0]
        if not olds:
            split.add(keep)
        for t in news:
            if t != keep:
                mapping[t] = keep
        titles[keep] = newest[2]
    if mapping:
        moved = new["thread_id"].isin(list(mapping))
        new = new.copy()
        new.loc[moved, "thread_id"] = new.loc[moved, "thread_id"].astype(object).map(mapping)
    retitle = new["thread_id"].isin(list(titles))
    if retitle.any():
        new.loc[retitle, "thread_title"] = new.loc[retitle, "thread_id"].astype(object).map(titles)
    if len(old):
        retitle = old["thread_id"].isin(list(titles))
        if retitle.any():
            old = old.copy()
            old.loc[retitle, "thread_title"] = old.loc[retitle, "thread_id"].astype(object).map(titles)
    return old, new, split


def _repeated_across_reports(new: pd.DataFrame, threads: set[str]) -> pd.Series:
    """Rows of ``threads`` (each read from several exports of this run under several names) whose message
    an earlier export of the run already brought: same sender, time and text, matched one for one."""
    out = pd.Series(False, index=new.index)
    part = new[new["thread_id"].isin(list(threads))]
    seen: set[int] = set()
    for _, rows in part.groupby("_report", sort=True):
        keys = _content_keys(rows)
        out.loc[rows.index] = np.isin(keys, np.fromiter(seen, dtype=np.uint64, count=len(seen)))
        seen.update(keys.tolist())
    return out


# --- one conversation, one thread ---------------------------------------------------------------

def _join_messenger_threads(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Give the parts of one Messenger conversation (DYI, DYI HTML, E2EE) one thread id (rule 3)."""
    codes, tids = pd.factorize(table["thread_id"])  # split each distinct id once, not each row's
    home = pd.Series(np.asarray([t.split(":", 1)[0] for t in tids], dtype=object)[codes], index=table.index)
    family = home.isin(MESSENGER_FAMILY)
    if home[family].nunique() < 2:
        return table, 0
    part = table.loc[family, ["thread_id", "thread_title", "is_group", "sender"]].assign(home=home[family])
    info = part.groupby("thread_id", sort=True).agg(
        title=("thread_title", "first"), group=("is_group", "any"), home=("home", "first"),
        senders=("sender", lambda s: frozenset(norm_name(x) for x in s.unique())))
    info["key"] = [("g" if g else "1", norm_name(t)) for t, g in zip(info["title"], info["group"], strict=True)]
    rank = {p: i for i, p in enumerate(MESSENGER_FAMILY)}
    mapping: dict[str, str] = {}
    for _, threads in info.groupby("key", sort=False):
        if threads["home"].nunique() < 2 or threads["home"].duplicated().any():
            continue  # one platform only, or ambiguous (two people with one name)
        threads = threads.sort_values("home", key=lambda h: h.map(rank))
        keep = threads.index[0]
        if threads["group"].iloc[0]:
            common = threads["senders"].iloc[0]
            threads = threads[[len(common & s) >= 2 for s in threads["senders"]]]
        for tid in threads.index[1:]:
            mapping[tid] = keep
    if not mapping:
        return table, 0
    moved = table["thread_id"].isin(mapping.keys())
    target = table.loc[moved, "thread_id"].map(mapping)
    canon = table.groupby("thread_id", sort=False).agg(title=("thread_title", "first"), group=("is_group", "any"))
    table = table.copy()
    table.loc[moved, "thread_id"] = target
    table.loc[moved, "thread_title"] = target.map(canon["title"])
    joined = table["thread_id"].isin(set(mapping.values()))
    groups = table.loc[joined].groupby("thread_id")["is_group"].transform("any")
    table.loc[joined, "is_group"] = groups
    return table, len(mapping)


def _cross_platform_copies(table: pd.DataFrame) -> pd.Series:
    """New rows that repeat, in a joined thread, a message of another platform: same sender and text,
    and the same time at the coarser precision of the two (Facebook's HTML pages before 2024 give the
    minute, its JSON the millisecond; a JSON message at 14:37:52 is the HTML one at 14:37).

    Identical messages sent in the same minute are matched one for one, in order (two "ok" in the
    JSON and two in the HTML are two messages, not four). Rows already in the workspace are never
    dropped; among new ones the family order decides.
    """
    out = pd.Series(False, index=table.index)
    mixed = table.groupby("thread_id")["platform"].transform("nunique") > 1
    if not mixed.any():
        return out
    part = table.loc[mixed, ["thread_id", "platform", "sender", "timestamp", "text", "_report"]].copy()
    part["who"] = part["sender"].map(norm_name)
    ts = part["timestamp"]
    on_minute = (ts == ts.dt.floor("min")).groupby([part["thread_id"], part["platform"]]).transform("all")
    coarse = on_minute.groupby(part["thread_id"]).transform("any")  # one of the parts is to the minute
    part["when"] = ts.dt.floor("s").where(~coarse, ts.dt.floor("min"))
    rank = {p: i for i, p in enumerate(MESSENGER_FAMILY)}
    part["order"] = (part["_report"] >= 0).astype(int) * 100 + part["platform"].map(rank).fillna(99).astype(int)
    part = part.sort_values(["order", "timestamp"], kind="stable")
    key = ["thread_id", "who", "when", "text"]
    part["nth"] = part.groupby([*key, "platform"], sort=False).cumcount()
    first = part.groupby([*key, "nth"], sort=False)["platform"].transform("first")
    copy = (part["platform"] != first) & (part["_report"] >= 0)
    out.loc[copy[copy].index] = True
    return out


def skipped_totals(reports: list[SourceReport]) -> Counter:
    total: Counter = Counter()
    for r in reports:
        total.update(r.skipped)
    return total
