"""``talklike stats``: who you talk with, where, how much, since when, and in which words.

Per friend and platform:

- ``theirs``: the messages the friend wrote;
- ``mine``: my messages addressed to them. A message of mine is addressed to the last other
  person who wrote before it in the same thread (in a one-to-one chat, always the friend; in a
  group, whoever I most plausibly answered: the rule pairs are built with);
- ``my_share``: mine / (mine + theirs);
- ``first`` / ``last``: the span of those messages;
- ``top_words``: the friend's most frequent words, as :func:`ingest.text.tokenize` cuts them,
  without punctuation, links, numbers, common English function words, and, once the workspace
  holds at least four people, words most of them use (this person's corpus' own stopwords, in
  whatever language it is).

``plot_monthly`` draws messages per month (theirs + mine) for the top friends, as PNG, SVG or PDF.

The Python twin of ``talklike stats``::

    from ingest.stats import friend_stats
    table = friend_stats(Workspace("data").messages(), top=10)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.errors import WorkspaceError
from ingest.text import tokenize

STAT_COLUMNS = ["friend", "platform", "threads", "theirs", "mine", "my_share", "first", "last", "top_words"]

# Function words too common to say anything about a friend (English; the corpus rule covers other languages).
_STOPWORDS = """
a about after again all also am an and any are aren't as at be because been before being both but by
can can't could couldn't did didn't do does doesn't doing don't down during each few for from had hadn't
has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his how how's
i i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most my myself no nor not
of off on once only or other our ours ourselves out over own same she she'd she'll she's should so some
such than that that's the their theirs them themselves then there there's these they they'd they'll
they're they've this those through to too under until up very was wasn't we we'd we'll we're we've were
weren't what what's when when's where where's which while who who's whom why why's will with won't would
wouldn't you you'd you'll you're you've your yours yourself yourselves im ive dont cant thats its u ur
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class StatsOptions:
    """What ``friend_stats`` shows."""

    top: int = 10  # friends shown, most messages (theirs + mine) first; 0 for all
    words: int = 8  # top words per friend and platform
    corpus_stop_share: float = 0.5  # a word used by more than this share of people is a stopword ...
    corpus_stop_min_people: int = 4  # ... once the workspace holds at least this many people


def addressed(table: pd.DataFrame) -> pd.DataFrame:
    """The table in thread order with ``to``: for my messages, the friend they answer (else <NA>)."""
    t = table.sort_values(["thread_id", "timestamp", "seq"], kind="stable").reset_index(drop=True)
    other = t["sender"].where(~t["is_me"])
    last_other = other.groupby(t["thread_id"], sort=False).ffill()
    t["to"] = last_other.where(t["is_me"])
    return t


def _words(texts: pd.Series) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        counts.update(w for w in tokenize(text) if w not in STOPWORDS and not w.startswith("http")
                      and any(c.isalpha() for c in w) and len(w) > 1)
    return counts


