"""Ingest: exports in, one de-duplicated message table out, with an account of every message.

The Python twin of ``talklike ingest``::

    from ingest.pipeline import ingest
    result = ingest(["facebook-export.zip"], workspace=Workspace("data"), me=["Ana Lima"])
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingest import adapters, schema
from ingest.errors import UnknownPersonError, WorkspaceError
from ingest.source import open_source
from ingest.workspace import Workspace


@dataclass
class SourceReport:
    """The account of one source: read = kept + sum(skipped)."""

    source: str
    platform: str
    read: int = 0
    kept: int = 0
    threads: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        if self.read != self.kept + sum(self.skipped.values()):
            raise AssertionError(f"accounting broken for {self.source}: {self}")  # a bug, not user input


@dataclass
class IngestResult:
    sources: list[SourceReport]
    me: list[str]
    me_inferred: bool
    threads: int
    messages: int
    added: int


def ingest(paths: list[str | Path], *, workspace: Workspace, me: list[str] | tuple[str, ...] = (),
           platform: str = "auto") -> IngestResult:
    """Read every export, merge it into the workspace table, and return the account."""
    frames, reports, hints = [], [], set()
    for path in paths:
        with open_source(path) as source:
            platforms = adapters.detect(source) if platform == "auto" else [platform]
            for name in platforms:
                frame = adapters.get(name).read(source)
                skipped = dict(frame.attrs.get("skipped", {}))
                hints.update(frame.attrs.get("me", []))
                reports.append(SourceReport(source=str(path), platform=name, kept=len(frame),
                                            read=len(frame) + sum(skipped.values()),
                                            threads=frame["thread_id"].nunique(), skipped=skipped))
                frames.append(frame)

    old = workspace.messages() if workspace.has_messages() else schema.empty()
    new = pd.concat([f for f in frames if len(f)] or [schema.empty()], ignore_index=True)
    new = new.astype(schema.COLUMNS)
    # Re-ingesting an export, or overlapping exports, must add nothing twice.
    dup_new = new["message_id"].duplicated() | new["message_id"].isin(old["message_id"])
    if dup_new.any():
        for report, frame_dups in zip(reports, _split_counts(frames, dup_new), strict=True):
            if frame_dups:
                report.kept -= frame_dups
                report.skipped["duplicate"] = report.skipped.get("duplicate", 0) + frame_dups
    table = pd.concat([old, new[~dup_new]], ignore_index=True) if len(old) else new[~dup_new]
    table = table.sort_values(["thread_id", "timestamp", "seq"], kind="stable").reset_index(drop=True)

    meta = workspace.meta()
    given = list(me) or list(meta.get("me") or [])
    me_names, inferred = resolve_me(table, given=given, hints=hints)
    table["is_me"] = table["sender"].isin(me_names) | table["sender_id"].isin(me_names)
    for report in reports:
        report.check()

    workspace.save_messages(table.astype(schema.COLUMNS))
    workspace.save_meta({**meta, "me": me_names})
    stored = workspace.report()
    for report in reports:
        stored["sources"][f"{report.source} [{report.platform}]"] = report.__dict__
    workspace.save_report(stored)
    return IngestResult(sources=reports, me=me_names, me_inferred=inferred, threads=table["thread_id"].nunique(),
                        messages=len(table), added=int((~dup_new).sum()))


def _split_counts(frames: list[pd.DataFrame], mask: pd.Series) -> list[int]:
    out, start = [], 0
    for f in frames:
        out.append(int(mask.iloc[start:start + len(f)].sum()))
        start += len(f)
    return out


def resolve_me(table: pd.DataFrame, *, given: list[str], hints: set[str]) -> tuple[list[str], bool]:
    """Who "me" is: the names given with --me, else what the exports say, else inferred.

    Inference: on each platform, the sender present in the most threads.
    Returns (names, inferred?).
    """
    if given:
        return sorted(set(given)), False
    names = set(hints)
    inferred = False
    for _, part in table.groupby("platform"):
        if part["sender"].isin(names).any() or part["sender_id"].isin(names).any():
            continue
        counts = part.groupby("sender")["thread_id"].nunique().sort_values(ascending=False)
        if len(counts):
            names.add(str(counts.index[0]))
            inferred = True
    return sorted(names), inferred


# --- people -------------------------------------------------------------------------------------

ME = "me"


def friends(table: pd.DataFrame) -> pd.Series:
    """Friends' display names with their message counts, most messages first."""
    return table.loc[~table["is_me"], "sender"].value_counts()


def resolve_person(table: pd.DataFrame, name: str) -> str:
    """``me``, or the one friend ``name`` designates (case-insensitive; a unique prefix is enough)."""
    if name.strip().lower() == ME:
        return ME
    if table.empty:
        raise WorkspaceError("the workspace holds no messages", hint="run `talklike ingest EXPORT` first")
    names = list(friends(table).index)
    wanted = name.strip().casefold()
    exact = [n for n in names if n.casefold() == wanted]
    if exact:
        return exact[0]
    prefix = [n for n in names if n.casefold().startswith(wanted)]
    if len(prefix) == 1:
        return prefix[0]
    if len(prefix) > 1:
        raise UnknownPersonError(f"--as {name!r} matches {len(prefix)} people: {', '.join(sorted(prefix)[:8])}",
                                 hint="type more of the name")
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5) or names[:5]
    raise UnknownPersonError(f"nobody called {name!r} in this workspace",
                             hint=f"closest names: {', '.join(close)}; or use --as me" if close else "use --as me")


def skipped_totals(reports: list[SourceReport]) -> Counter:
    total: Counter = Counter()
    for r in reports:
        total.update(r.skipped)
    return total
