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
   as ``duplicate`` and not added (``message_id`` is stable across re-exports).
3. **One conversation, one thread.** Messenger's exports split a conversation: the "Download
   your information" archive (``facebook``, ``facebook_html``) holds it up to the move to
   end-to-end encryption, the secure-storage export (``messenger_e2ee``) after it. Threads of
   those platforms are joined when they are one-to-one chats with the same person (same title),
   or groups with the same title and at least two senders in common, and the match is
   unambiguous (one thread per platform). The joined thread keeps the id and title of the
   ``facebook`` one (else ``facebook_html``). A message present in both parts (same sender,
   same second, same text) is kept once and the copy counted as ``duplicate``.
4. **Who is me**, per platform (a person has a different name on each): the ``--me`` names
   that occur there; else the owner the export itself names (``frame.attrs["me"]``); else a name
   that is me on another platform; else the sender present in the most threads, counting threads
   on every platform where the same name (case and accents ignored) appears, less the one-to-one
   chats titled with that name (those are titled with the friend's name).
5. **Accounting.** For every (source, platform): read = kept + skipped by reason. Shown by the
   CLI and stored in the workspace's ``report.json`` (the latest account of each source, and the
   history of runs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ingest import adapters, schema, times
from ingest.people import MeChoice, is_me_column, norm_name, resolve_me
from ingest.source import open_source
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
    frames, reports, hints = [], [], {}
    for path in paths:
        with open_source(path, tz=zone) as source:
            names = adapters.detect(source) if platform == "auto" else [platform]
            claimed: set[str] = set()  # files of this export already read by an adapter
            for name in names:
                if progress:
                    progress(f"reading {path} ({name})")
                frame, bad = adapters.read(source, name)  # damaged files are set aside and reported
                report = SourceReport(source=str(path), platform=name, path=str(Path(path).expanduser().resolve()),
                                      kept=len(frame), skipped=dict(frame.attrs.get("skipped", {})),
                                      threads=int(frame["thread_id"].nunique()),
                                      bad_files=[e.one_line() for e in bad])
                report.read = report.kept + sum(report.skipped.values())
                hints.setdefault(name, set()).update(frame.attrs.get("me", []))
                files = set(frame["source"].unique())
                again = frame["source"].isin(claimed & files)
                if again.any():  # one export is never read twice
                    report.skip("duplicate", int(again.sum()))
                    frame = frame[~again]
                claimed |= files
                frame = frame.assign(_report=np.int32(len(reports)))
                reports.append(report)
                frames.append(frame)

    if progress:
        progress("merging into the workspace")
    old = workspace.messages() if workspace.has_messages() else schema.empty()
    new = pd.concat([f for f in frames if len(f)] or [schema.empty().assign(_report=np.int32(0))],
                    ignore_index=True)
    del frames
    # Re-ingesting an export, or overlapping exports, must add nothing twice.
    dup = new["message_id"].duplicated()
    if len(old):
        dup |= new["message_id"].isin(old["message_id"])
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
    choices = resolve_me(table, given=given, hints=stored_hints)
    table["is_me"] = is_me_column(table, choices)
    for report in reports:
        report.check()

    if progress:
        progress("saving")
    workspace.save_messages(table.astype(schema.COLUMNS))
    me_names = sorted({n for c in choices.values() for n in c.names})
    workspace.save_meta({**meta, "me": me_names, "me_given": sorted(set(given)),
                         "me_hints": {p: sorted(v) for p, v in sorted(stored_hints.items())},
                         "me_by_platform": {p: asdict(c) for p, c in sorted(choices.items())}})
    _store_report(workspace, reports, added=added, messages=len(table))
    return IngestResult(sources=reports, me=me_names, me_inferred=any(c.how == "inferred" for c in choices.values()),
                        threads=int(table["thread_id"].nunique()), messages=len(table), added=added,
                        me_by_platform=choices, merged_threads=merged)


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


def _store_report(workspace: Workspace, reports: list[SourceReport], *, added: int, messages: int) -> None:
    """report.json: the latest account of every source ever ingested, and the history of runs."""
    stored = workspace.report()
    stored.setdefault("sources", {})
    stored.setdefault("runs", [])
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for r in reports:
        stored["sources"][f"{r.path} [{r.platform}]"] = {**asdict(r), "at": at}
    stored["runs"].append({"at": at, "added": added, "messages": messages,
                           "sources": [asdict(r) for r in reports]})
    workspace.save_report(stored)


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
    """New rows that repeat, in a joined thread, a message of another platform (same sender, second, text).

    Rows already in the workspace are never dropped; among new ones the family order decides.
    """
    out = pd.Series(False, index=table.index)
    mixed = table.groupby("thread_id")["platform"].transform("nunique") > 1
    if not mixed.any():
        return out
    part = table.loc[mixed, ["thread_id", "platform", "sender", "timestamp", "text", "_report"]].copy()
    part["who"] = part["sender"].map(norm_name)
    part["second"] = part["timestamp"].dt.floor("s")
    rank = {p: i for i, p in enumerate(MESSENGER_FAMILY)}
    part["order"] = (part["_report"] >= 0).astype(int) * 100 + part["platform"].map(rank).fillna(99).astype(int)
    part = part.sort_values("order", kind="stable")
    first = part.groupby(["thread_id", "who", "second", "text"], sort=False)["platform"].transform("first")
    copy = (part["platform"] != first) & (part["_report"] >= 0)
    out.loc[copy[copy].index] = True
    return out


def skipped_totals(reports: list[SourceReport]) -> Counter:
    total: Counter = Counter()
    for r in reports:
        total.update(r.skipped)
    return total
