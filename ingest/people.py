"""Who is who: which senders are "me", and resolving a friend's name typed on the command line.

Who is me, per platform (a person has a different name on each): the ``--me`` names that occur
there; else the owner the export itself names (``frame.attrs["me"]``); else a name that is me on
another platform; else the sender present in the most threads, counting threads on every platform
where the same name (case and accents ignored) appears, less the one-to-one chats titled with that
name (those are titled with the friend's name).
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ingest.errors import UnknownPersonError, WorkspaceError


def norm_name(name: str) -> str:
    """A name for comparing across platforms: accents, case and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", str(name))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


@dataclass
class MeChoice:
    """Who "me" is on one platform, and how that was decided."""

    names: list[str]  # sender names (or sender ids) that are me there
    how: str  # "given" (--me), "export" (the export names its owner), "matched" (my name elsewhere),
    #           "inferred" (most threads), "unknown" (none of my messages seem to be there)
    threads: int = 0  # threads of the platform in which one of ``names`` wrote
    of_threads: int = 0  # threads of the platform

    def describe(self, platform: str) -> str:
        """One line for the user: ``me: Ana Lima (inferred on facebook: in 12 of 14 threads; ...)``."""
        who = ", ".join(self.names) or "(unknown)"
        why = {
            "given": f"as given, on {platform}",
            "export": f"named by the {platform} export",
            "matched": f"on {platform}: the name you have on another platform",
            "inferred": f"inferred on {platform}: in {self.threads} of {self.of_threads} threads; "
                        "set it with --me NAME",
            "unknown": f"on {platform}: none of its {self.of_threads} threads seems to hold your messages; "
                       "set it with --me NAME",
        }[self.how]
        return f"me: {who} ({why})"


# --- who is me ----------------------------------------------------------------------------------

def resolve_me(table: pd.DataFrame, *, given: list[str], hints: dict[str, set[str]] | set[str] = frozenset()
               ) -> dict[str, MeChoice]:
    """Who "me" is on each platform of ``table`` (rule 4 of the module docstring).

    ``given``: names from --me (matched to senders or sender ids, case and accents ignored);
    ``hints``: platform -> owner names or ids the exports state (a plain set applies to all).
    """
    if not isinstance(hints, dict):
        hints = {p: set(hints) for p in table["platform"].unique()}
    people = table[["platform", "thread_id", "sender", "sender_id"]].drop_duplicates()
    people = people.assign(who=people["sender"].map(norm_name))
    wanted = {norm_name(g) for g in given}
    threads_of = people.groupby("platform")["thread_id"].nunique()
    choices: dict[str, MeChoice] = {}

    def choose(p: str, rows: pd.DataFrame, how: str) -> None:
        names = sorted(set(rows["sender"]))
        choices[p] = MeChoice(names=names, how=how, threads=int(rows["thread_id"].nunique()),
                              of_threads=int(threads_of[p]))

    for p, part in people.groupby("platform", sort=True):
        ids = hints.get(p, set())
        by_given = part[part["who"].isin(wanted) | part["sender_id"].map(norm_name).isin(wanted)]
        by_export = part[part["sender"].isin(ids) | part["sender_id"].isin(ids)]
        if len(by_given):
            choose(p, by_given, "given")
        elif len(by_export):
            choose(p, by_export, "export")

    # Threads across platforms in which each name appears (my name is in nearly all of mine), less the
    # one-to-one chats titled with that name (a one-to-one chat is titled with the friend's name).
    reach = people.groupby("who")["thread_id"].nunique()
    titles = table.loc[~table["is_group"], ["thread_id", "thread_title"]].drop_duplicates("thread_id")
    titled = titles["thread_title"].map(norm_name).value_counts()
    reach = reach.sub(titled.reindex(reach.index, fill_value=0))
    while True:
        open_ = [p for p in threads_of.sort_values(ascending=False, kind="stable").index if p not in choices]
        if not open_:
            break
        known = {norm_name(n) for c in choices.values() for n in c.names}
        matched = False
        for p in open_:
            part = people[(people["platform"] == p) & people["who"].isin(known)]
            if len(part):
                choose(p, part, "matched")
                matched = True
        if matched:
            continue
        # infer where the evidence is strongest first: its name may then be matched elsewhere
        best = None
        for p in open_:
            part = people[people["platform"] == p]
            score = part.groupby("who").agg(here=("thread_id", "nunique"))
            score["everywhere"] = reach.reindex(score.index)
            score = score.sort_values(["everywhere", "here"], ascending=False, kind="stable")
            top = (int(score["everywhere"].iloc[0]), int(score["here"].iloc[0]))
            if best is None or top > best[0]:
                best = (top, p, part[part["who"] == score.index[0]])
        if best[0][0] <= 0:  # only friends wrote here (each is the title of their chat)
            for p in open_:
                choices[p] = MeChoice(names=[], how="unknown", of_threads=int(threads_of[p]))
            break
        choose(best[1], best[2], "inferred")
    return choices


def is_me_column(table: pd.DataFrame, choices: dict[str, MeChoice]) -> pd.Series:
    out = np.zeros(len(table), dtype=bool)
    platform = table["platform"].to_numpy(dtype=object)
    for p, choice in choices.items():
        here = platform == p
        out |= here & (table["sender"].isin(choice.names).to_numpy() | table["sender_id"].isin(choice.names).to_numpy())
    return pd.Series(out, index=table.index)


# --- people -------------------------------------------------------------------------------------

ME = "me"


def friends(table: pd.DataFrame) -> pd.Series:
    """Friends' display names with their message counts, most messages first."""
    return table.loc[~table["is_me"], "sender"].value_counts()


def resolve_person(table: pd.DataFrame, name: str, *, option: str = "--as") -> str:
    """``me``, or the one friend ``name`` designates (case-insensitive; a unique prefix is enough).

    ``option`` is the command-line option the name came from, for the error message.
    """
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
        raise UnknownPersonError(f"{option} {name!r} matches {len(prefix)} people: {', '.join(sorted(prefix)[:8])}",
                                 hint="type more of the name")
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5) or names[:5]
    hint = f"closest names: {', '.join(close)}" if close else None
    if option == "--as":
        hint = f"{hint}; or use --as me" if hint else "use --as me"
    raise UnknownPersonError(f"nobody called {name!r} in this workspace", hint=hint)
