"""Who is who: which senders are "me", who each friend is, and resolving a name typed on the command line.

Who is me, per platform (a person has a different name on each), from every signal there is:

1. the ``--me`` names that occur there (each must match someone: a typo is an error with a
   "did you mean", never a silent fallback to a guess);
2. else the owner the export itself names (``frame.attrs["me"]``: a profile file, the legacy HTML
   header);
3. else a name that is me on another platform;
4. else the person present in the most threads, counting threads on every platform where the same
   name appears as a sender or in a participants list, less the one-to-one chats titled with that
   name (those are titled with the friend's name). A tie between the best two stops the ingest with
   one line that names the candidates and asks for ``--me``.

Names are compared with case, accents and the order of their words ignored (:func:`name_key`), so
"Carter Sam", as some Facebook archives write the owner, is "Sam Carter". Once a platform's "me" is
decided, a later ingest keeps it unless ``--me`` says otherwise (:func:`keep_earlier`).
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

def name_key(name: str) -> str:
    """A person's name for telling who is who: :func:`norm_name` with the order of its words ignored,
    so "Carter Sam" (as some Facebook exports write the owner) is "Sam Carter"."""
    return " ".join(sorted(norm_name(name).split()))


class AmbiguousMeError(UnknownPersonError):
    """The evidence cannot tell which of several people is the owner of an export."""


def resolve_me(table: pd.DataFrame, *, given: list[str], hints: dict[str, set[str]] | set[str] = frozenset(),
               participants: dict[str, list[str]] | None = None) -> dict[str, MeChoice]:
    """Who "me" is on each platform of ``table`` (rule 4 of the module docstring).

    ``given``: names from --me (matched to senders or sender ids, case, accents and word order
    ignored; :func:`check_given` tells the user about those that match nobody).
    ``hints``: platform -> owner names or ids the exports state (a plain set applies to all).
    ``participants``: thread_id -> the names its export lists as members (the owner is listed in
    every thread, even those they never wrote in). When the evidence is a tie between the best two
    senders of a platform, :class:`AmbiguousMeError` asks for ``--me``, naming the candidates.
    """
    if not isinstance(hints, dict):
        hints = {p: set(hints) for p in table["platform"].unique()}
    people = table[["platform", "thread_id", "sender", "sender_id"]].drop_duplicates()
    people = people.assign(who=people["sender"].map(name_key), key_id=people["sender_id"].map(name_key))
    wanted = {name_key(g) for g in given}
    threads_of = people.groupby("platform")["thread_id"].nunique()
    choices: dict[str, MeChoice] = {}

    def choose(p: str, rows: pd.DataFrame, how: str) -> None:
        names = sorted(set(rows["sender"]))
        choices[p] = MeChoice(names=names, how=how, threads=int(rows["thread_id"].nunique()),
                              of_threads=int(threads_of[p]))

    for p, part in people.groupby("platform", sort=True):
        ids = hints.get(p, set())
        owner = {name_key(i) for i in ids}
        by_given = part[part["who"].isin(wanted) | part["key_id"].isin(wanted)]
        by_export = part[part["sender"].isin(ids) | part["sender_id"].isin(ids) | part["who"].isin(owner)]
        if len(by_given):
            choose(p, by_given, "given")
        elif len(by_export):
            choose(p, by_export, "export")

    reach = _reach(table, people, participants or {})
    while True:
        open_ = [p for p in threads_of.sort_values(ascending=False, kind="stable").index if p not in choices]
        if not open_:
            break
        known = {name_key(n) for c in choices.values() for n in c.names}
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
            score = part.groupby("who").agg(here=("thread_id", "nunique"), name=("sender", "first"))
            score["everywhere"] = reach.reindex(score.index).fillna(0).astype(int)
            score = score.sort_values(["everywhere", "here"], ascending=False, kind="stable")
            top = (int(score["everywhere"].iloc[0]), int(score["here"].iloc[0]))
            if best is None or top > best[0]:
                best = (top, p, score)
        top, p, score = best
        if top[0] <= 0:  # only friends wrote here (each is the title of their chat)
            for q in open_:
                choices[q] = MeChoice(names=[], how="unknown", of_threads=int(threads_of[q]))
            break
        tied = score[(score["everywhere"] == top[0]) & (score["here"] == top[1])]
        if len(tied) > 1:
            names = ", ".join(repr(n) for n in tied["name"].head(6))
            raise AmbiguousMeError(
                f"cannot tell which of {len(tied)} people is you on {p}: {names} are each in "
                f"{top[1]} of {int(threads_of[p])} threads",
                hint=f"run the ingest again with --me NAME (for example --me {tied['name'].iloc[0]!r})")
        choose(p, people[(people["platform"] == p) & (people["who"] == score.index[0])], "inferred")
    return choices


def check_given(table: pd.DataFrame, given: list[str]) -> list[str]:
    """The ``--me`` names that match nobody in ``table``, one note each; :class:`UnknownPersonError`
    with a "did you mean" when none of them matches anyone (a typo must not fall back to a guess).

    Several names may be given at once, one per platform, before every export is ingested: a name
    for a platform still to come is kept, and the note says so."""
    if not given:
        return []
    senders = table[["sender", "sender_id"]].drop_duplicates()
    known = set(senders["sender"].map(name_key)) | set(senders["sender_id"].map(name_key))
    missing = [g for g in given if name_key(g) not in known]
    if len(missing) < len(given):
        return [f"--me {g!r} matches nobody in these exports yet; kept for the exports still to come"
                for g in missing]
    g = missing[0]
    names = sorted(set(senders["sender"]))
    close = difflib.get_close_matches(g, names, n=4, cutoff=0.7)
    if not close:  # compare without case and accents
        by_norm = {norm_name(n): n for n in names}
        close = [by_norm[n] for n in difflib.get_close_matches(norm_name(g), list(by_norm), n=4, cutoff=0.7)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        "give your name exactly as the export shows it; `talklike people` lists the names"
    raise UnknownPersonError(f"--me {g!r} matches nobody in these exports", hint=hint)


def _reach(table: pd.DataFrame, people: pd.DataFrame, participants: dict[str, list[str]]) -> pd.Series:
    """Threads across platforms in which each name appears, as a sender or a listed member (my name is
    in nearly all of mine), less the one-to-one chats titled with that name (a one-to-one chat is
    titled with the friend's name)."""
    pairs = people[["who", "thread_id"]]
    if participants:
        listed = pd.DataFrame([(name_key(n), t) for t, names in participants.items() for n in names],
                              columns=["who", "thread_id"])
        pairs = pd.concat([pairs, listed[listed["thread_id"].isin(set(people["thread_id"]))]], ignore_index=True)
    reach = pairs.drop_duplicates().groupby("who")["thread_id"].nunique()
    titles = table.loc[~table["is_group"], ["thread_id", "thread_title"]].drop_duplicates("thread_id")
    titled = titles["thread_title"].map(name_key).value_counts()
    return reach.sub(titled.reindex(reach.index, fill_value=0))


def keep_earlier(choices: dict[str, MeChoice], earlier: dict[str, dict], table: pd.DataFrame,
                 given: list[str]) -> list[str]:
    """Keep the "me" an earlier ingest found on each platform, unless this run's ``--me`` decides it.

    A second export must not silently change who "me" is: where this run's evidence points to
    someone else, the earlier answer stays and a note (returned, one line each) says so.
    """
    notes = []
    wanted = {name_key(g) for g in given}
    for p, before in sorted(earlier.items()):
        now = choices.get(p)
        names = list(before.get("names") or [])
        if now is None or not names or before.get("how") == "unknown" or set(now.names) == set(names):
            continue
        if now.how == "given" and {name_key(n) for n in now.names} & wanted:
            notes.append(f"me on {p} is now {', '.join(now.names)} (was {', '.join(names)}), as given with --me")
            continue
        here = table[table["platform"] == p]
        mine = here["sender"].isin(names) | here["sender_id"].isin(names)
        if not mine.any():
            continue
        choices[p] = MeChoice(names=sorted(names), how=str(before.get("how") or "inferred"),
                              threads=int(here.loc[mine, "thread_id"].nunique()),
                              of_threads=int(here["thread_id"].nunique()))
        notes.append(f"me on {p} stays {', '.join(names)}: this ingest alone points to "
                     f"{', '.join(now.names) or 'nobody'}; pass --me NAME to change it")
    return notes


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


def directory(table: pd.DataFrame) -> pd.DataFrame:
    """Who is who (``talklike people``): one row per person, "me" first, then by messages.

    A person is every sender whose name is the same once case, accents and word order are ignored
    (on any platform); all of "me"'s names are one person. Columns: ``name`` (the most used name),
    ``is_me``, ``aliases`` (the other names and ids they appear under), ``platforms``, ``threads``,
    ``messages``.
    """
    cols = ["name", "is_me", "aliases", "platforms", "threads", "messages"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    part = table[["sender", "sender_id", "platform", "thread_id", "is_me"]]
    key = part["sender"].map(name_key).where(~part["is_me"], "\x00me")
    rows = []
    for k, g in part.groupby(key, sort=False):
        counts = g["sender"].value_counts()
        name = str(counts.index[0])
        ids = [str(i) for i in g["sender_id"].unique() if str(i) not in counts.index]
        aliases = [str(n) for n in counts.index[1:]] + ids
        rows.append({"name": name, "is_me": k == "\x00me", "aliases": aliases,
                     "platforms": sorted(g["platform"].unique()), "threads": int(g["thread_id"].nunique()),
                     "messages": len(g)})
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["is_me", "messages", "name"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)