def friend_stats(table: pd.DataFrame, opts: StatsOptions = StatsOptions()) -> pd.DataFrame:
    """One row per (friend, platform), for the ``opts.top`` friends with most messages; see the module docstring."""
    if table.empty:
        raise WorkspaceError("the workspace holds no messages", hint="run `talklike ingest EXPORT` first")
    t = addressed(table)
    theirs = t[~t["is_me"]].assign(friend=lambda d: d["sender"])
    mine = t[t["is_me"] & t["to"].notna()].assign(friend=lambda d: d["to"])
    both = pd.concat([theirs.assign(is_theirs=True), mine.assign(is_theirs=False)], ignore_index=True)
    if both.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)

    ranking = both["friend"].value_counts(sort=False)
    ranking = ranking.sort_index().sort_values(ascending=False, kind="stable")  # ties: by name
    friends = list(ranking.index[: opts.top] if opts.top else ranking.index)
    both = both[both["friend"].isin(friends)]

    # every person's words once: the friends' top words, and the corpus' own stopwords
    word_counts = {key: _words(part["text"]) for key, part in
                   t[~t["is_me"]].groupby(["sender", "platform"], sort=False)}
    stop: set[str] = set()
    people = t["sender"].nunique()
    if people >= opts.corpus_stop_min_people:
        vocab: dict[str, set[str]] = {}
        for (sender, _), counts in word_counts.items():
            vocab.setdefault(sender, set()).update(counts)
        mine_words = set(_words(t.loc[t["is_me"], "text"]))
        used_by = Counter(w for words in [*vocab.values(), mine_words] for w in words)
        stop = {w for w, n in used_by.items() if n / people > opts.corpus_stop_share}

    rows = []
    for (friend, platform), part in both.groupby(["friend", "platform"], sort=False):
        n_theirs = int(part["is_theirs"].sum())
        n_mine = len(part) - n_theirs
        counts = word_counts.get((friend, platform), Counter())
        top = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if w not in stop]
        rows.append({"friend": friend, "platform": platform, "threads": int(part["thread_id"].nunique()),
                     "theirs": n_theirs, "mine": n_mine, "my_share": n_mine / len(part),
                     "first": part["timestamp"].min(), "last": part["timestamp"].max(),
                     "top_words": " ".join(top[: opts.words])})
    out = pd.DataFrame(rows, columns=STAT_COLUMNS)
    out["rank"] = out["friend"].map({f: i for i, f in enumerate(friends)})
    out = out.sort_values(["rank", "theirs", "platform"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="rank").reset_index(drop=True)


def monthly(table: pd.DataFrame, friends: list[str]) -> pd.DataFrame:
    """Messages per calendar month (theirs + mine to them): one column per friend, months without any as 0."""
    t = addressed(table)
    friend = t["sender"].where(~t["is_me"], t["to"])
    t = t.assign(friend=friend)[friend.isin(friends)]
    if t.empty:
        return pd.DataFrame(columns=friends)
    month = t["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    counts = t.groupby([month, t["friend"]]).size().unstack(fill_value=0)
    full = pd.period_range(counts.index.min(), counts.index.max(), freq="M")
    return counts.reindex(full, fill_value=0).reindex(columns=friends, fill_value=0)


def plot_monthly(table: pd.DataFrame, friends: list[str], path: Path) -> Path:
    """Messages per month for ``friends`` (one line, or bar, each), as the suffix of ``path`` says (.png,
    .svg, .pdf); written readable by the owner only. See :mod:`ingest.plots` for the palette and text."""
    from ingest.plots import drawable, figure_format, integer_ticks, palette, pyplot, save

    figure_format(path)  # a bad suffix fails before any drawing
    plt = pyplot()
    data = monthly(table, friends)
    colours = palette(len(data.columns))
    labels = [f"{drawable(name)} ({int(data[name].sum()):,})" for name in data.columns]
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    if data.empty:
        ax.text(0.5, 0.5, "no messages with these friends", ha="center", va="center", transform=ax.transAxes)
    elif len(data) <= 6:  # a few months: bars side by side read better than lines
        width = 0.8 / len(data.columns)
        pos = np.arange(len(data))
        for i, name in enumerate(data.columns):
            ax.bar(pos + (i - (len(data.columns) - 1) / 2) * width, data[name].to_numpy(), width,
                   label=labels[i], color=colours[i])
        ax.set_xticks(pos, [f"{p:%b %Y}" for p in data.index])
    else:
        import matplotlib.dates as mdates

        x = data.index.to_timestamp()
        for i, name in enumerate(data.columns):
            ax.plot(x, data[name].to_numpy(), label=labels[i], color=colours[i], linewidth=1.6,
                    marker="o" if len(x) <= 24 else None, markersize=3)
        ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, len(x) // 12)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        fig.autofmt_xdate()
    if not data.empty:
        ax.set_ylim(bottom=0)
        integer_ticks(ax.yaxis)  # counts: 0, 1, 2, 3, never 2.5 shown as "2"
        ax.legend(title="friend (messages)", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  fontsize=9, ncols=1 if len(labels) <= 20 else 2)
    ax.set_title("Messages per month with your top friends (theirs + yours)", loc="left")
    ax.set_ylabel("messages per month")
    ax.grid(True, axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return save(fig, path)

def totals(table: pd.DataFrame) -> dict[str, object]:
    """Workspace-wide figures for the summary line."""
    return {"messages": len(table), "mine": int(np.sum(table["is_me"])), "threads": int(table["thread_id"].nunique()),
            "platforms": sorted(table["platform"].unique()), "people": int(table.loc[~table["is_me"], "sender"].nunique())}
